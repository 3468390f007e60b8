"""POST /api/v1/sync/push, on SQLite and PostgreSQL, as the contract states it."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from server.checkins.models import CheckinEvent, QuarantinedEvent
from server.devices.models import Device
from server.extensions import db
from server.service_sessions.models import ServiceSession
from tests.conftest import auth
from tests.sync_helpers import batch, push, recent, scan


def _sessions(person_code=None):
    from server.people.models import Person
    query = select(ServiceSession).order_by(ServiceSession.key_at)
    if person_code:
        query = query.join(Person, Person.id == ServiceSession.person_id).where(
            Person.code == person_code)
    db.session.expire_all()
    return list(db.session.scalars(query))


def _count(model):
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def test_check_in_and_out_make_one_ok_session(client, make_device):
    _, token = make_device()
    events = [scan("P-BA-1", "check_in", recent(3)), scan("P-BA-1", "check_out", recent(1))]
    response = push(client, token, batch(events))
    assert response.status_code == 200, response.json
    assert [r["status"] for r in response.json["results"]] == ["accepted", "accepted"]
    assert [r["id"] for r in response.json["results"]] == [e["id"] for e in events]
    assert abs(response.json["clock_offset_s"]) < 5
    [session] = _sessions()
    assert session.status == "ok"
    assert session.credited_seconds == 7200
    assert session.branch.code == "BA-ZB1"


def test_replayed_batch_changes_nothing(client, make_device):
    _, token = make_device()
    body = batch([scan("P-BA-1", "check_in", recent(3)), scan("P-BA-1", "check_out", recent(1))])
    push(client, token, body)
    again = push(client, token, body)
    assert [r["status"] for r in again.json["results"]] == ["duplicate", "duplicate"]
    assert _count(CheckinEvent) == 2
    assert len(_sessions()) == 1


def test_same_id_other_content_is_a_conflict_kept_aside_once(client, make_device):
    _, token = make_device()
    first = scan("P-BA-1", "check_in", recent(3))
    push(client, token, batch([first]))
    changed = {**first,
               "occurred_at": first["occurred_at"].replace(":", ":", 1)[:-9] + "00:00+08:00"}
    for _ in range(2):
        response = push(client, token, batch([changed]))
        [result] = response.json["results"]
        assert result["status"] == "conflict" and result["code"] == "id_reused"
    assert _count(CheckinEvent) == 1
    conflicts = db.session.scalars(select(QuarantinedEvent)).all()
    assert [(c.reason, c.status) for c in conflicts] == [("id_reused", "conflict")]


def test_same_id_twice_in_one_batch(client, make_device):
    _, token = make_device()
    event = scan("P-BA-1", "check_in", recent(3))
    response = push(client, token, batch([event, event]))
    assert [r["status"] for r in response.json["results"]] == ["accepted", "duplicate"]


def test_unknown_person_waits_and_counts_once_the_person_exists(client, make_device,
                                                                admin_token):
    _, token = make_device()
    events = [scan("P-LATE", "check_in", recent(3)), scan("P-LATE", "check_out", recent(1))]
    response = push(client, token, batch(events))
    assert [r["code"] for r in response.json["results"]] == ["unknown_person"] * 2
    assert _sessions() == []
    created = client.post("/api/v1/people", headers=auth(admin_token), json={
        "code": "P-LATE", "name": "迟到", "kind": "volunteer", "branch": "BA-ZB1"})
    assert created.status_code == 201
    [session] = _sessions("P-LATE")
    assert session.status == "ok" and session.credited_seconds == 7200
    db.session.expire_all()
    assert {q.status for q in db.session.scalars(select(QuarantinedEvent))} == {"resolved"}
    # A resend after the repair is still a duplicate, not a second copy.
    again = push(client, token, batch(events))
    assert [r["status"] for r in again.json["results"]] == ["duplicate", "duplicate"]
    assert _count(CheckinEvent) == 2


def test_malformed_events_are_stored_raw_and_do_not_fail_the_batch(client, make_device):
    _, token = make_device()
    good = scan("P-BA-1", "check_in", recent(2))
    bad = [
        "not an object",
        {"id": "x1", "type": "check_in", "person": "P-BA-1"},
        {**scan("P-BA-1", "check_in", recent(2)), "type": "dance"},
        {**scan("P-BA-1", "check_in", recent(2)), "occurred_at": "yesterday"},
        {**scan("P-BA-1", "check_in", recent(2)), "location": {"lat": 200, "lng": 0}},
    ]
    response = push(client, token, batch([*bad, good]))
    assert response.status_code == 200
    statuses = [(r["status"], r.get("code")) for r in response.json["results"]]
    assert statuses[:-1] == [("quarantined", "malformed")] * 5
    assert statuses[-1] == ("accepted", None)
    raws = [q.raw for q in db.session.scalars(select(QuarantinedEvent))]
    assert '"not an object"' in raws


def test_device_clock_three_days_wrong_is_corrected_and_flagged(client, make_device):
    _, token = make_device()
    skew = timedelta(days=3)
    events = [scan("P-BA-1", "check_in", recent(3) - skew),
              scan("P-BA-1", "check_out", recent(1) - skew)]
    response = push(client, token, batch(events, sent_at=recent(0) - skew))
    assert response.json["clock_offset_s"] > 3 * 86400 - 10
    [session] = _sessions()
    assert session.status == "needs_review"
    assert "clock_corrected" in session.flags
    assert abs((session.start_at - recent(3)).total_seconds()) < 10
    assert session.pending_seconds == 7200 and session.credited_seconds == 0
    stored = db.session.scalars(select(CheckinEvent)).first()
    assert stored.occurred_at != stored.effective_at


def test_time_far_from_now_is_quarantined(client, make_device):
    _, token = make_device()
    response = push(client, token, batch([scan("P-BA-1", "check_in", recent(24 * 500))]))
    assert response.json["results"][0]["code"] == "time_out_of_range"


def test_a_device_clock_at_the_end_of_the_calendar_quarantines_not_fails(client, make_device):
    """sent_at in year 9999: the correction would move the scan before year 1.
    The batch is answered, the event kept in quarantine (it was a 500)."""
    _, token = make_device()
    body = batch([scan("P-BA-1", "check_in", recent(3))])
    body["sent_at"] = "9999-12-31T23:59:59+00:00"
    response = push(client, token, body)
    assert response.status_code == 200, response.json
    [result] = response.json["results"]
    assert (result["status"], result["code"]) == ("quarantined", "time_out_of_range")
    assert _count(QuarantinedEvent) == 1


def test_gaps_in_seq_are_reported_and_never_block(client, make_device, admin_token):
    code, token = make_device()
    assert client.get(f"/api/v1/devices/{code}", headers=auth(admin_token)).json[
        "missing_seq"] == []
    events = [scan("P-BA-1", "check_in", recent(5), seq=1),
              scan("P-BA-1", "check_out", recent(4), seq=2),
              scan("P-BA-2", "check_in", recent(3), seq=6),
              scan("P-BA-2", "check_out", recent(2), seq=9)]
    response = push(client, token, batch(events))
    assert [r["status"] for r in response.json["results"]] == ["accepted"] * 4
    assert response.json["missing_seq"] == [[3, 5], [7, 8]]
    late = push(client, token, batch([scan("P-BA-3", "check_in", recent(1), seq=4)]))
    assert late.json["missing_seq"] == [[3, 3], [5, 5], [7, 8]]
    # Administrators read the same gaps from the device's record, and in the list.
    assert client.get(f"/api/v1/devices/{code}", headers=auth(admin_token)).json[
        "missing_seq"] == [[3, 3], [5, 5], [7, 8]]
    other, _ = make_device()
    listed = {d["code"]: d["missing_seq"] for d in client.get(
        "/api/v1/devices", headers=auth(admin_token)).json}
    assert listed[code] == [[3, 3], [5, 5], [7, 8]] and listed[other] == []


def test_seq_numbers_beyond_32_bits_are_kept(client, make_device):
    """``seq`` is any integer JSON carries exactly (below 2**53): a device may
    count from a large start, a clock in milliseconds say. Found by the
    generated bodies of test_hostile_api: 2**31 failed the batch on
    PostgreSQL (a 32-bit column), and its resends would have failed too;
    likewise a device's reported queue length."""
    _, token = make_device()
    start = 1_764_000_000_000
    events = [scan("P-BA-1", "check_in", recent(3), seq=start),
              scan("P-BA-1", "check_out", recent(1), seq=start + 2),
              {"seq": 2**31}]
    # A queue length no device can hold is not kept (and fails nothing).
    response = push(client, token, batch(events, device={"queue_length": 2**40}))
    assert response.status_code == 200, response.json
    assert [r["status"] for r in response.json["results"]] == [
        "accepted", "accepted", "quarantined"]
    assert [start + 1, start + 1] in response.json["missing_seq"]
    db.session.expire_all()
    assert sorted(db.session.scalars(select(CheckinEvent.seq))) == [start, start + 2]
    assert db.session.scalars(select(QuarantinedEvent.seq)).all() == [2**31]
    assert db.session.scalars(select(Device.queue_length)).all() == [None]


def test_out_of_scope_station_is_quarantined_not_refused(client, make_device):
    _, token = make_device(stations=["ST-BA-1"])
    response = push(client, token, batch([scan("P-NS-1", "check_in", recent(1),
                                               station="ST-NS-1")]))
    assert response.status_code == 200
    assert response.json["results"][0]["code"] == "out_of_scope"


def test_organisation_scope_takes_its_stations_and_its_people(client, make_device):
    """A device scoped to a committee records at the stations its branches
    host (anyone) and for the people of its branches (anywhere), nothing else."""
    _, token = make_device(stations=[], organisations=["BA-DW"])
    events = [scan("P-NS-1", "check_in", recent(3), station="ST-BA-1"),
              scan("P-BA-3", "check_in", recent(3), station="ST-NS-1"),
              scan("P-NS-1", "check_in", recent(2), station="ST-NS-1")]
    response = push(client, token, batch(events))
    assert [(r["status"], r.get("code")) for r in response.json["results"]] == [
        ("accepted", None), ("accepted", None), ("quarantined", "out_of_scope")]


def test_personal_phone_records_only_its_person(client, world):
    from server.devices.services import create_personal_device
    from server.people.models import Person
    person = db.session.scalar(select(Person).where(Person.code == "P-BA-1"))
    _, token = create_personal_device(person, "PHONE-SCOPE", "test")
    db.session.commit()
    events = [scan("P-BA-1", "check_in", recent(2), station="ST-NS-1"),
              scan("P-BA-2", "check_in", recent(2))]
    response = push(client, token, batch(events))
    assert [(r["status"], r.get("code")) for r in response.json["results"]] == [
        ("accepted", None), ("quarantined", "out_of_scope")]


def test_outside_geofence_is_flagged_and_sent_to_review(client, make_device):
    _, token = make_device()
    far = {"lat": 22.60, "lng": 113.95, "accuracy_m": 20}
    push(client, token, batch([scan("P-BA-1", "check_in", recent(3), location=far),
                               scan("P-BA-1", "check_out", recent(1))]))
    [session] = _sessions()
    assert session.status == "needs_review" and "outside_geofence" in session.flags
    event = db.session.scalars(select(CheckinEvent).where(
        CheckinEvent.latitude.is_not(None))).one()
    assert event.distance_m > 5000


def test_missing_or_revoked_token_is_401(client, make_device, admin_token):
    code, token = make_device()
    assert push(client, "nonsense", batch([])).status_code == 401
    client.post(f"/api/v1/devices/{code}/revoke", headers=auth(admin_token), json={})
    response = push(client, token, batch([]))
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_pull_only_device_is_403(client, world):
    from server.devices.services import create_device, enrol_device
    _, enrolment = create_device(world, {"code": "KIOSK", "name": "显示屏",
                                         "stations": ["ST-BA-1"], "organisations": [],
                                         "can_push": False})
    _, token = enrol_device(enrolment, None)
    db.session.commit()
    response = push(client, token, batch([scan("P-BA-1", "check_in", recent(1))]))
    assert response.status_code == 403
    assert response.json["code"] == "push_not_allowed"


def test_too_many_events_or_bytes_is_413_with_limits(app, client, make_device):
    _, token = make_device()
    app.config["PUSH_MAX_EVENTS"] = 3
    response = push(client, token, batch([scan("P-BA-1", "check_in", recent(1))
                                          for _ in range(4)]))
    assert response.status_code == 413
    assert response.json["limits"] == {"max_events": 3, "max_bytes": app.config["PUSH_MAX_BYTES"]}
    app.config["PUSH_MAX_BYTES"] = 500
    response = push(client, token, batch([scan("P-BA-1", "check_in", recent(1))
                                          for _ in range(3)]))
    assert response.status_code == 413
    assert response.json["code"] == "batch_too_large"


def test_not_json_or_no_events_is_400(client, make_device):
    _, token = make_device()
    response = client.post("/api/v1/sync/push", data=b"\xff\xfe garbage",
                           headers={"Authorization": f"Bearer {token}",
                                    "Content-Type": "application/json"})
    assert response.status_code == 400 and response.json["code"] == "malformed_json"
    response = push(client, token, {"batch_id": "b", "events": "nope"})
    assert response.status_code == 400 and response.json["code"] == "malformed_batch"


def test_device_health_is_kept_for_administrators(client, make_device, admin_token):
    code, token = make_device()
    push(client, token, batch([], device={"app_version": "1.4.0", "queue_length": 1830,
                                          "oldest_queued_at": "2026-11-18T08:00:00+08:00"}))
    device = client.get(f"/api/v1/devices/{code}", headers=auth(admin_token)).json
    assert device["app_version"] == "1.4.0"
    assert device["queue_length"] == 1830
    assert device["oldest_queued_at"] == "2026-11-18T08:00:00+08:00"
    assert device["last_push_at"] is not None


def test_enrolment_token_works_once_and_device_token_rotates(client, world, admin_token):
    created = client.post("/api/v1/devices", headers=auth(admin_token), json={
        "code": "TAB-1", "name": "平板", "stations": ["ST-BA-1"]})
    assert created.status_code == 201
    enrolment = created.json["enrolment_token"]
    assert '"token":"' + enrolment in created.json["enrolment_qr"]
    first = client.post("/api/v1/devices/enrol", json={"token": enrolment})
    assert first.status_code == 200
    again = client.post("/api/v1/devices/enrol", json={"token": enrolment})
    assert again.status_code == 401 and again.json["code"] == "invalid_enrolment"
    token = first.json["token"]
    rotated = client.post("/api/v1/devices/token/rotate", headers=auth(token))
    assert rotated.status_code == 200
    assert push(client, token, batch([])).status_code == 401
    assert push(client, rotated.json["token"], batch([])).status_code == 200
    stored = db.session.scalar(select(Device.token_hash).where(Device.code == "TAB-1"))
    assert stored != rotated.json["token"] and len(stored) == 64


def test_scan_naming_an_activity_or_at_its_time_counts_as_attendance(client, make_device,
                                                                     admin_token):
    from server.activities.models import Activity
    _, token = make_device()
    start = recent(4)
    client.post("/api/v1/activities", headers=auth(admin_token), json={
        "code": "ACT-1", "title": "主题党日", "kind": "themed_party_day",
        "organisation": "BA-ZB1", "station": "ST-BA-1",
        "planned_start_at": start.isoformat(),
        "planned_end_at": (start + timedelta(hours=2)).isoformat()})
    push(client, token, batch([
        scan("P-BA-1", "check_in", start + timedelta(minutes=5)),
        scan("P-BA-1", "check_out", start + timedelta(hours=2)),
        scan("P-BA-2", "check_in", start - timedelta(hours=20), activity="ACT-1"),
        scan("P-BA-2", "check_out", start - timedelta(hours=19)),
    ]))
    activity_id = db.session.scalar(select(Activity.id).where(Activity.code == "ACT-1"))
    assert [s.activity_id for s in _sessions("P-BA-1")] == [activity_id]
    assert [s.activity_id for s in _sessions("P-BA-2")] == [activity_id]


def test_too_many_pushes_is_429_with_retry_after(app, client, make_device):
    from server.extensions import limiter
    app.config["PUSH_RATE_LIMIT"] = "2 per minute"
    limiter.enabled = True
    try:
        _, token = make_device()
        statuses = [push(client, token, batch([])).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        response = push(client, token, batch([]))
        assert response.mimetype == "application/problem+json"
        assert response.json["code"] == "rate_limited"
        assert int(response.headers["Retry-After"]) > 0
        _, other = make_device()
        assert push(client, other, batch([])).status_code == 200
    finally:
        limiter.enabled = False
        limiter.reset()


def test_device_clock_a_year_wrong_is_corrected(client, make_device):
    _, token = make_device()
    skew = timedelta(days=366)
    events = [scan("P-BA-1", "check_in", recent(3) + skew),
              scan("P-BA-1", "check_out", recent(1) + skew)]
    response = push(client, token, batch(events, sent_at=recent(0) + skew))
    assert [r["status"] for r in response.json["results"]] == ["accepted", "accepted"]
    [session] = _sessions()
    assert "clock_corrected" in session.flags and session.status == "needs_review"
    assert abs((session.start_at - recent(3)).total_seconds()) < 10


def test_replaying_a_month_of_batches_changes_nothing(client, make_device):
    _, token = make_device()
    bodies = []
    for day in range(30, 0, -1):
        start = recent(24 * day)
        bodies.append(batch([scan("P-BA-2", "check_in", start),
                             scan("P-BA-2", "check_out", start + timedelta(hours=2))]))
    for body in bodies:
        push(client, token, body)
    before = [(s.key_event_id, s.status, s.credited_seconds) for s in _sessions()]
    assert len(before) == 30
    for body in bodies:
        assert {r["status"] for r in push(client, token, body).json["results"]} == {"duplicate"}
    assert [(s.key_event_id, s.status, s.credited_seconds) for s in _sessions()] == before
    assert _count(CheckinEvent) == 60


def test_a_resent_event_that_could_no_longer_count_is_a_duplicate(
        app, client, make_device, monkeypatch):
    """A device resends a batch long after it counted (the answer was lost):
    the events are now too old to be accepted, but they were accepted, so
    they are duplicates and nothing goes to quarantine."""
    _, token = make_device()
    body = batch([scan("P-BA-1", "check_in", recent(3)), scan("P-BA-1", "check_out", recent(1))])
    push(client, token, body)
    monkeypatch.setitem(app.config, "MAX_EVENT_AGE_DAYS", 0)
    again = push(client, token, body)
    assert [r["status"] for r in again.json["results"]] == ["duplicate", "duplicate"]
    assert _count(QuarantinedEvent) == 0
    assert _count(CheckinEvent) == 2


def test_an_id_stored_between_look_up_and_insert_is_answered_once(
        client, make_device, monkeypatch):
    """Another device's push stores one of the batch's ids after this push
    looked its ids up. Made exact by storing it through the same transaction just
    before the insert: on PostgreSQL the COPY then meets a unique violation
    and falls back to ON CONFLICT, on SQLite the insert is partial. Either
    way the event is answered as the duplicate it is, the others are
    accepted, and every event is stored once."""
    from server.checkins import ingest
    from server.common.rawsql import write_rows
    _, token = make_device()
    other_code, _ = make_device()
    other_device = db.session.scalar(select(Device.id).where(Device.code == other_code))
    events = [scan("P-BA-1", "check_in", recent(3)), scan("P-BA-1", "check_out", recent(1)),
              scan("P-BA-2", "check_in", recent(2))]
    insert_events = ingest.insert_events
    stored_first: list[str] = []

    def another_push_stores_one_first(rows):
        first = min(rows, key=lambda r: r["event_id"])
        write_rows(db.session.connection(), CheckinEvent.__table__,
                   [{**first, "device_id": other_device}])
        stored_first.append(first["event_id"])
        return insert_events(rows)

    monkeypatch.setattr(ingest, "insert_events", another_push_stores_one_first)
    answer = push(client, token, batch(events))
    monkeypatch.undo()
    assert answer.status_code == 200, answer.json
    statuses = {r["id"]: r["status"] for r in answer.json["results"]}
    assert statuses == {e["id"]: "duplicate" if e["id"] == stored_first[0] else "accepted"
                        for e in events}
    assert _count(CheckinEvent) == 3
    assert len(_sessions("P-BA-1")) == 1
