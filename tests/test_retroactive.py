"""Retroactive entries (补录) through the API, on both databases: stored as
flagged events, paired, sent to review, certified by someone else."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from server.audit.models import AuditEntry
from server.checkins.models import CheckinEvent
from server.extensions import db
from server.service_sessions.models import RetroactiveEntry, ServiceSession
from tests.conftest import auth
from sync.timeutil import BUSINESS_TZ
from tests.sync_helpers import batch, push, recent, scan

ENTER = "/api/v1/sessions/retroactive"


def _whole_minutes(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _entry(person="P-BA-1", start=None, hours=3.0, **extra) -> dict:
    start = start or _whole_minutes(recent(30))
    return {"person": person, "station": "ST-BA-1", "start_at": start.isoformat(),
            "end_at": (start + timedelta(hours=hours)).isoformat(),
            "reason": "手机没电，站长王芳确认到岗", **extra}


def _review(client, token, session_id, decision, **body):
    return client.post(f"/api/v1/sessions/{session_id}/review", headers=auth(token),
                       json={"decision": decision, **body})


def test_an_entry_waits_for_someone_else_to_certify_it(client, world, make_user):
    entering, colleague = (make_user("branch_secretary", "BA-ZB1") for _ in range(2))
    response = client.post(ENTER, headers=auth(entering), json=_entry())
    assert response.status_code == 201, response.json
    session = response.json
    assert session["status"] == "needs_review" and session["flags"] == ["retroactive"]
    assert (session["credited_seconds"], session["pending_seconds"]) == (0, 3 * 3600)
    assert session["branch"] == "BA-ZB1"

    events = db.session.scalars(select(CheckinEvent).order_by(CheckinEvent.effective_at)).all()
    assert [(e.type, e.device_id, e.flags, e.seq) for e in events] == [
        ("check_in", None, "retroactive", None), ("check_out", None, "retroactive", None)]
    assert '"retroactive_entry"' in events[0].raw and session["id"] == events[0].event_id
    [trail] = db.session.scalars(select(AuditEntry).where(
        AuditEntry.object_code == session["id"])).all()
    assert trail.action == "enter_retroactive" and "手机没电" in trail.reason

    for decision, body in (("approved", {}), ("amended", {
            "start_at": session["start_at"], "end_at": session["end_at"], "reason": "改"})):
        refused = _review(client, entering, session["id"], decision, **body)
        assert refused.status_code == 403 and refused.json["code"] == "self_certification"
    queue = client.get("/api/v1/sessions?needs_review=true&flag=retroactive",
                       headers=auth(colleague)).json
    assert [s["id"] for s in queue] == [session["id"]]
    assert client.get("/api/v1/sessions?flag=over_daily_limit",
                      headers=auth(colleague)).json == []
    approved = _review(client, colleague, session["id"], "approved")
    assert approved.status_code == 200, approved.json
    assert approved.json["status"] == "approved"
    assert approved.json["credited_seconds"] == 3 * 3600


def test_whoever_entered_it_may_withdraw_it(client, world, make_user):
    secretary = make_user("branch_secretary", "BA-ZB1")
    session = client.post(ENTER, headers=auth(secretary), json=_entry()).json
    rejected = _review(client, secretary, session["id"], "rejected", reason="录错了人")
    assert rejected.status_code == 200 and rejected.json["status"] == "rejected"
    assert rejected.json["credited_seconds"] == rejected.json["pending_seconds"] == 0


def test_someone_higher_up_certifies_a_lone_secretarys_entry(client, world, make_user):
    secretary, committee = make_user("branch_secretary", "BA-ZB1"), make_user(
        "branch_secretary", "BA-DW")
    session = client.post(ENTER, headers=auth(secretary), json=_entry()).json
    assert _review(client, committee, session["id"], "approved").status_code == 200


def test_refused_entries_store_nothing(client, world, make_device, make_user):
    secretary = make_user("branch_secretary", "BA-ZB1")
    _, token = make_device()
    pushed_in, pushed_out = recent(40), recent(38)
    push(client, token, batch([scan("P-BA-1", "check_in", pushed_in),
                               scan("P-BA-1", "check_out", pushed_out)]))
    [pushed] = db.session.scalars(select(ServiceSession)).all()
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    cases = [
        (_entry(hours=-1), 422, "invalid_times"),
        (_entry(hours=13), 422, "invalid_times"),
        (_entry(start=_whole_minutes(future)), 422, "invalid_times"),
        (_entry(start=_whole_minutes(recent(24 * 500))), 422, "invalid_times"),
        (_entry(reason="  "), 422, None),
        (_entry(person="P-NS-1"), 404, "not_found"),       # another committee's member
        (_entry(station="ST-NOPE"), 404, "not_found"),
        (_entry(activity="ACT-NOPE"), 404, "not_found"),
        # Overlapping the pushed session, on either side or inside it.
        (_entry(start=_whole_minutes(recent(41))), 409, "overlaps_session"),
        (_entry(start=_whole_minutes(recent(39)), hours=0.5), 409, "overlaps_session"),
    ]
    events_before = db.session.scalar(select(func.count()).select_from(CheckinEvent))
    for body, status, code in cases:
        response = client.post(ENTER, headers=auth(secretary), json=body)
        assert response.status_code == status, (body, response.json)
        if code:
            assert response.json["code"] == code, (body, response.json)
    overlapping = client.post(ENTER, headers=auth(secretary),
                              json=_entry(start=_whole_minutes(recent(41)))).json
    assert overlapping["session"] == pushed.key_event_id
    assert db.session.scalar(select(func.count()).select_from(RetroactiveEntry)) == 0
    assert db.session.scalar(select(func.count()).select_from(CheckinEvent)) == events_before


def test_hours_go_to_the_branch_of_that_date_and_only_its_secretary_enters_them(
        client, world, make_user, admin_token):
    secretary = make_user("branch_secretary", "BA-ZB1")
    today = datetime.now(BUSINESS_TZ).date()
    for branch, since in (("NS-ZB1", today - timedelta(days=10)),
                          ("BA-ZB1", today - timedelta(days=2))):
        assert client.patch("/api/v1/people/P-BA-1", headers=auth(admin_token), json={
            "branch": branch, "branch_since": since.isoformat()}).status_code == 200
    while_in_nanshan = _whole_minutes(recent(24 * 5))
    refused = client.post(ENTER, headers=auth(secretary), json=_entry(start=while_in_nanshan))
    assert refused.status_code == 403, refused.json
    entered = client.post(ENTER, headers=auth(admin_token), json=_entry(start=while_in_nanshan))
    assert entered.status_code == 201 and entered.json["branch"] == "NS-ZB1"
    back_home = client.post(ENTER, headers=auth(secretary), json=_entry())
    assert back_home.status_code == 201 and back_home.json["branch"] == "BA-ZB1"


def test_scans_uploaded_later_for_the_same_service_do_not_count_it_twice(
        client, world, make_device, make_user):
    secretary = make_user("branch_secretary", "BA-ZB1")
    start = _whole_minutes(recent(30))
    client.post(ENTER, headers=auth(secretary), json=_entry(start=start))
    _, token = make_device()
    # The phone came back to life: its own scans of that morning arrive.
    push(client, token, batch([scan("P-BA-1", "check_in", start + timedelta(minutes=4)),
                               scan("P-BA-1", "check_out", start + timedelta(hours=3)
                                    - timedelta(minutes=5))]))
    db.session.expire_all()
    [session] = db.session.scalars(select(ServiceSession)).all()
    assert session.status == "needs_review" and "retroactive" in session.flags
    assert session.pending_seconds == 3 * 3600 - 5 * 60
    assert db.session.scalar(select(func.count()).select_from(CheckinEvent)) == 4
