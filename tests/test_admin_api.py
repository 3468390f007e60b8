"""The administration API: create, read, change; and bad input answered clearly."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from server.extensions import db
from server.org.models import Organisation
from server.people.models import Person
from tests.conftest import auth


def test_token_sign_in_and_revoke(client, world):
    response = client.post("/api/v1/auth/token",
                           json={"username": "root", "password": "root-password-1"})
    assert response.status_code == 201
    token = response.json["token"]
    assert client.get("/api/v1/areas", headers=auth(token)).status_code == 200
    assert client.delete("/api/v1/auth/token", headers=auth(token)).status_code == 204
    denied = client.get("/api/v1/areas", headers=auth(token))
    assert denied.status_code == 401
    assert denied.json["code"] == "invalid_token"


def test_wrong_password_is_refused_and_repeated_failures_lock(client, world):
    for _ in range(5):
        response = client.post("/api/v1/auth/token",
                               json={"username": "root", "password": "wrong"})
        assert response.status_code == 401
        assert response.json["code"] == "invalid_credentials"
    locked = client.post("/api/v1/auth/token",
                         json={"username": "root", "password": "root-password-1"})
    assert locked.status_code == 429
    assert locked.json["code"] == "account_locked"
    assert int(locked.headers["Retry-After"]) > 0


def test_no_token_is_401_problem(client, world):
    response = client.get("/api/v1/people")
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "unauthorized"


def test_create_read_and_move_person_keeps_history(client, world, admin_token):
    created = client.post("/api/v1/people", headers=auth(admin_token), json={
        "code": "P-NEW", "name": "王芳", "kind": "both", "phone": "13812345678",
        "branch": "BA-ZB1", "branch_since": "2026-01-01"})
    assert created.status_code == 201, created.json
    assert created.json["phone_masked"] == "138****5678"
    assert "phone" not in created.json
    moved = client.patch("/api/v1/people/P-NEW", headers=auth(admin_token),
                         json={"branch": "NS-ZB1", "branch_since": "2026-06-01"})
    assert moved.status_code == 200, moved.json
    assert moved.json["branch"] == "NS-ZB1"
    assert moved.json["memberships"] == [
        {"organisation": "BA-ZB1", "started_on": "2026-01-01", "ended_on": "2026-05-31"},
        {"organisation": "NS-ZB1", "started_on": "2026-06-01", "ended_on": None}]


def test_organisation_tree_paths_and_listing(client, world, admin_token):
    response = client.post("/api/v1/organisations", headers=auth(admin_token), json={
        "code": "BA-ZB1-XZ1", "name": "第一党小组", "kind": "group", "parent": "BA-ZB1"})
    assert response.status_code == 201
    assert response.json["path"] == "/BA-DW/BA-ZB1/BA-ZB1-XZ1/"
    assert response.json["area"] == "SZ-BA-XA"
    listing = client.get("/api/v1/organisations?q=XZ", headers=auth(admin_token))
    assert [o["code"] for o in listing.json] == ["BA-ZB1-XZ1"]
    assert "X-Pagination" in listing.headers


@pytest.mark.parametrize("body, code", [
    ({"code": "P-X", "name": "x", "kind": "volunteer", "colour": "red"}, "invalid_input"),
    ({"code": "P-X", "name": "x", "kind": 7}, "invalid_input"),
    ({"code": "bad code!", "name": "x", "kind": "volunteer"}, "invalid_input"),
    ({"code": "P-X", "name": "x", "kind": "volunteer", "branch": "NOPE"}, "unknown_reference"),
    ({"code": "P-BA-1", "name": "x", "kind": "volunteer"}, "duplicate_code"),
])
def test_bad_person_input_is_a_clear_problem_and_writes_nothing(client, world, admin_token,
                                                                body, code):
    before = db.session.scalar(select(func.count()).select_from(Person))
    response = client.post("/api/v1/people", headers=auth(admin_token), json=body)
    assert response.status_code in (409, 422)
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == code
    assert response.json["detail"]
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Person)) == before


def test_malformed_json_is_400(client, world, admin_token):
    response = client.post("/api/v1/areas", headers={**auth(admin_token),
                                                     "Content-Type": "application/json"},
                           data=b"{not json")
    assert response.status_code == 400
    assert response.json["code"] == "malformed_json"


def test_oversize_body_is_413(app, client, world, admin_token):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = client.post("/api/v1/areas", headers=auth(admin_token),
                           json={"code": "X", "name": "x" * 5000, "kind": "city"})
    assert response.status_code == 413
    assert response.json["code"] == "too_large"


def test_failed_request_leaves_nothing_half_written(client, world, admin_token):
    """A station referring to an unknown host fails whole: no station, no audit row."""
    from server.audit.models import AuditEntry
    before = db.session.scalar(select(func.count()).select_from(AuditEntry))
    response = client.post("/api/v1/stations", headers=auth(admin_token), json={
        "code": "ST-NEW", "name": "新站", "kind": "warm_bee", "area": "SZ-NS",
        "host_organisation": "NOPE"})
    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == before


def test_changes_are_audited_with_actor_and_fields(client, world, admin_token):
    from server.audit.models import AuditEntry
    client.patch("/api/v1/organisations/BA-ZB2", headers=auth(admin_token),
                 json={"name": "海城第二支部"})
    entry = db.session.scalar(select(AuditEntry).where(
        AuditEntry.action == "update_organisation"))
    assert entry.object_code == "BA-ZB2"
    assert entry.changes == {"name": ["BA-ZB2", "海城第二支部"]}
    assert entry.actor.startswith("user:")
    assert db.session.scalar(select(Organisation.name).where(
        Organisation.code == "BA-ZB2")) == "海城第二支部"


def test_openapi_and_docs_work_offline(client):
    spec = client.get("/api/openapi.json")
    assert spec.status_code == 200
    paths = spec.json["paths"]
    for path in ("/api/v1/sync/push", "/api/v1/people", "/api/v1/devices/enrol",
                 "/api/v1/imports/{kind}"):
        assert path in paths
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert b"/api/docs/assets/swagger-ui-bundle.js" in page.data
    assert b"//cdn" not in page.data
    asset = client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.data) > 100_000
    asset.close()


@pytest.mark.parametrize("path", ["/q/ST-BA-1?v=1&k=x&s=y", "/api/v1/areas", "/readyz",
                                  "/api/openapi.json"])
def test_security_headers_on_every_kind_of_response(client, world, path):
    response = client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self';" in policy
