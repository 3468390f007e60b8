"""Meeting attendance against the roster: present, late, on leave, absent, quorum."""
from __future__ import annotations

from datetime import timedelta

from tests.conftest import auth
from tests.sync_helpers import at, batch, push, scan


def _meeting(client, token, kind="branch_general_meeting", start="2026-11-18 19:30"):
    begins = at(start)
    response = client.post("/api/v1/activities", headers=auth(token), json={
        "code": f"M-{kind}", "title": "支部党员大会", "kind": kind, "organisation": "BA-DW",
        "station": "ST-BA-1", "planned_start_at": begins.isoformat(),
        "planned_end_at": (begins + timedelta(hours=2)).isoformat(),
        "host_name": "书记", "recorder_name": "组织委员", "topic": "学习"})
    assert response.status_code == 201, response.json
    return begins


def test_attendance_sheet_with_late_leave_absent_and_quorum(client, make_device, make_user):
    secretary = make_user("branch_secretary", "BA-DW")
    begins = _meeting(client, secretary)
    _, token = make_device(stations=["ST-BA-1", "ST-NS-1"])
    push(client, token, batch([
        scan("P-BA-1", "check_in", begins - timedelta(minutes=5)),
        scan("P-BA-1", "check_out", begins + timedelta(hours=2)),
        scan("P-BA-2", "check_in", begins + timedelta(minutes=25)),
        scan("P-BA-2", "check_out", begins + timedelta(hours=2)),
        scan("P-NS-1", "check_in", begins, station="ST-BA-1", activity="M-branch_general_meeting"),
    ]))
    marked = client.post("/api/v1/activities/M-branch_general_meeting/leave",
                         headers=auth(secretary), json={"person": "P-BA-3", "reason": "出差"})
    assert marked.status_code == 200, marked.json
    sheet = marked.json
    states = {p["person"]: p["state"] for p in sheet["people"]}
    assert states == {"P-BA-1": "present", "P-BA-2": "late", "P-BA-3": "on_leave"}
    assert (sheet["expected"], sheet["present"], sheet["late"], sheet["on_leave"],
            sheet["absent"]) == (3, 1, 1, 1, 0)
    assert sheet["quorate"] is True and sheet["quorum_rule"] == "more_than_half"
    assert [v["person"] for v in sheet["visitors"]] == ["P-NS-1"]
    assert next(p for p in sheet["people"] if p["person"] == "P-BA-3")["leave_reason"] == "出差"
    month = client.get("/api/v1/organisations/BA-DW/meetings?month=2026-11",
                       headers=auth(secretary)).json
    assert [(m["activity"], m["attendance_rate"]) for m in month] == [
        ("M-branch_general_meeting", round(2 / 3, 4))]


def test_election_needs_more_than_four_fifths(client, make_device, make_user):
    secretary = make_user("branch_secretary", "BA-DW")
    begins = _meeting(client, secretary, kind="election")
    _, token = make_device()
    push(client, token, batch([scan("P-BA-1", "check_in", begins),
                               scan("P-BA-2", "check_in", begins)]))
    sheet = client.get("/api/v1/activities/M-election/attendance", headers=auth(secretary)).json
    assert (sheet["expected"], sheet["present"], sheet["absent"]) == (3, 2, 1)
    assert sheet["quorate"] is False and sheet["quorum_rule"] == "more_than_four_fifths"


def test_leave_only_for_the_roster_and_only_by_the_branch(client, world, make_user):
    secretary = make_user("branch_secretary", "BA-DW")
    _meeting(client, secretary)
    refused = client.post("/api/v1/activities/M-branch_general_meeting/leave",
                          headers=auth(secretary), json={"person": "P-NS-1", "reason": "x"})
    assert refused.status_code == 422 and refused.json["code"] == "not_on_roster"
    other = make_user("branch_secretary", "NS-DW")
    assert client.post("/api/v1/activities/M-branch_general_meeting/leave",
                       headers=auth(other),
                       json={"person": "P-BA-1", "reason": "x"}).status_code == 404
