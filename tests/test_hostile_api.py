"""Hostile input: schemathesis against the served OpenAPI description, and
generated push bodies. No 500, and the server does what its description says."""
from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import auth

pytestmark = pytest.mark.slow


#: What the checks expect of schema-valid input, plus 422: the server refuses
#: with 422 input that fits the description but not the data, which JSON
#: Schema cannot say (a code naming nothing, ``unknown_reference``; an end
#: before its start; a file that is no table; a device with neither
#: stations nor organisations; from/to given beside month).
POSITIVE_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
#: Phases per database. Both fuzz, with generated values: text with U+0000
#: (which PostgreSQL refuses and SQLite stores), integers past 32 bits
#: (PostgreSQL's integer columns). The coverage phase asks, of every
#: parameter, what the description refuses (each wrong type and bound, a
#: missing body or part, every undeclared method: ~2,000 requests, most of
#: the run), the same on both databases: it runs on the faster one.
PHASES = {"sqlite": {"examples", "coverage", "fuzzing", "stateful"},
          "postgresql": {"examples", "fuzzing", "stateful"}}


def test_every_operation_passes_every_check(live, world, admin_token, make_device, backend):
    """schemathesis's engine, as its command line runs it with ``--checks
    all``, over the served description, against gunicorn: a user's token
    for user operations, a device's for device operations, none for public
    ones (its ignored_auth check sends each without and with a bad token).

    A few examples per operation; a failure names the check, the operation
    and the request to reproduce it.
    """
    from schemathesis.config import SchemathesisConfig
    from schemathesis.engine import events, from_schema

    _, device_token = make_device()
    server = live(LOGIN_RATE_LIMIT="100000 per minute", ENROL_RATE_LIMIT="100000 per minute")
    config = SchemathesisConfig.from_dict({
        # One worker: schemathesis's threads race in hypothesis's lazy imports.
        "seed": 20261204,
        "auth": {"openapi": {"bearer": {"bearer": admin_token},
                             "device": {"bearer": device_token}}},
        "generation": {"max-examples": 5 if backend == "postgresql" else 3, "mode": "all"},
        "phases": {**{phase: {"enabled": phase in PHASES[backend]}
                      for phase in ("examples", "fuzzing", "stateful")},
                   "coverage": {"enabled": "coverage" in PHASES[backend],
                                "generation": {"mode": "negative"}}},
        "checks": {"positive_data_acceptance": {"expected-statuses": POSITIVE_STATUSES},
                   # Far beyond any answer's time: a hang, not a budget.
                   "max_response_time": 20.0},
    })
    schema = schemathesis.openapi.from_url(server.url + "/api/openapi.json", config=config)
    assert len(list(schema.get_all_operations())) >= 50
    failures, tried = set(), 0
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            tried += len(event.recorder.interactions)
            for check in (c for checks in event.recorder.checks.values() for c in checks):
                if check.failure_info is not None:
                    failures.add(f"{check.name} on {event.recorder.label}: "
                                 f"{check.failure_info.failure.title}\n"
                                 f"{check.failure_info.code_sample}")
        elif isinstance(event, events.NonFatalError):
            failures.add(f"error on {event.label}: {event.value!r}")
        elif isinstance(event, events.EngineFinished):
            failures.update(f"{f.title}: {f.message}" for f in event.failures)
    assert sorted(failures) == []
    assert tried > (1000 if "coverage" in PHASES[backend] else 150)


#: Any text JSON can carry: lone surrogates ("\\ud800", which no database
#: can store) and U+0000 (which PostgreSQL refuses) included.
texts = st.text(st.characters(exclude_categories=()), max_size=30) | st.sampled_from(
    ["\ud800", "a\udfffb", "\x00", "2.1\x00"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.text(st.characters(exclude_categories=()), max_size=10), inner, max_size=4),
    max_leaves=20)
#: Valid RFC 3339 times from year 1 to 9999, at the extreme offsets too (off
#: the calendar in UTC at the ends).
times = st.builds(lambda d, offset: d.isoformat() + offset, st.datetimes(),
                  st.sampled_from(["+08:00", "Z", "+14:00", "-14:00"])) | st.sampled_from(
    ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
#: Integers around the sizes columns and JSON hold.
edge_integers = st.integers() | st.sampled_from(
    [2**31 - 1, 2**31, 2**53 - 1, 2**53, 2**63, -1])
event_like = st.fixed_dictionaries({}, optional={
    "id": st.one_of(st.uuids().map(str), json_values), "seq": edge_integers | json_values,
    "type": st.sampled_from(["check_in", "check_out", "dance"]) | json_values,
    "person": st.sampled_from(["P-BA-1", "P-NOPE"]) | json_values,
    "station": st.sampled_from(["ST-BA-1", "ST-NS-1"]) | json_values,
    "qr": json_values, "occurred_at": times | json_values, "location": json_values,
    "activity": json_values})
health_like = st.fixed_dictionaries({}, optional={
    "queue_length": edge_integers | json_values, "oldest_queued_at": times | json_values,
    "app_version": json_values})


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=st.fixed_dictionaries({"events": st.lists(event_like | json_values, max_size=6)},
                                  optional={"batch_id": json_values,
                                            "sent_at": times | json_values,
                                            "device": health_like | json_values}))
def test_generated_push_bodies_get_an_answer_per_event(client, make_device_token, body):
    response = client.post("/api/v1/sync/push", data=json.dumps(body),
                           headers={"Authorization": f"Bearer {make_device_token}",
                                    "Content-Type": "application/json"})
    assert response.status_code == 200, response.json
    assert len(response.json["results"]) == len(body["events"])


@pytest.fixture
def make_device_token(make_device):
    return make_device()[1]


@pytest.mark.parametrize("body", [
    b"[" * 100_000 + b"]" * 100_000,                       # deeply nested
    b'{"events": [' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"]}",
    "{\"events\": []}".encode("utf-16"),                      # not UTF-8
    b"\x00\xff\xfe garbage",
])
def test_nested_and_non_utf8_bodies_are_clear_400s(client, make_device_token, body):
    response = client.post("/api/v1/sync/push", data=body,
                           headers={"Authorization": f"Bearer {make_device_token}",
                                    "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"


def test_a_nul_character_is_a_clear_client_error(client, world, admin_token, backend):
    """U+0000, which PostgreSQL refuses in text (SQLite keeps it), is never a
    500: a username is checked as a code on both databases; free text that
    PostgreSQL refuses is the client's 400 there (found by the schemathesis
    run above, with a seed that happened to put it in a username)."""
    signed_in = client.post("/api/v1/auth/token",
                            json={"username": "root\u0000", "password": "root-password-1"})
    assert signed_in.status_code == 422, signed_in.get_json()

    searched = client.get("/api/v1/organisations?q=BA%00", headers=auth(admin_token))
    if backend == "postgresql":
        assert searched.status_code == 400, searched.get_json()
        assert searched.get_json()["code"] == "invalid_text"
    else:
        assert searched.status_code == 200
        assert searched.get_json() == []
