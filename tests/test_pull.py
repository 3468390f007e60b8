"""GET /api/v1/sync/pull: scope, paging, changes, deletions, and no skipped change."""
from __future__ import annotations

import threading

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from server.extensions import db
from tests.conftest import auth


def pull(client, token, cursor=None, limit=None):
    query = {k: v for k, v in (("cursor", cursor), ("limit", limit)) if v is not None}
    response = client.get("/api/v1/sync/pull", query_string=query,
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.json
    return response.json


def pull_all(client, token, cursor=None, limit=None):
    merged = {"stations": {}, "people": {}, "activities": {}, "signing_keys": {}, "deleted": set()}
    while True:
        page = pull(client, token, cursor, limit)
        for kind in ("stations", "people", "activities"):
            for item in page[kind]:
                merged[kind][item["code"]] = item
        for key in page["signing_keys"]:
            merged["signing_keys"][key["key_id"]] = key
        for gone in page["deletions"]:
            merged["deleted"].add((gone["type"], gone["code"]))
        cursor = page["cursor"]
        if not page["has_more"]:
            return merged, cursor


def test_first_pull_brings_the_devices_scope(client, make_device):
    _, token = make_device(stations=["ST-BA-1"])
    data, _ = pull_all(client, token)
    assert set(data["stations"]) == {"ST-BA-1"}
    assert data["stations"]["ST-BA-1"]["qr_version"] == 1
    assert set(data["people"]) == {"P-BA-1", "P-BA-2"}
    assert data["people"]["P-BA-1"] == {"code": "P-BA-1", "name": "人P-BA-1",
                                        "kind": "volunteer", "branch": "BA-ZB1"}
    assert len(data["signing_keys"]) == 1
    assert ("person", "P-NS-1") in data["deleted"]


def test_organisation_device_sees_its_subtree(client, make_device):
    _, token = make_device(stations=[], organisations=["BA-DW"])
    data, _ = pull_all(client, token)
    assert set(data["people"]) == {"P-BA-1", "P-BA-2", "P-BA-3"}
    assert set(data["stations"]) == {"ST-BA-1"}


def test_small_pages_resume_and_add_up_to_one_big_page(client, make_device):
    _, token = make_device()
    whole, _ = pull_all(client, token)
    paged, _ = pull_all(client, token, limit=2)
    assert paged["people"] == whole["people"] and paged["stations"] == whole["stations"]
    first = pull(client, token, limit=2)
    assert first["has_more"] is True


def test_later_changes_and_deletions_arrive_after_the_cursor(client, make_device, admin_token):
    _, token = make_device()
    _, cursor = pull_all(client, token)
    assert pull(client, token, cursor)["people"] == []
    client.patch("/api/v1/people/P-BA-1", headers=auth(admin_token), json={"name": "新名字"})
    client.patch("/api/v1/people/P-BA-2", headers=auth(admin_token),
                 json={"branch": "NS-ZB1", "branch_since": "2026-11-01"})
    client.post("/api/v1/stations/ST-BA-1/qr/reissue", headers=auth(admin_token), json={})
    changes, cursor = pull_all(client, token, cursor)
    assert changes["people"]["P-BA-1"]["name"] == "新名字"
    assert ("person", "P-BA-2") in changes["deleted"]
    assert changes["stations"]["ST-BA-1"]["qr_version"] == 2
    # Pulling again at the cursor is idempotent: nothing new, and the same cursor back.
    # (server_time is left out: two pulls may straddle a second.)
    again, once_more = pull(client, token, cursor), pull(client, token, cursor)
    for answer in (again, once_more):
        assert answer["cursor"] == cursor and answer["has_more"] is False
        assert answer["people"] == answer["stations"] == answer["deletions"] == []


def test_bad_cursor_is_400(client, make_device):
    _, token = make_device()
    response = client.get("/api/v1/sync/pull?cursor=garbage!!",
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400 and response.json["code"] == "invalid_cursor"


def test_a_change_numbered_first_but_committed_last_is_not_skipped(app, client, make_device):
    """Two real transactions interleave: A takes the next number and waits before
    committing; B changes another station meanwhile. A reader in between sees
    neither; once both commit it sees both. Numbers follow commit order."""
    _, token = make_device(stations=["ST-BA-1", "ST-NS-1"])
    _, cursor = pull_all(client, token)
    numbered, release = threading.Event(), threading.Event()

    def pause_after_numbering(session):
        if session.info.get("pause"):
            numbered.set()
            release.wait(10)

    event.listen(Session, "before_commit", pause_after_numbering)
    try:
        def change(code, name, pause):
            with app.app_context():
                from server.common.lookup import by_code
                from server.stations.models import Station
                db.session.info["pause"] = pause
                by_code(Station, code).name = name
                db.session.commit()
                db.session.info.pop("pause", None)

        first = threading.Thread(target=change, args=("ST-BA-1", "甲", True))
        first.start()
        assert numbered.wait(10)
        second = threading.Thread(target=change, args=("ST-NS-1", "乙", False))
        second.start()
        second.join(0.5)
        # A client that does not pair after its request: on SQLite that
        # drain would wait for A's write lock until A gave up waiting.
        between = pull(FlaskClient(app, app.response_class), token, cursor)
        assert between["stations"] == [] and between["cursor"] == cursor
        release.set()
        first.join(10)
        second.join(10)
        after, _ = pull_all(client, token, cursor)
        assert {c: s["name"] for c, s in after["stations"].items()} == {"ST-BA-1": "甲",
                                                                        "ST-NS-1": "乙"}
    finally:
        release.set()
        event.remove(Session, "before_commit", pause_after_numbering)


@pytest.mark.parametrize("limit", [1, 3])
def test_personal_device_pulls_only_its_person(client, world, limit):
    from server.devices.services import create_personal_device
    from server.people.models import Person
    from server.common.lookup import by_code
    _, token = create_personal_device(by_code(Person, "P-BA-1"), "PHONE-1", "test")
    db.session.commit()
    data, _ = pull_all(client, token, limit=limit)
    assert set(data["people"]) == {"P-BA-1"}
    assert set(data["stations"]) == {"ST-BA-1", "ST-NS-1"}


def test_a_pull_that_notes_the_device_seen_survives_a_push_committed_meanwhile(
        app, client, make_device):
    """SQLite: a pull reads in a deferred transaction, which cannot become a
    writer once another writer committed after its first read. A pull that
    wrote ``last_seen_at`` after reading failed (503) whenever a push
    committed while it was reading. Here a real push commits in another
    thread while the pull, done reading, is about to commit (held before
    any other hook, flushing included, runs)."""
    from datetime import datetime, timezone

    from flask import has_request_context, request

    from server.common.lookup import by_code
    from server.devices.models import Device
    from tests.sync_helpers import batch, push, recent, scan
    puller_code, puller = make_device()
    _, pusher = make_device()
    by_code(Device, puller_code).last_seen_at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    db.session.commit()
    reading, pushed = threading.Event(), threading.Event()

    def hold_the_pull(session):
        if has_request_context() and request.path == "/api/v1/sync/pull":
            reading.set()
            pushed.wait(10)

    def push_meanwhile():
        assert reading.wait(10)
        with app.app_context():
            answer = push(app.test_client(), pusher, batch([scan("P-BA-1", "check_in",
                                                                 recent(1))]))
            assert answer.status_code == 200, answer.json
        pushed.set()

    event.listen(Session, "before_commit", hold_the_pull, insert=True)
    pusher_thread = threading.Thread(target=push_meanwhile)
    pusher_thread.start()
    try:
        answer = client.get("/api/v1/sync/pull", headers=auth(puller))
    finally:
        pushed.set()
        event.remove(Session, "before_commit", hold_the_pull)
        pusher_thread.join(10)
    assert answer.status_code == 200, answer.json
    db.session.rollback()
    seen = by_code(Device, puller_code).last_seen_at
    assert seen > datetime(2026, 1, 2, tzinfo=timezone.utc)
