"""What proves each hour (docs/trust.md), on both databases: the evidence of
scans and sessions, the policy on personal phones, and credited hours split
by what credits them in every report."""
from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta

from openpyxl import load_workbook
from sqlalchemy import select

from server.checkins.models import CheckinEvent
from server.extensions import db
from server.service_sessions.models import ServiceSession
from sync.timeutil import BUSINESS_TZ, local_today
from tests.conftest import auth
from tests.sync_helpers import batch, push, recent, scan

EIGHT_HOURS_LESS_A_MINUTE = timedelta(hours=7, minutes=59)


def _days_back(days: int) -> list[dict]:
    """Five check-in/check-out pairs of 7 h 59 min, ``days`` days back and the four before."""
    events = []
    for n in range(5):
        start = recent(24 * (days + n))
        events += [{"type": "check_in", "at": start},
                   {"type": "check_out", "at": start + EIGHT_HOURS_LESS_A_MINUTE}]
    return events


def _scans(person: str, station: str, shifts: list[dict]) -> list[dict]:
    """Scans naming only the station's code: no signed code, no location."""
    return [scan(person, s["type"], s["at"], station=station) for s in shifts]


def test_a_hostile_phones_old_unsigned_pairs_are_kept_but_not_credited(
        client, world, make_phone, make_device, make_user):
    """The issue's hostile push: a volunteer's own phone sends five pairs
    naming only a station code in another district, 300 days back. Stored,
    paired, credited nothing, in the branch's review queue with the reasons;
    the same scans from that station's own tablet are credited."""
    phone = make_phone("P-BA-1")
    answer = push(client, phone, batch(_scans("P-BA-1", "ST-NS-1", _days_back(300))))
    assert {r["status"] for r in answer.json["results"]} == {"accepted"}
    stored = db.session.scalars(select(CheckinEvent)).all()
    assert len(stored) == 10
    assert {e.evidence for e in stored} == {"none"}
    sessions = db.session.scalars(select(ServiceSession)).all()
    assert len(sessions) == 5
    for s in sessions:
        assert (s.status, s.credited_seconds, s.evidence) == ("needs_review", 0, "none")
        assert {"unsigned_scan", "late_upload"} <= set(s.flags.split(","))
        assert s.pending_seconds == EIGHT_HOURS_LESS_A_MINUTE.total_seconds()
    secretary = make_user("branch_secretary", "BA-ZB1")
    queue = client.get("/api/v1/sessions?needs_review=true&flag=unsigned_scan",
                       headers=auth(secretary)).json
    assert len(queue) == 5
    assert all({"unsigned_scan", "late_upload"} <= set(s["flags"]) for s in queue)
    assert all(s["evidence"] == "none" and s["credited_seconds"] == 0 for s in queue)

    _, tablet = make_device(stations=["ST-NS-1"])
    push(client, tablet, batch(_scans("P-NS-1", "ST-NS-1", _days_back(300))))
    theirs = db.session.scalars(select(ServiceSession).where(
        ServiceSession.station_id == sessions[0].station_id,
        ServiceSession.person_id != sessions[0].person_id)).all()
    assert len(theirs) == 5
    for s in theirs:
        assert (s.status, s.evidence, s.flags) == ("ok", "station_device", "")
        assert s.credited_seconds == EIGHT_HOURS_LESS_A_MINUTE.total_seconds()


def test_a_phones_scan_with_the_signed_code_is_credited_and_a_week_late_one_waits(
        client, world, make_phone, admin_token):
    phone = make_phone("P-BA-1")
    code = client.get("/api/v1/stations/ST-BA-1/qr", headers=auth(admin_token)).json["url"]
    fresh, late = recent(5), recent(24 * 8)

    def signed(kind, at):
        return scan("P-BA-1", kind, at, station=None, qr=code)

    push(client, phone, batch([signed("check_in", fresh),
                               signed("check_out", fresh + timedelta(hours=2)),
                               signed("check_in", late),
                               signed("check_out", late + timedelta(hours=2))]))
    by_start = {s.derived_start_at: s for s in db.session.scalars(select(ServiceSession))}
    now_one = by_start[fresh.replace(microsecond=0)]
    old_one = by_start[late.replace(microsecond=0)]
    assert (now_one.status, now_one.evidence, now_one.flags) == ("ok", "signed_code", "")
    assert (old_one.status, old_one.evidence, old_one.flags) == (
        "needs_review", "signed_code", "late_upload")


def _a_past_day():
    """01:00 of a day this month that has passed whole (of last month on the 1st)."""
    today = local_today()
    day = today.replace(day=1) if today.day > 1 else (today - timedelta(days=1))
    return datetime.combine(day, time(1), BUSINESS_TZ)


def test_reports_split_credited_hours_by_what_credits_them(
        client, world, make_device, make_phone, make_user, admin_token):
    """Hand-computed: 2 h proven by the tablet, 3 h of a phone's unsigned
    scans approved by the secretary, 1.5 h entered afterwards and approved
    by another, 4 h rejected. Credited 6.5 h = 2 + 3 + 1.5 in every report."""
    base = _a_past_day()
    _, tablet = make_device(stations=["ST-BA-1"])
    push(client, tablet, batch([scan("P-BA-1", "check_in", base),
                                scan("P-BA-1", "check_out", base + timedelta(hours=2))]))
    phone = make_phone("P-BA-1")
    later = base + timedelta(hours=3)
    push(client, phone, batch([scan("P-BA-1", "check_in", later),
                               scan("P-BA-1", "check_out", later + timedelta(hours=3))]))
    rejected_at = base + timedelta(hours=9)
    push(client, phone, batch([scan("P-BA-1", "check_in", rejected_at),
                               scan("P-BA-1", "check_out", rejected_at + timedelta(hours=4))]))
    entering, approving = make_user("branch_secretary", "BA-ZB1"), make_user(
        "branch_secretary", "BA-ZB1")
    entered_at = base + timedelta(hours=14)
    entered = client.post("/api/v1/sessions/retroactive", headers=auth(entering), json={
        "person": "P-BA-1", "station": "ST-BA-1", "start_at": entered_at.isoformat(),
        "end_at": (entered_at + timedelta(hours=1.5)).isoformat(), "reason": "手机没电"})
    assert entered.status_code == 201, entered.json
    waiting = {s["start_at"][11:16]: s["id"] for s in client.get(
        "/api/v1/sessions?needs_review=true", headers=auth(approving)).json}
    decisions = {"04:00": ("approved", None), "10:00": ("rejected", "不在站点"),
                 "15:00": ("approved", None)}
    for start, (decision, reason) in decisions.items():
        answer = client.post(f"/api/v1/sessions/{waiting[start]}/review",
                             headers=auth(approving),
                             json={"decision": decision, **({"reason": reason} if reason else {})})
        assert answer.status_code == 200, answer.json

    month = base.strftime("%Y-%m")
    expected = {"credited_seconds": 23400, "proven_seconds": 7200, "reviewed_seconds": 10800,
                "entered_seconds": 5400}
    for group in ("branch", "person", "station"):
        [row] = [r for r in client.get(
            f"/api/v1/reports/service-hours?group_by={group}&month={month}",
            headers=auth(admin_token)).json["rows"] if r["credited_seconds"]]
        assert {k: row[k] for k in expected} == expected, group
        assert row["proven_seconds"] + row["reviewed_seconds"] + row["entered_seconds"] \
            == row["credited_seconds"]
    sessions = client.get(f"/api/v1/sessions?from={month}-01", headers=auth(admin_token)).json
    by_evidence = {s["evidence"]: s["credited_by"] for s in sessions if s["credited_seconds"]}
    assert by_evidence == {"station_device": {"proven": 7200, "reviewed": 0, "entered": 0},
                           "none": {"proven": 0, "reviewed": 10800, "entered": 0},
                           "entered": {"proven": 0, "reviewed": 0, "entered": 5400}}

    text = client.get(f"/api/v1/reports/service-hours?group_by=branch&month={month}"
                      "&format=csv", headers=auth(admin_token)).data.decode("utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(text)))
    split = [header.index(name) for name in ("认定服务时长(小时)", "其中扫码证明(小时)",
                                             "其中审核认定(小时)", "其中事后补录(小时)")]
    [line] = [r for r in rows if r[0] == "BA-ZB1"]
    assert [float(line[n]) for n in split] == [6.5, 2.0, 3.0, 1.5]
    book = load_workbook(io.BytesIO(client.get(
        f"/api/v1/reports/service-hours?group_by=branch&month={month}&format=xlsx",
        headers=auth(admin_token)).data))
    values = [[cell.value for cell in r] for r in book.active.iter_rows(min_row=2)]
    [cells] = [v for v in values if v[0] == "BA-ZB1"]
    assert [cells[values[0].index(name)] for name in ("认定服务时长(小时)", "其中扫码证明(小时)",
                                                      "其中审核认定(小时)", "其中事后补录(小时)")
            ] == [6.5, 2.0, 3.0, 1.5]


def _display_of_st_ba_1(client, admin_token):
    """A display registered at ST-BA-1: (its code, its private key)."""
    from tests.test_displays import _new_key, _register
    private, public = _new_key()
    answer = _register(client, admin_token, public_key=public)
    assert answer.status_code == 201, answer.json
    return answer.json["code"], private


def _display_code(private, display, at, station="ST-BA-1", tamper=False) -> str:
    from sync.qr import display_url, display_window, sign_display
    window = display_window(at)
    signature = sign_display(private, station, display, window)
    if tamper:
        window += 1  # the signature was for another window
    return display_url("https://stations.example.test", station, display, window, signature)


def test_a_display_code_inside_its_window_proves_presence_and_others_are_flagged(
        client, world, admin_token, make_phone):
    """A phone's scans of a station screen's changing code: inside the code's
    window, `display_code` evidence, credited; a code carried away from the
    screen (scanned ten minutes after its window), flagged
    `display_code_expired`; one whose signature does not match, flagged
    `bad_display_code` (and, being no valid code of the station,
    `unsigned_scan`). All stored and paired; the flagged ones wait."""
    display, private = _display_of_st_ba_1(client, admin_token)
    phone = make_phone("P-BA-1")
    shifts = {"inside": recent(30), "expired": recent(20), "tampered": recent(10)}

    def pair(kind, start):
        scans = []
        for type_, at in (("check_in", start), ("check_out", start + timedelta(hours=2))):
            shown = at - timedelta(minutes=10) if kind == "expired" else at
            scans.append(scan("P-BA-1", type_, at, station=None,
                              qr=_display_code(private, display, shown,
                                               tamper=kind == "tampered")))
        return scans

    answer = push(client, phone, batch([e for k, s in shifts.items() for e in pair(k, s)]))
    assert {r["status"] for r in answer.json["results"]} == {"accepted"}
    by_start = {s.derived_start_at: s for s in db.session.scalars(select(ServiceSession))}
    inside, expired, tampered = (by_start[at.replace(microsecond=0)]
                                 for at in shifts.values())
    assert (inside.status, inside.evidence, inside.flags) == ("ok", "display_code", "")
    assert (expired.status, expired.evidence, expired.flags) == (
        "needs_review", "none", "display_code_expired")
    assert (tampered.status, tampered.evidence, tampered.flags) == (
        "needs_review", "none", "bad_display_code,unsigned_scan")
