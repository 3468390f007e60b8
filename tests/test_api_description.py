"""The served OpenAPI description and the server agree, where a fuzzer
found they did not (tests/test_hostile_api.py keeps fuzzing all of it)."""
from __future__ import annotations

import json

import pytest

from tests.conftest import auth
from tests.sync_helpers import batch, push, recent, scan


@pytest.fixture
def spec(client):
    return client.get("/api/openapi.json").json


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield path, method, operation


def _resolve(spec, response):
    if "$ref" in response:
        return spec["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    return response


def test_every_error_is_described_as_a_problem_document(spec):
    described = 0
    for path, method, operation in _operations(spec):
        for status, response in operation["responses"].items():
            if status != "default" and int(status) < 400:
                continue
            content = _resolve(spec, response).get("content", {})
            assert set(content) <= {"application/problem+json"}, (method, path, status)
            described += bool(content)
    assert described > 100


def test_errors_are_sent_as_problem_documents(client):
    answer = client.get("/api/v1/areas")
    assert answer.status_code == 401 and answer.mimetype == "application/problem+json"


def test_x_pagination_is_described_and_sent_as_json_text(client, spec, world, admin_token):
    header = spec["paths"]["/api/v1/areas"]["get"]["responses"]["200"]["headers"]["X-Pagination"]
    assert "schema" not in header
    assert header["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PaginationMetadata"}
    answer = client.get("/api/v1/areas?page_size=3", headers=auth(admin_token))
    assert json.loads(answer.headers["X-Pagination"]) == {
        "total": 4, "total_pages": 2, "first_page": 1, "last_page": 2, "page": 1,
        "next_page": 2}


def test_a_new_user_is_answered_active(client, world, admin_token):
    answer = client.post("/api/v1/users", headers=auth(admin_token), json={
        "username": "new-user", "display_name": "新用户", "password": "password-1234"})
    assert answer.status_code == 201, answer.json
    assert answer.json["active"] is True


@pytest.mark.parametrize("method, path", [
    ("PATCH", "/api/v1/areas/SZ-NS"), ("PATCH", "/api/v1/people/P-BA-1"),
    ("PATCH", "/api/v1/users/root"), ("POST", "/api/v1/areas"),
    ("POST", "/api/v1/sessions/retroactive"),
])
def test_an_operation_that_needs_a_body_refuses_none_and_another_media_type(
        client, world, admin_token, method, path):
    missing = client.open(path, method=method, headers=auth(admin_token))
    assert missing.status_code == 400, missing.json
    assert missing.json["code"] == "missing_body"
    as_form = client.open(path, method=method, headers=auth(admin_token),
                          data={"name": "x"})
    assert as_form.status_code == 415, as_form.json
    assert as_form.json["code"] == "unsupported_media_type"


def test_a_body_that_only_gives_optional_reasons_may_be_left_out(
        client, world, admin_token, spec, make_device):
    code, _ = make_device()
    for path in ("/api/v1/stations/ST-BA-1/qr/reissue", f"/api/v1/devices/{code}/revoke",
                 "/api/v1/stations/ST-NS-1/retire"):
        answer = client.post(path, headers=auth(admin_token))
        assert answer.status_code == 200, (path, answer.json)
        template = path.replace("ST-BA-1", "{code}").replace("ST-NS-1", "{code}")
        template = template.replace(code, "{code}")
        assert spec["paths"][template]["post"]["requestBody"]["required"] is False


@pytest.mark.parametrize("method, path, body", [
    ("POST", "/api/v1/areas", {"nonsense": True}),
    ("PATCH", "/api/v1/areas/SZ", {"kind": 7}),
    ("GET", "/api/v1/sessions?needs_review=banana&page=0", None),
    ("GET", "/api/v1/reports/service-hours?month=13", None),
    ("POST", "/api/v1/users", None),
])
def test_a_caller_without_a_token_hears_401_whatever_its_input(
        client, world, method, path, body):
    answer = client.open(path, method=method, json=body)
    assert answer.status_code == 401, answer.json
    assert answer.json["code"] == "unauthorized"


def test_device_operations_want_a_device_token_and_say_so(client, spec, world, admin_token):
    for path in ("/api/v1/sync/pull?limit=0", "/api/v1/volunteer/me"):
        answer = client.get(path, headers=auth(admin_token))  # a user's token
        assert answer.status_code == 401, (path, answer.json)
        assert answer.json["code"] == "invalid_token"
    device_only = {(p, m) for p, m, o in _operations(spec) if o.get("security") == [
        {"device": []}]}
    assert device_only == {("/api/v1/sync/push", "post"), ("/api/v1/sync/pull", "get"),
                           ("/api/v1/devices/token/rotate", "post"),
                           ("/api/v1/volunteer/me", "get"),
                           ("/api/v1/volunteer/corrections", "get"),
                           ("/api/v1/volunteer/corrections", "post")}
    public = {(p, m) for p, m, o in _operations(spec) if o.get("security") == []}
    assert public == {("/api/v1/auth/token", "post"), ("/api/v1/signing-keys", "get"),
                      ("/api/v1/devices/enrol", "post"), ("/api/v1/volunteer/enrol", "post")}


@pytest.mark.parametrize("method, path, allowed", [
    ("TRACE", "/api/v1/areas", {"GET", "HEAD", "POST", "OPTIONS"}),
    ("PUT", "/api/v1/signing-keys", {"GET", "HEAD", "OPTIONS"}),
    # Not the device routes' GET and PATCH: no device is coded "enrol".
    ("TRACE", "/api/v1/devices/enrol", {"POST", "OPTIONS"}),
    ("GET", "/api/v1/devices/enrol", {"POST", "OPTIONS"}),
    ("TRACE", "/api/v1/sessions/retroactive", {"POST", "OPTIONS"}),
])
def test_a_method_not_allowed_names_the_ones_that_are(client, admin_token, method, path,
                                                      allowed):
    answer = client.open(path, method=method, headers=auth(admin_token))
    assert answer.status_code == 405
    assert set(answer.headers["Allow"].split(", ")) == allowed


def test_options_names_the_methods_a_path_takes(client):
    answer = client.open("/api/v1/devices/enrol", method="OPTIONS")
    assert answer.status_code == 200
    assert set(answer.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}


def test_an_activity_coded_meetings_is_read_like_any_other(client, world, admin_token):
    created = client.post("/api/v1/activities", headers=auth(admin_token), json={
        "code": "meetings", "title": "组织生活会", "kind": "branch_general_meeting",
        "organisation": "BA-ZB1", "planned_start_at": "2026-11-20T19:00:00+08:00",
        "planned_end_at": "2026-11-20T21:00:00+08:00"})
    assert created.status_code == 201, created.json
    read = client.get("/api/v1/activities/meetings", headers=auth(admin_token))
    assert read.status_code == 200, read.json
    assert read.json["title"] == "组织生活会"
    month = client.get("/api/v1/organisations/BA-ZB1/meetings?month=2026-11",
                       headers=auth(admin_token))
    assert [m["activity"] for m in month.json] == ["meetings"]


def test_a_device_may_not_be_coded_like_the_enrolment_path(client, world, admin_token, spec):
    answer = client.post("/api/v1/devices", headers=auth(admin_token), json={
        "code": "enrol", "name": "tablet", "stations": ["ST-BA-1"]})
    assert answer.status_code == 422, answer.json
    assert "code" in answer.json["errors"]["json"]
    assert spec["components"]["schemas"]["Device"]["properties"]["code"]["not"] == {
        "enum": ["enrol"]}


def test_sent_at_is_described_as_optional_and_is(client, spec, make_device):
    assert "sent_at" not in spec["components"]["schemas"]["Push"].get("required", [])
    _, token = make_device()
    body = batch([scan("P-BA-1", "check_in", recent(1))])
    del body["sent_at"]
    answer = push(client, token, body)
    assert answer.status_code == 200, answer.json
    assert answer.json["clock_offset_s"] == 0


@pytest.mark.parametrize("action, body", [("replay", {}), ("dismiss", {"reason": "x"})])
def test_a_quarantine_entry_number_past_32_bits_is_not_found(client, world, admin_token,
                                                             action, body):
    """PostgreSQL's entry numbers are 32-bit: a larger one was sent to it and
    refused (500), found by the fuzz run on PostgreSQL."""
    answer = client.post(f"/api/v1/quarantine/{2**31}/{action}", headers=auth(admin_token),
                         json=body)
    assert answer.status_code == 404, answer.get_data(as_text=True)
