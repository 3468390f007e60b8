"""Station displays on both databases: registered by who manages the station
(or its device), listed and revoked in scope, their keys pulled by devices
(revocation as a deletion), their codes judged by the check-in page and by
what the push will call (``display_keys_for`` + ``judge_display_code``)."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from server.audit.models import AuditEntry
from server.displays.services import display_keys_for
from server.extensions import db
from sync.qr import (INSIDE, OUTSIDE, DisplayKey, QrInvalid, b64url, display_of, display_url,
                     display_window, judge_display_code, sign_display, verify_display_url)
from tests.conftest import auth
from tests.test_permissions import ROLES
from tests.test_pull import pull, pull_all

BASE = "https://stations.example.test"
_names = itertools.count()


def _new_key() -> tuple[Ed25519PrivateKey, str]:
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(serialization.Encoding.Raw,
                                               serialization.PublicFormat.Raw)
    return private, b64url(public)


def _register(client, token, station="ST-BA-1", public_key=None, name=None):
    public_key = public_key or _new_key()[1]
    return client.post("/api/v1/displays", headers=auth(token), json={
        "station": station, "name": name or f"前台屏幕{next(_names)}",
        "public_key": public_key})


@pytest.fixture
def display(client, world, admin_token):
    """Display of ST-BA-1: (its code, its private key)."""
    private, public = _new_key()
    response = _register(client, admin_token, public_key=public)
    assert response.status_code == 201, response.json
    return response.json["code"], private


def _code_now(private, display_code, station="ST-BA-1", at=None) -> str:
    window = display_window(at or datetime.now(timezone.utc))
    return display_url(BASE, station, display_code, window,
                       sign_display(private, station, display_code, window))


def test_registering_keeps_the_public_key_and_who_did_it(client, world, make_user):
    token = make_user("branch_secretary", "BA-ZB1")
    private, public = _new_key()
    response = _register(client, token, public_key=public, name="前台平板")
    assert response.status_code == 201, response.json
    shown = response.json
    assert shown["code"].startswith("D-") and shown["station"] == "ST-BA-1"
    assert (shown["name"], shown["public_key"], shown["status"]) == ("前台平板", public, "active")
    assert shown["registered_by"].startswith("user:u-") and shown["revoked_at"] is None
    [entry] = db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "register_display")).all()
    assert (entry.object_type, entry.object_code) == ("station_display", shown["code"])
    # A screen that lost the answer and asks again gets the same display.
    again = _register(client, token, public_key=public, name="前台平板")
    assert again.status_code == 200 and again.json["code"] == shown["code"]


@pytest.mark.parametrize("body, field", [
    ({"public_key": "A" * 42}, "public_key"),
    ({"public_key": "A" * 43 + "="}, "public_key"),
    ({"public_key": "A" * 42 + "B"}, "public_key"),  # its unused last bits set
    ({"name": "  "}, "name"),
    ({"station": "no such station!"}, "station"),
    ({"extra": 1}, "extra"),
])
def test_a_bad_registration_is_422_naming_the_field(client, world, admin_token, body, field):
    data = {"station": "ST-BA-1", "name": "屏幕", "public_key": _new_key()[1], **body}
    response = client.post("/api/v1/displays", headers=auth(admin_token), json=data)
    assert response.status_code == 422, response.json
    assert response.mimetype == "application/problem+json"
    assert field in response.json["errors"]["json"]


def test_unknown_or_retired_station_and_a_reused_key_are_refused(client, world, admin_token):
    response = _register(client, admin_token, station="ST-NOPE")
    assert (response.status_code, response.json["code"]) == (422, "unknown_reference")
    _, public = _new_key()
    assert _register(client, admin_token, public_key=public).status_code == 201
    response = _register(client, admin_token, station="ST-NS-1", public_key=public)
    assert (response.status_code, response.json["code"]) == (409, "duplicate_key")
    client.post("/api/v1/stations/ST-NS-1/retire", headers=auth(admin_token), json={})
    response = _register(client, admin_token, station="ST-NS-1")
    assert (response.status_code, response.json["code"]) == (409, "station_retired")


# Each role's answer at its own station (ST-BA-1) and at one outside every
# subtree (ST-NS-1): register, list, read, revoke.
@pytest.mark.parametrize("role, inside, outside", [
    ("admin", (201, 1, 200, 200), (201, 1, 200, 200)),
    ("area_admin", (201, 1, 200, 200), (403, 0, 404, 404)),
    ("secretary", (201, 1, 200, 200), (403, 0, 404, 404)),
    ("station_manager", (201, 1, 200, 200), (403, 0, 404, 404)),
])
def test_who_may_register_list_read_and_revoke(client, world, admin_token, make_user, role,
                                               inside, outside):
    token = make_user(*ROLES[role])
    for station, expected in (("ST-BA-1", inside), ("ST-NS-1", outside)):
        registered = _register(client, token, station=station)
        existing = _register(client, admin_token, station=station).json["code"]
        listed = client.get("/api/v1/displays", query_string={"station": station},
                            headers=auth(token))
        assert listed.status_code == 200
        read = client.get(f"/api/v1/displays/{existing}", headers=auth(token))
        revoked = client.post(f"/api/v1/displays/{existing}/revoke", headers=auth(token),
                              json={"reason": "换屏"})
        answers = (registered.status_code, len([d for d in listed.json
                                                if d["code"] == existing]),
                   read.status_code, revoked.status_code)
        assert answers == expected, (role, station)
        for response in (registered, read, revoked):
            if response.status_code >= 400:
                assert response.mimetype == "application/problem+json"


def test_a_secretary_of_another_branch_neither_sees_nor_revokes(client, world, make_user,
                                                                display):
    code, _ = display
    token = make_user("branch_secretary", "NS-ZB1")
    assert client.get("/api/v1/displays", headers=auth(token)).json == []
    assert client.get(f"/api/v1/displays/{code}", headers=auth(token)).status_code == 404
    response = client.post(f"/api/v1/displays/{code}/revoke", headers=auth(token), json={})
    assert (response.status_code, response.json["code"]) == (404, "not_found")
    assert _register(client, token).status_code == 403


def test_a_station_device_registers_a_display_but_not_elsewhere(client, world, make_device):
    _, token = make_device(stations=["ST-BA-1"])
    response = _register(client, token)
    assert response.status_code == 201, response.json
    assert response.json["registered_by"].startswith("device:DEV-")
    assert _register(client, token, station="ST-NS-1").status_code == 403
    # By its organisations too: BA-DW's subtree hosts ST-BA-1.
    _, by_organisation = make_device(stations=[], organisations=["BA-DW"])
    assert _register(client, by_organisation).status_code == 201
    assert _register(client, by_organisation, station="ST-NS-1").status_code == 403
    # A device may register, not read or revoke (console users do).
    assert client.get("/api/v1/displays", headers=auth(token)).status_code == 401


def _phone(client, admin_token) -> str:
    """The token of P-BA-1's own phone, bound with an invitation code."""
    invitation = client.post("/api/v1/people/P-BA-1/invitation", headers=auth(admin_token))
    phone = client.post("/api/v1/volunteer/enrol",
                        json={"person": "P-BA-1", "code": invitation.json["code"]})
    assert phone.status_code == 200, phone.json
    return phone.json["token"]


def test_a_personal_phone_cannot_register_a_display(client, world, admin_token):
    response = _register(client, _phone(client, admin_token))
    assert (response.status_code, response.json["code"]) == (403, "forbidden")


def test_revoking_is_kept_once_with_its_reason(client, admin_token, display):
    code, _ = display
    first = client.post(f"/api/v1/displays/{code}/revoke", headers=auth(admin_token),
                        json={"reason": "平板丢失"})
    assert first.status_code == 200 and first.json["status"] == "revoked"
    again = client.post(f"/api/v1/displays/{code}/revoke", headers=auth(admin_token), json={})
    assert again.json["revoked_at"] == first.json["revoked_at"]
    [entry] = db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "revoke_display")).all()
    assert (entry.object_code, entry.reason) == (code, "平板丢失")
    listed = client.get("/api/v1/displays", query_string={"status": "active"},
                        headers=auth(admin_token))
    assert listed.json == []


# -- pull ------------------------------------------------------------------------------

def test_devices_pull_the_display_keys_of_their_stations_and_drop_revoked_ones(
        client, make_device, admin_token, display):
    code, private = display
    elsewhere = _register(client, admin_token, station="ST-NS-1").json["code"]
    _, token = make_device(stations=["ST-BA-1"])
    data, cursor = pull_all(client, token)
    page = pull(client, token)
    assert page["displays"] == [{"code": code, "station": "ST-BA-1",
                                 "public_key": client.get(f"/api/v1/displays/{code}",
                                                          headers=auth(admin_token))
                                 .json["public_key"]}]
    assert ("display", elsewhere) in {(d["type"], d["code"]) for d in page["deletions"]}
    # What a device pulled verifies the display's code offline.
    keys = {d["code"]: DisplayKey(d["station"], _b64(d["public_key"])) for d in page["displays"]}
    assert verify_display_url(_code_now(private, code), keys).display == code

    client.post(f"/api/v1/displays/{code}/revoke", headers=auth(admin_token), json={})
    later = pull(client, token, cursor)
    assert later["displays"] == []
    assert {"type": "display", "code": code} in later["deletions"]


def _b64(text: str) -> bytes:
    from sync.qr import b64url_decode
    return b64url_decode(text)


def test_personal_phones_pull_every_active_stations_displays(client, world, admin_token,
                                                             display):
    code, _ = display
    elsewhere = _register(client, admin_token, station="ST-NS-1").json["code"]
    page = pull(client, _phone(client, admin_token))
    assert {d["code"] for d in page["displays"]} == {code, elsewhere}


def test_a_device_moved_to_another_station_gets_its_displays_and_drops_the_old(
        client, make_device, admin_token, display):
    code, _ = display
    elsewhere = _register(client, admin_token, station="ST-NS-1").json["code"]
    device, token = make_device(stations=["ST-BA-1"])
    _, cursor = pull_all(client, token)
    response = client.patch(f"/api/v1/devices/{device}", headers=auth(admin_token),
                            json={"stations": ["ST-NS-1"]})
    assert response.status_code == 200, response.json
    page = pull(client, token, cursor)
    assert [d["code"] for d in page["displays"]] == [elsewhere]
    assert {"type": "display", "code": code} in page["deletions"]


# -- the check-in page and the push's check --------------------------------------------

def _path(url: str) -> str:
    return url.replace(BASE, "")


def test_the_check_in_page_judges_a_display_code_on_the_servers_clock(client, admin_token,
                                                                      display):
    code, private = display
    page = client.get(_path(_code_now(private, code)))
    assert page.status_code == 200
    assert 'data-verdict="valid"' in page.text and "status ok" in page.text
    ten_minutes_ago = datetime.now(timezone.utc) - timedelta(minutes=10)
    old = client.get(_path(_code_now(private, code, at=ten_minutes_ago)))
    assert "请扫描站点屏幕上的最新二维码" in old.text and 'class="status warn"' in old.text
    forged = client.get(_path(_code_now(private, code))[:-4] + "AAAA")
    assert 'data-verdict="invalid"' in forged.text
    client.post(f"/api/v1/displays/{code}/revoke", headers=auth(admin_token), json={})
    revoked = client.get(_path(_code_now(private, code)))
    assert 'data-verdict="invalid"' in revoked.text


def test_the_check_in_page_says_a_displays_station_has_closed(client, admin_token, display):
    code, private = display
    client.post("/api/v1/stations/ST-BA-1/retire", headers=auth(admin_token), json={})
    page = client.get(_path(_code_now(private, code)))
    assert "本站点已停用" in page.text and "data-verdict" not in page.text


def test_display_keys_for_names_each_display_with_its_station_in_one_query(
        app, client, admin_token, display):
    from sqlalchemy import event
    code, private = display
    other_private, other_public = _new_key()
    other = _register(client, admin_token, station="ST-NS-1", public_key=other_public).json
    client.post(f"/api/v1/displays/{other['code']}/revoke", headers=auth(admin_token), json={})
    texts = [_code_now(private, code), _code_now(other_private, other["code"], "ST-NS-1"),
             _code_now(other_private, other["code"]), "https://x/q/ST-BA-1?v=1&k=k&s=s"]
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        keys = display_keys_for({d for d in map(display_of, texts) if d})
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert len([s for s in statements if s.startswith("SELECT")]) == 1
    assert set(keys) == {code, other["code"]}
    assert keys[other["code"]].station == "ST-NS-1" and keys[other["code"]].revoked_at
    assert verify_display_url(texts[0], keys).station == "ST-BA-1"
    for text, reason in ((texts[1], "revoked_display"), (texts[2], "wrong_station")):
        with pytest.raises(QrInvalid) as failure:
            verify_display_url(text, keys)
        assert failure.value.code == reason
    assert display_keys_for([]) == {}


def test_the_push_judges_a_scan_inside_the_window_widened_by_the_tolerance(app, display):
    code, private = display
    now = datetime.now(timezone.utc)
    verified = verify_display_url(_code_now(private, code, at=now),
                                  display_keys_for([code]))
    tolerance = app.config["CLOCK_TOLERANCE_S"]
    assert judge_display_code(verified, now, tolerance) == INSIDE
    assert judge_display_code(verified, verified.window_end + timedelta(seconds=tolerance),
                              tolerance) == OUTSIDE


# -- the console -----------------------------------------------------------------------

def test_console_lists_links_and_revokes_in_scope(app, world, make_user, display):
    from tests.console_client import csrf_token, sign_in, username_of
    code, _ = display
    console = app.test_client()
    sign_in(console, username_of(make_user("branch_secretary", "BA-ZB1")), "password-123")
    stations = console.get("/console/stations")
    assert "/console/stations/ST-BA-1/display" in stations.text
    page = console.get("/console/stations/ST-BA-1/display")
    assert page.status_code == 200 and code in page.text
    csrf = csrf_token(page.text)
    assert console.get("/console/stations/ST-NS-1/display").status_code == 403
    # Registered from the page's script: JSON, with the CSRF token in a header.
    _, public = _new_key()
    refused = console.post("/console/stations/ST-BA-1/displays",
                           json={"name": "屏幕", "public_key": public})
    assert refused.status_code == 400
    made = console.post("/console/stations/ST-BA-1/displays", headers={"X-CSRFToken": csrf},
                        json={"name": "屏幕", "public_key": public})
    assert made.status_code == 201, made.json
    elsewhere = console.post("/console/stations/ST-NS-1/displays",
                             headers={"X-CSRFToken": csrf},
                             json={"name": "屏幕", "public_key": _new_key()[1]})
    assert elsewhere.status_code == 403
    revoked = console.post(f"/console/displays/{code}/revoke",
                           data={"csrf_token": csrf, "reason": "换新屏"})
    assert revoked.status_code == 302
    assert "已停用" in console.get("/console/stations/ST-BA-1/display").text
    other = make_user("branch_secretary", "NS-ZB1")
    stranger = app.test_client()
    sign_in(stranger, username_of(other), "password-123")
    assert stranger.post(f"/console/displays/{made.json['code']}/revoke",
                         data={"csrf_token": csrf_token(stranger.get("/console/stations").text)}
                         ).status_code == 404
