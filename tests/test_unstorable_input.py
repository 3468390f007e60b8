"""Text and times no database can store never cost a batch or answer 500.

JSON allows a lone UTF-16 surrogate (``"\\ud800"``), which has no UTF-8
form; PostgreSQL refuses U+0000; an offset can push a time off the calendar
in UTC. A scan holding such text is quarantined (its raw JSON kept, with
``\\u`` escapes), a health report's bad field is not kept, and the admin
API answers 400 ``invalid_text``.
"""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from server.checkins.models import CheckinEvent, QuarantinedEvent
from server.common.lookup import by_code
from server.devices.models import Device
from server.extensions import db
from tests.conftest import auth
from tests.sync_helpers import batch, recent, scan

LONE = "\ud800"


def push_text(client, token: str, body: dict):
    """Push ``body`` as JSON text with ``\\u`` escapes, as a device would send it."""
    return client.post("/api/v1/sync/push", data=json.dumps(body, ensure_ascii=True),
                       headers={**auth(token), "Content-Type": "application/json"})


@pytest.mark.parametrize("spoilt", [
    {"note": LONE},                                        # an extra field nobody reads
    {"person": "P-BA-1" + LONE},
    {"location": {"lat": 22.5, "lng": 113.9, LONE: 1}},    # a key
])
def test_a_scan_with_a_lone_surrogate_is_quarantined_and_its_neighbours_count(
        client, make_device, spoilt):
    _, token = make_device()
    before = scan("P-BA-1", "check_in", recent(3))
    bad = {**scan("P-BA-2", "check_in", recent(2)), **spoilt}
    after = scan("P-BA-1", "check_out", recent(1))
    body = batch([before, bad, after])

    answer = push_text(client, token, body)

    assert answer.status_code == 200, answer.json
    assert [(r["id"], r["status"], r.get("code")) for r in answer.json["results"]] == [
        (before["id"], "accepted", None), (bad["id"], "quarantined", "malformed"),
        (after["id"], "accepted", None)]
    kept = db.session.scalar(select(QuarantinedEvent).where(
        QuarantinedEvent.event_id == bad["id"]))
    assert kept.reason == "malformed" and "surrogate" in kept.message
    assert json.loads(kept.raw) == bad            # the scan as sent, readable
    assert db.session.scalar(select(CheckinEvent.id).where(
        CheckinEvent.event_id == bad["id"])) is None

    again = push_text(client, token, body)
    assert [r["status"] for r in again.json["results"]] == ["duplicate"] * 3


def test_replaying_a_scan_with_a_lone_surrogate_leaves_it_malformed(
        client, make_device, admin_token):
    _, token = make_device()
    bad = {**scan("P-BA-1", "check_in", recent(2)), "note": LONE}
    push_text(client, token, batch([bad]))
    entry = db.session.scalar(select(QuarantinedEvent.id).where(
        QuarantinedEvent.event_id == bad["id"]))

    replayed = client.post(f"/api/v1/quarantine/{entry}/replay", headers=auth(admin_token),
                           json={})

    assert replayed.status_code == 200, replayed.json
    assert (replayed.json["status"], replayed.json["reason"]) == ("waiting", "malformed")


@pytest.mark.parametrize("health", [
    {"app_version": "2.1" + LONE},
    {"app_version": "2.1\u0000"},                             # PostgreSQL refuses U+0000
    {"oldest_queued_at": "0001-01-01T00:00:00+14:00"},         # year 0 in UTC
    {"oldest_queued_at": "9999-12-31T23:59:59-14:00"},         # year 10000 in UTC
])
def test_a_health_report_field_that_cannot_be_stored_is_dropped_and_the_batch_kept(
        client, make_device, health):
    code, token = make_device()
    first = push_text(client, token, batch([], device={
        "app_version": "2.0", "oldest_queued_at": "2026-12-01T08:00:00+08:00"}))
    assert first.status_code == 200, first.json
    event = scan("P-BA-1", "check_in", recent(1))

    answer = push_text(client, token, batch([event], device={"queue_length": 3, **health}))

    assert answer.status_code == 200, answer.json
    assert answer.json["results"][0]["status"] == "accepted"
    db.session.rollback()
    device = by_code(Device, code)
    assert device.app_version == "2.0"
    assert device.oldest_queued_at.isoformat() == "2026-12-01T00:00:00+00:00"
    # Three queued with the batch of one in them: two left (docs/sync-protocol.md).
    assert device.queue_length == 2


@pytest.mark.parametrize("path, method, body", [
    ("/api/v1/areas", "post", {"code": "SZ-X", "name": "区" + LONE, "kind": "street",
                               "parent": "SZ"}),
    ("/api/v1/areas/SZ-NS", "patch", {"name": LONE}),
    ("/api/v1/people", "post", {"code": "P-X", "name": LONE + "人", "kind": "volunteer",
                                "branch": "BA-ZB1", "branch_since": "2026-01-01"}),
    ("/api/v1/people/P-BA-1", "patch", {"name": "人" + LONE}),
    ("/api/v1/organisations/BA-ZB1", "patch", {LONE: "an unknown field"}),
])
def test_admin_text_with_a_lone_surrogate_is_a_clear_400(client, world, admin_token, path,
                                                         method, body):
    answer = client.open(path, method=method.upper(), headers={
        **auth(admin_token), "Content-Type": "application/json"},
        data=json.dumps(body, ensure_ascii=True))
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.json["code"] == "invalid_text"


def test_a_device_enrolling_with_a_lone_surrogate_is_a_clear_400(client, world):
    from server.devices.services import create_device
    _, enrolment = create_device(world, {"code": "DEV-S", "name": "tablet",
                                         "stations": ["ST-BA-1"], "organisations": []})
    db.session.commit()
    answer = client.post("/api/v1/devices/enrol", headers={"Content-Type": "application/json"},
                         data=json.dumps({"token": enrolment, "app_version": LONE}))
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.json["code"] == "invalid_text"
