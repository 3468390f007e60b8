"""Reviews and service-hour reports, by hand-computed examples, on both databases."""
from __future__ import annotations

import io
import random
from datetime import timedelta

from openpyxl import load_workbook
from sqlalchemy import select

from server.extensions import db
from server.service_sessions.models import ServiceSession
from tests.conftest import auth
from tests.sync_helpers import at, batch, push, scan


def _report(client, token, **query):
    response = client.get("/api/v1/reports/service-hours", headers=auth(token),
                          query_string=query)
    assert response.status_code == 200, response.json
    return {row["code"]: row for row in response.json["rows"]}


def _session_of(person_code):
    from server.people.models import Person
    db.session.expire_all()
    return db.session.scalars(select(ServiceSession).join(
        Person, Person.id == ServiceSession.person_id).where(
        Person.code == person_code).order_by(ServiceSession.key_at)).all()


def _push_shift(client, token, person, start, hours, station="ST-BA-1"):
    return push(client, token, batch([scan(person, "check_in", start, station=station),
                                      scan(person, "check_out", start + timedelta(hours=hours),
                                           station=station)]))


def test_hours_per_branch_with_rollup_and_people(client, make_device, admin_token):
    _, token = make_device(stations=["ST-BA-1", "ST-NS-1"])
    _push_shift(client, token, "P-BA-1", at("2026-11-02 09:00"), 2)
    _push_shift(client, token, "P-BA-1", at("2026-11-03 09:00"), 1)
    _push_shift(client, token, "P-BA-3", at("2026-11-04 09:00"), 3)
    _push_shift(client, token, "P-NS-1", at("2026-11-05 09:00"), 4, station="ST-NS-1")
    _push_shift(client, token, "P-BA-2", at("2026-10-31 09:00"), 5)  # outside the month
    flat = _report(client, admin_token, group_by="branch", month="2026-11")
    assert flat["BA-ZB1"]["credited_seconds"] == 3 * 3600
    assert (flat["BA-ZB1"]["sessions"], flat["BA-ZB1"]["people"]) == (2, 1)
    assert "BA-DW" not in flat
    rolled = _report(client, admin_token, group_by="branch", month="2026-11", rollup="true")
    assert rolled["BA-DW"]["credited_seconds"] == 6 * 3600
    assert rolled["BA-DW"]["people"] == 2
    assert rolled["NS-DW"]["credited_seconds"] == 4 * 3600
    areas = _report(client, admin_token, group_by="area", month="2026-11", rollup="true")
    assert areas["SZ"]["credited_seconds"] == 10 * 3600
    assert areas["SZ-BA"]["credited_seconds"] == 6 * 3600
    people = _report(client, admin_token, group_by="person", month="2026-11")
    assert people["P-BA-1"]["credited_seconds"] == 3 * 3600


def test_session_across_midnight_belongs_to_its_start_date(client, make_device, admin_token):
    _, token = make_device()
    _push_shift(client, token, "P-BA-1", at("2026-10-31 22:00"), 4)
    assert _report(client, admin_token, month="2026-10")["BA-ZB1"]["credited_seconds"] == 14400
    assert _report(client, admin_token, month="2026-11") == {}


def test_branch_move_mid_month_splits_the_hours(client, make_device, admin_token):
    _, token = make_device(stations=["ST-BA-1"], organisations=["NS-DW"])
    _push_shift(client, token, "P-BA-1", at("2026-11-05 09:00"), 2)
    client.patch("/api/v1/people/P-BA-1", headers=auth(admin_token),
                 json={"branch": "NS-ZB1", "branch_since": "2026-11-15"})
    _push_shift(client, token, "P-BA-1", at("2026-11-20 09:00"), 3)
    report = _report(client, admin_token, month="2026-11")
    assert report["BA-ZB1"]["credited_seconds"] == 2 * 3600
    assert report["NS-ZB1"]["credited_seconds"] == 3 * 3600


def test_amended_and_rejected_sessions_and_the_trail(client, make_device, make_user):
    _, token = make_device()
    secretary = make_user("branch_secretary", "BA-ZB1")
    push(client, token, batch([scan("P-BA-1", "check_in", at("2026-11-10 09:00")),
                               scan("P-BA-1", "check_in", at("2026-11-11 09:00")),
                               scan("P-BA-1", "check_out", at("2026-11-11 10:00")),
                               scan("P-BA-2", "check_in", at("2026-11-12 08:00")),
                               scan("P-BA-2", "check_out", at("2026-11-12 22:00"))]))
    missing, ok = _session_of("P-BA-1")
    [too_long] = _session_of("P-BA-2")
    assert (missing.status, too_long.status) == ("missing_checkout", "too_long")
    assert _report(client, secretary, month="2026-11")["BA-ZB1"]["pending_seconds"] == 14 * 3600
    queue = client.get("/api/v1/sessions?needs_review=true", headers=auth(secretary)).json
    assert {s["id"] for s in queue} == {missing.key_event_id, too_long.key_event_id}

    amended = client.post(f"/api/v1/sessions/{missing.key_event_id}/review",
                          headers=auth(secretary), json={
                              "decision": "amended", "reason": "忘记签退，负责人确认 3 小时",
                              "start_at": "2026-11-10T09:00:00+08:00",
                              "end_at": "2026-11-10T12:00:00+08:00"})
    assert amended.status_code == 200, amended.json
    assert amended.json["status"] == "amended" and amended.json["credited_seconds"] == 10800
    assert amended.json["derived_start_at"] == "2026-11-10T09:00:00+08:00"
    rejected = client.post(f"/api/v1/sessions/{too_long.key_event_id}/review",
                           headers=auth(secretary), json={"decision": "rejected",
                                                          "reason": "未实际服务"})
    assert rejected.json["status"] == "rejected"
    report = _report(client, secretary, month="2026-11")["BA-ZB1"]
    assert report["credited_seconds"] == 3 * 3600 + 3600
    assert report["pending_seconds"] == 0 and report["sessions"] == 2
    from server.audit.models import AuditEntry
    trail = db.session.scalars(select(AuditEntry).where(
        AuditEntry.object_code == missing.key_event_id)).all()
    assert trail[0].action == "review_session_amended" and "忘记签退" in trail[0].reason
    assert client.post(f"/api/v1/sessions/{missing.key_event_id}/review",
                       headers=auth(secretary),
                       json={"decision": "amended", "start_at": "2026-11-10T09:00:00+08:00",
                             "end_at": "2026-11-10T12:00:00+08:00"}).status_code == 422


def test_late_event_sends_a_reviewed_session_back_to_review(client, make_device, make_user):
    _, token = make_device()
    secretary = make_user("branch_secretary", "BA-ZB1")
    push(client, token, batch([scan("P-BA-1", "check_in", at("2026-11-10 09:00")),
                               scan("P-BA-1", "check_out", at("2026-11-10 19:00"))]))
    [session] = _session_of("P-BA-1")
    assert session.status == "needs_review" and session.over_daily_limit  # 10 h > 8 h
    client.post(f"/api/v1/sessions/{session.key_event_id}/review", headers=auth(secretary),
                json={"decision": "approved"})
    assert _session_of("P-BA-1")[0].status == "approved"
    push(client, token, batch([scan("P-BA-1", "check_out", at("2026-11-10 12:00"))]))
    first = _session_of("P-BA-1")[0]
    assert first.status == "ok" and first.review_stale is True


def test_secretary_sees_and_reviews_only_own_branch(client, make_device, make_user):
    _, token = make_device(stations=["ST-BA-1", "ST-NS-1"])
    _push_shift(client, token, "P-NS-1", at("2026-11-05 09:00"), 13, station="ST-NS-1")
    [session] = _session_of("P-NS-1")
    other = make_user("branch_secretary", "BA-ZB1")
    assert client.get(f"/api/v1/sessions/{session.key_event_id}",
                      headers=auth(other)).status_code == 404
    assert client.post(f"/api/v1/sessions/{session.key_event_id}/review", headers=auth(other),
                       json={"decision": "approved"}).status_code == 404
    assert _report(client, other, month="2026-11") == {}


def test_exports_are_printable_and_formula_safe(client, world, make_device, admin_token):
    _, token = make_device()
    client.patch("/api/v1/organisations/BA-ZB1", headers=auth(admin_token),
                 json={"name": "=HYPERLINK(\"http://x\")"})
    _push_shift(client, token, "P-BA-1", at("2026-11-02 09:00"), 2)
    csv_response = client.get("/api/v1/reports/service-hours?month=2026-11&format=csv",
                              headers=auth(admin_token))
    text = csv_response.data.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("编码,名称")
    assert "'=HYPERLINK" in text and "2.0" in text
    xlsx = client.get("/api/v1/reports/service-hours?month=2026-11&format=xlsx",
                      headers=auth(admin_token))
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert sheet["A2"].value == "编码"
    assert sheet["B3"].value.startswith("=HYPERLINK") and sheet["B3"].data_type == "s"
    assert sheet["C3"].value == 2.0


def test_report_equals_a_plain_sum_over_random_sessions(client, make_device, admin_token):
    _, token = make_device(stations=["ST-BA-1", "ST-NS-1"])
    rng = random.Random(3)
    events = []
    for _ in range(60):
        person = rng.choice(["P-BA-1", "P-BA-2", "P-BA-3", "P-NS-1"])
        start = at("2026-11-01 00:00") + timedelta(minutes=rng.randint(0, 21 * 24 * 60))
        station = rng.choice(["ST-BA-1", "ST-NS-1"])
        events.append(scan(person, "check_in", start, station=station))
        if rng.random() < 0.8:
            events.append(scan(person, "check_out",
                               start + timedelta(minutes=rng.randint(10, 900)), station=station))
    push(client, token, batch(events))
    db.session.expire_all()
    expected: dict[str, list] = {}
    for s in db.session.scalars(select(ServiceSession)):
        if s.status == "rejected" or not (s.local_date.year == 2026 and s.local_date.month == 11):
            continue
        row = expected.setdefault(s.branch.code, [0, 0, 0, set()])
        row[0] += s.credited_seconds
        row[1] += s.pending_seconds
        row[2] += 1
        row[3].add(s.person_id)
    report = _report(client, admin_token, month="2026-11")
    assert {code: [r["credited_seconds"], r["pending_seconds"], r["sessions"], r["people"]]
            for code, r in report.items()} == {
        code: [c, p, n, len(people)] for code, (c, p, n, people) in expected.items()}


def test_report_says_whether_devices_may_still_hold_scans(client, make_device, admin_token):
    _, token = make_device()
    push(client, token, batch([scan("P-BA-1", "check_in", at("2026-10-20 09:00")),
                               scan("P-BA-1", "check_out", at("2026-10-20 11:00"))],
                              device={"queue_length": 40,
                                      "oldest_queued_at": "2026-10-28T08:00:00+08:00"}))
    report = client.get("/api/v1/reports/service-hours?month=2026-10",
                        headers=auth(admin_token)).json
    [device] = report["completeness"]["devices"]
    # 40 queued with the batch in it: 38 stay on the device.
    assert device["station"] == "ST-BA-1" and device["queue_length"] == 38
    assert report["completeness"]["may_change"] is True
    assert report["completeness"]["oldest_unsynced_scan_at"].startswith("2026-10-28")
    # More is queued on the device, so the server holds these two for pairing.
    assert report["completeness"]["unpaired_scans_since"] is not None
    assert report["rows"] == []
    push(client, token, batch([], device={"queue_length": 0, "oldest_queued_at": None}))
    october = client.get("/api/v1/reports/service-hours?month=2026-10",
                         headers=auth(admin_token)).json
    assert october["completeness"]["may_change"] is False
    assert october["completeness"]["oldest_unsynced_scan_at"] is None
    assert october["completeness"]["unpaired_scans_since"] is None
    assert [row["credited_seconds"] for row in october["rows"]] == [7200]


def test_completeness_of_a_wide_scope_waits_for_the_devices_of_that_scope(
        client, make_device, make_user, monkeypatch):
    """A session at a station elsewhere is waited for in a narrow scope; in a
    wide one (a district and up) the devices of the caller's own scope are."""
    from server.reports import services
    _, elsewhere = make_device(stations=("ST-NS-1",))
    make_device(stations=("ST-BA-1",))
    push(client, elsewhere, batch([scan("P-BA-1", "check_in", at("2026-10-20 09:00"),
                                        station="ST-NS-1")]))
    secretary = make_user("branch_secretary", "BA-DW")
    url = "/api/v1/reports/service-hours?month=2026-10"

    def stations():
        report = client.get(url, headers=auth(secretary)).json["completeness"]
        return sorted({d["station"] for d in report["devices"]})

    assert stations() == ["ST-NS-1"]
    monkeypatch.setattr(services, "WIDE_SCOPE_BRANCHES", 1)
    assert stations() == ["ST-BA-1"]


def test_person_record_and_draft_certificate(client, make_device, admin_token, tmp_path):
    from pypdf import PdfReader
    _, token = make_device()
    _push_shift(client, token, "P-BA-1", at("2026-11-02 09:00"), 2)
    _push_shift(client, token, "P-BA-1", at("2026-11-03 09:00"), 13)
    record = client.get("/api/v1/people/P-BA-1/record?from=2026-11-01&to=2026-11-30",
                        headers=auth(admin_token)).json
    assert [s["status"] for s in record["sessions"]] == ["ok", "too_long"]
    assert record["credited_seconds"] == 7200 and record["pending_seconds"] == 13 * 3600
    assert record["person"]["name"] == "人P-BA-1"
    pdf = client.get("/api/v1/people/P-BA-1/record?from=2026-11-01&to=2026-11-30&format=pdf",
                     headers=auth(admin_token))
    path = tmp_path / "record.pdf"
    path.write_bytes(pdf.data)
    text = PdfReader(path).pages[0].extract_text()
    assert "志愿服务记录证明" in text and "2.0 小时" in text and "盖章" in text


def test_dual_reporting_counts_service_in_the_home_community(client, make_device, admin_token):
    client.patch("/api/v1/people/P-BA-1", headers=auth(admin_token), json={"home_area": "SZ-NS"})
    _, token = make_device(stations=["ST-BA-1", "ST-NS-1"])
    _push_shift(client, token, "P-BA-1", at("2026-11-02 09:00"), 2, station="ST-NS-1")
    _push_shift(client, token, "P-BA-1", at("2026-11-03 09:00"), 5, station="ST-BA-1")
    rows = client.get("/api/v1/reports/dual-reporting?branch=BA-DW&quarter=2026-Q4",
                      headers=auth(admin_token)).json
    assert [(r["code"], r["home_area"], r["credited_seconds"], r["sessions"]) for r in rows] == [
        ("P-BA-1", "SZ-NS", 7200, 1)]


def test_hours_past_eight_a_day_wait_for_the_branch(client, make_device, make_user):
    """docs/domain.md, rule 3: up to 8 h of a person's day are credited at once,
    8-12 h after the organisation approves."""
    _, token = make_device()
    secretary = make_user("branch_secretary", "BA-ZB1")
    # Pushed afternoon first, morning later: the limit follows the day's order.
    _push_shift(client, token, "P-BA-1", at("2026-11-10 14:00"), 4)
    [afternoon] = _session_of("P-BA-1")
    assert (afternoon.status, afternoon.credited_seconds) == ("ok", 4 * 3600)
    _push_shift(client, token, "P-BA-1", at("2026-11-10 08:00"), 5)
    morning, afternoon = _session_of("P-BA-1")
    assert (morning.status, morning.over_daily_limit) == ("ok", False)
    assert (afternoon.status, afternoon.over_daily_limit) == ("needs_review", True)
    assert (afternoon.credited_seconds, afternoon.pending_seconds) == (0, 4 * 3600)
    listed = client.get(f"/api/v1/sessions/{afternoon.key_event_id}",
                        headers=auth(secretary)).json
    assert "over_daily_limit" in listed["flags"]
    assert [s["id"] for s in client.get("/api/v1/sessions?flag=over_daily_limit",
                                        headers=auth(secretary)).json] == [listed["id"]]
    assert client.get("/api/v1/sessions?flag=nonsense",
                      headers=auth(secretary)).status_code == 422
    assert _report(client, secretary, month="2026-11")["BA-ZB1"]["credited_seconds"] == 5 * 3600
    approved = client.post(f"/api/v1/sessions/{afternoon.key_event_id}/review",
                           headers=auth(secretary), json={"decision": "approved"})
    assert approved.status_code == 200 and approved.json["credited_seconds"] == 4 * 3600
    assert _report(client, secretary, month="2026-11")["BA-ZB1"]["credited_seconds"] == 9 * 3600
    # One session of 9 h on another day waits as well.
    _push_shift(client, token, "P-BA-1", at("2026-11-11 08:00"), 9)
    assert _session_of("P-BA-1")[-1].status == "needs_review"


def test_more_than_twelve_hours_a_day_is_approved_above_the_branch(client, make_device,
                                                                   make_user):
    _, token = make_device()
    branch, committee = (make_user("branch_secretary", "BA-ZB1"),
                         make_user("branch_secretary", "BA-DW"))
    _push_shift(client, token, "P-BA-1", at("2026-11-10 07:00"), 13)
    [long_day] = _session_of("P-BA-1")
    refused = client.post(f"/api/v1/sessions/{long_day.key_event_id}/review",
                          headers=auth(branch), json={"decision": "approved"})
    assert refused.status_code == 403 and refused.json["code"] == "needs_higher_approval"
    # The branch may still amend it to what it can certify, or reject it.
    amended = client.post(f"/api/v1/sessions/{long_day.key_event_id}/review",
                          headers=auth(branch), json={
                              "decision": "amended", "reason": "午休两小时不计",
                              "start_at": "2026-11-10T07:00:00+08:00",
                              "end_at": "2026-11-10T18:00:00+08:00"})
    assert amended.status_code == 200 and amended.json["credited_seconds"] == 11 * 3600
    # Two sessions of one day adding up to more than 12 h count together.
    _push_shift(client, token, "P-BA-1", at("2026-11-10 21:00"), 2)
    evening = _session_of("P-BA-1")[-1]
    assert evening.status == "needs_review"
    assert client.post(f"/api/v1/sessions/{evening.key_event_id}/review", headers=auth(branch),
                       json={"decision": "approved"}).status_code == 403
    assert client.post(f"/api/v1/sessions/{evening.key_event_id}/review",
                       headers=auth(committee),
                       json={"decision": "approved"}).status_code == 200


def test_a_fourth_pair_of_one_activity_in_a_day_waits_for_the_branch(client, make_device,
                                                                     make_user):
    """docs/domain.md, rule 3: at most 3 check-in/out pairs per person per activity per day."""
    secretary = make_user("branch_secretary", "BA-ZB1")
    begins = at("2026-11-10 08:00")
    assert client.post("/api/v1/activities", headers=auth(secretary), json={
        "code": "ACT-DUTY", "title": "交通劝导", "kind": "volunteer_service",
        "organisation": "BA-ZB1", "station": "ST-BA-1", "planned_start_at": begins.isoformat(),
        "planned_end_at": (begins + timedelta(hours=10)).isoformat()}).status_code == 201
    _, token = make_device()
    pairs = [(begins + timedelta(hours=2 * n), begins + timedelta(hours=2 * n, minutes=30))
             for n in range(4)]
    push(client, token, batch([scan("P-BA-1", kind, when, activity="ACT-DUTY")
                               for pair in pairs for kind, when in zip(
                                   ("check_in", "check_out"), pair)]))
    sessions = _session_of("P-BA-1")
    assert [s.status for s in sessions] == ["ok", "ok", "ok", "needs_review"]
    assert sessions[-1].over_daily_limit and sessions[-1].pending_seconds == 1800
