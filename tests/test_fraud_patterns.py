"""Patterns of faked hours (sync/fraud.py; docs/pairing.md, section 4), on both
databases: each is flagged with its code when the scans show it and not when
they do not; flagged sessions wait for review with a sentence the secretary
reads; writer-computed flags appear and disappear with the evidence."""
from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select

from server.checkins.models import CheckinEvent
from server.extensions import db
from server.people.models import Person
from server.service_sessions.models import ServiceSession
from sync.protocol import haversine_m
from sync.timeutil import BUSINESS_TZ, local_today
from tests.conftest import auth
from tests.console_client import sign_in, username_of
from tests.sync_helpers import batch, push, scan

BA = (22.5562, 113.8890)  # ST-BA-1
NS = (22.5417, 113.9146)  # ST-NS-1, about 3 km away
#: 500 m north of ST-BA-1 (a degree of latitude is about 111.2 km).
NEAR_BA = (BA[0] + 500 / 111_195, BA[1])


def _when(hh_mm: str, days_ago: int = 2) -> datetime:
    """A local time of a day ``days_ago`` days back."""
    hours, minutes = (int(x) for x in hh_mm.split(":")[:2])
    seconds = int(hh_mm.split(":")[2]) if hh_mm.count(":") == 2 else 0
    day = local_today() - timedelta(days=days_ago)
    return datetime.combine(day, time(hours, minutes, seconds), BUSINESS_TZ)


def _station(world, code: str, where: tuple[float, float] | None) -> None:
    from server.stations.services import create_station
    create_station(world, {"code": code, "name": f"站点{code}", "kind": "party_mass_centre",
                           "area": "SZ-BA-XA", "host_organisation": "BA-ZB1",
                           "latitude": where[0] if where else None,
                           "longitude": where[1] if where else None,
                           "geofence_radius_m": 200, "address": "深圳"})
    db.session.commit()


def _sessions(person: str = "P-BA-1") -> list[ServiceSession]:
    """The person's sessions in time order."""
    db.session.expire_all()
    return db.session.scalars(select(ServiceSession).join(Person).where(
        Person.code == person).order_by(ServiceSession.key_at)).all()


def _flags(session: ServiceSession) -> set[str]:
    return {f for f in session.flags.split(",") if f}


def _tablets(make_device, *stations: str) -> dict[str, str]:
    """A tablet of each station: station code to token."""
    return {station: make_device(stations=[station])[1] for station in stations}


# -- impossible travel ------------------------------------------------------------------

def test_a_check_in_3_km_away_a_minute_later_is_impossible_travel(client, make_device,
                                                                  make_user):
    tablet = _tablets(make_device, "ST-BA-1", "ST-NS-1")
    push(client, tablet["ST-BA-1"], batch([scan("P-BA-1", "check_in", _when("09:00")),
                                           scan("P-BA-1", "check_out", _when("10:00"))]))
    push(client, tablet["ST-NS-1"], batch([scan("P-BA-1", "check_in", _when("10:01"),
                                                station="ST-NS-1"),
                                           scan("P-BA-1", "check_out", _when("12:00"),
                                                station="ST-NS-1")]))
    first, second = _sessions()
    for session in (first, second):
        assert "impossible_travel" in _flags(session)
        assert (session.derived_status, session.status) == ("ok", "needs_review")
        assert session.credited_seconds == 0 and session.pending_seconds > 0
    secretary = make_user("branch_secretary", "BA-ZB1")
    queue = client.get("/api/v1/sessions?needs_review=true&flag=impossible_travel",
                       headers=auth(secretary)).json
    assert {s["id"] for s in queue} == {second.key_event_id, first.key_event_id}
    assert all("impossible_travel" in s["flags"] for s in queue)
    assert client.get("/api/v1/sessions?needs_review=true&flag=overlapping_sessions",
                      headers=auth(secretary)).json == []


def test_two_stations_500_m_apart_20_minutes_between_scans_is_not_impossible_travel(
        client, world, make_device):
    _station(world, "ST-BA-2", NEAR_BA)
    assert 490 < haversine_m(*BA, *NEAR_BA) < 510
    tablet = _tablets(make_device, "ST-BA-1", "ST-BA-2")
    push(client, tablet["ST-BA-1"], batch([scan("P-BA-1", "check_in", _when("09:00")),
                                           scan("P-BA-1", "check_out", _when("10:00"))]))
    push(client, tablet["ST-BA-2"], batch([scan("P-BA-1", "check_in", _when("10:20"),
                                                station="ST-BA-2"),
                                           scan("P-BA-1", "check_out", _when("11:00"),
                                                station="ST-BA-2")]))
    assert [(s.status, s.flags) for s in _sessions()] == [("ok", ""), ("ok", "")]


def test_3_km_in_half_an_hour_and_stations_without_coordinates_are_not_impossible_travel(
        client, world, make_device):
    _station(world, "ST-NOWHERE", None)
    tablet = _tablets(make_device, "ST-BA-1", "ST-NS-1", "ST-NOWHERE")
    push(client, tablet["ST-BA-1"], batch([scan("P-BA-1", "check_in", _when("09:00")),
                                           scan("P-BA-1", "check_out", _when("10:00"))]))
    push(client, tablet["ST-NS-1"], batch([scan("P-BA-1", "check_in", _when("10:30"),
                                                station="ST-NS-1"),
                                           scan("P-BA-1", "check_out", _when("11:00"),
                                                station="ST-NS-1")]))
    push(client, tablet["ST-NOWHERE"], batch([scan("P-BA-1", "check_in", _when("11:00:30"),
                                                   station="ST-NOWHERE"),
                                              scan("P-BA-1", "check_out", _when("12:00"),
                                                   station="ST-NOWHERE")]))
    assert [(s.status, s.flags) for s in _sessions()] == [("ok", "")] * 3


def test_a_later_check_out_keeps_the_flag_that_the_scan_before_its_session_gave(
        client, make_device):
    """Re-pairing starts at the session before the new scan: the pair that
    enters it (a scan 3 km away a minute earlier) lies before the window."""
    tablet = _tablets(make_device, "ST-BA-1", "ST-NS-1")
    push(client, tablet["ST-BA-1"], batch([scan("P-BA-1", "check_in", _when("09:00"))]))
    push(client, tablet["ST-NS-1"], batch([scan("P-BA-1", "check_in", _when("09:01"),
                                                station="ST-NS-1")]))
    assert [("impossible_travel" in _flags(s), s.status) for s in _sessions()] == [
        (True, "missing_checkout"), (True, "open")]
    push(client, tablet["ST-NS-1"], batch([scan("P-BA-1", "check_out", _when("12:00"),
                                                station="ST-NS-1")]))
    assert [("impossible_travel" in _flags(s), s.status) for s in _sessions()] == [
        (True, "missing_checkout"), (True, "needs_review")]


def test_a_late_scan_before_a_flagged_session_takes_its_flag_away(client, make_device):
    """A check-out at the second station half a minute before its check-in
    arrives late: the impossible pair is now the first station's check-in
    and that check-out, and the pair entering the later session (stored,
    where re-pairing stops) lies at one station."""
    tablet = _tablets(make_device, "ST-BA-1", "ST-NS-1")
    push(client, tablet["ST-BA-1"], batch([scan("P-BA-1", "check_in", _when("09:00"))]))
    push(client, tablet["ST-NS-1"], batch([scan("P-BA-1", "check_in", _when("09:01"),
                                                station="ST-NS-1")]))
    push(client, tablet["ST-NS-1"], batch([scan("P-BA-1", "check_out", _when("09:00:30"),
                                                station="ST-NS-1")]))
    assert [("impossible_travel" in _flags(s), s.derived_status) for s in _sessions()] == [
        (True, "missing_checkout"), (True, "orphan_checkout"), (False, "open")]


# -- two places at once -----------------------------------------------------------------

def test_a_session_inside_a_check_in_and_check_out_elsewhere_is_two_places_at_once(
        client, make_device, make_user):
    """Two devices record one person at two stations: a check-in at A, a
    whole session at B, a check-out at A. Pairing leaves A's check-in
    without an end and its check-out alone; together they claim the time
    B's session is in."""
    tablet = _tablets(make_device, "ST-BA-1", "ST-NS-1")
    push(client, tablet["ST-BA-1"], batch([scan("P-BA-1", "check_in", _when("09:00")),
                                           scan("P-BA-1", "check_out", _when("12:00"))]))
    push(client, tablet["ST-NS-1"], batch([scan("P-BA-1", "check_in", _when("10:00"),
                                                station="ST-NS-1"),
                                           scan("P-BA-1", "check_out", _when("11:00"),
                                                station="ST-NS-1")]))
    sessions = _sessions()
    assert [(s.derived_status, s.status, _flags(s)) for s in sessions] == [
        ("missing_checkout", "missing_checkout", {"overlapping_sessions"}),
        ("ok", "needs_review", {"overlapping_sessions"}),
        ("orphan_checkout", "orphan_checkout", {"overlapping_sessions"})]
    secretary = make_user("branch_secretary", "BA-ZB1")
    flagged = client.get("/api/v1/sessions?flag=overlapping_sessions",
                         headers=auth(secretary)).json
    assert len(flagged) == 3


def test_one_station_after_another_and_a_claim_longer_than_a_session_are_not_overlaps(
        client, make_device):
    tablet = _tablets(make_device, "ST-BA-1", "ST-NS-1")
    # 09-10 at BA, 10:30-11:30 at NS: one after the other.
    push(client, tablet["ST-BA-1"], batch([scan("P-BA-1", "check_in", _when("09:00")),
                                           scan("P-BA-1", "check_out", _when("10:00"))]))
    push(client, tablet["ST-NS-1"], batch([scan("P-BA-1", "check_in", _when("10:30"),
                                                station="ST-NS-1"),
                                           scan("P-BA-1", "check_out", _when("11:30"),
                                                station="ST-NS-1")]))
    # P-BA-2: in at BA at 07:00, a session at NS, out at BA 13 hours later:
    # longer than any session counts (MAX_SESSION_S), so no claim.
    push(client, tablet["ST-BA-1"], batch([scan("P-BA-2", "check_in", _when("07:00")),
                                           scan("P-BA-2", "check_out", _when("20:00"))]))
    push(client, tablet["ST-NS-1"], batch([scan("P-BA-2", "check_in", _when("10:00"),
                                                station="ST-NS-1"),
                                           scan("P-BA-2", "check_out", _when("11:00"),
                                                station="ST-NS-1")]))
    assert [(s.status, s.flags) for s in _sessions()] == [("ok", ""), ("ok", "")]
    assert [(s.status, s.flags) for s in _sessions("P-BA-2")] == [
        ("missing_checkout", ""), ("ok", ""), ("orphan_checkout", "")]


def test_an_amendment_that_overlaps_another_station_flags_both_and_undoing_it_clears(
        client, make_device, make_user):
    tablet = _tablets(make_device, "ST-BA-1", "ST-NS-1")
    push(client, tablet["ST-BA-1"], batch([scan("P-BA-1", "check_in", _when("09:00")),
                                           scan("P-BA-1", "check_out", _when("10:00"))]))
    push(client, tablet["ST-NS-1"], batch([scan("P-BA-1", "check_in", _when("10:30"),
                                                station="ST-NS-1"),
                                           scan("P-BA-1", "check_out", _when("11:30"),
                                                station="ST-NS-1")]))
    at_ba, at_ns = _sessions()
    secretary = make_user("branch_secretary", "BA-ZB1")

    def amend(end: str):
        answer = client.post(f"/api/v1/sessions/{at_ba.key_event_id}/review",
                             headers=auth(secretary),
                             json={"decision": "amended", "reason": "时间有误",
                                   "start_at": _when("09:00").isoformat(),
                                   "end_at": _when(end).isoformat()})
        assert answer.status_code == 200, answer.json

    amend("11:00")
    assert [(s.status, s.flags) for s in _sessions()] == [
        ("amended", "overlapping_sessions"), ("needs_review", "overlapping_sessions")]
    amend("10:15")
    assert [(s.status, s.flags) for s in _sessions()] == [("amended", ""), ("ok", "")]


# -- a shared photo of the station's code -----------------------------------------------

def _signed_code(client, admin_token, station: str = "ST-BA-1") -> str:
    return client.get(f"/api/v1/stations/{station}/qr", headers=auth(admin_token)).json["url"]


def _north_of_ba(metres: float, accuracy_m: float = 20) -> dict:
    return {"lat": BA[0] + metres / 111_195, "lng": BA[1], "accuracy_m": accuracy_m}


def test_a_phone_scanning_the_printed_code_5_km_away_is_flagged(client, make_phone,
                                                                admin_token):
    code = _signed_code(client, admin_token)
    phone = make_phone("P-BA-1")
    far = _north_of_ba(5000)
    push(client, phone, batch([
        scan("P-BA-1", "check_in", _when("09:00"), station=None, qr=code, location=far),
        scan("P-BA-1", "check_out", _when("11:00"), station=None, qr=code, location=far)]))
    events = db.session.scalars(select(CheckinEvent)).all()
    assert all({"code_far_away", "outside_geofence"} <= set(e.flags.split(",")) for e in events)
    [session] = _sessions()
    assert "code_far_away" in _flags(session)
    assert (session.status, session.credited_seconds) == ("needs_review", 0)


def test_near_fixes_coarse_fixes_unsigned_scans_and_tablets_are_not_a_shared_code(
        client, make_phone, make_device, admin_token):
    code = _signed_code(client, admin_token)
    phone = make_phone("P-BA-1")
    push(client, phone, batch([
        # 300 m off: outside the geofence, not a photo scanned elsewhere.
        scan("P-BA-1", "check_in", _when("08:00"), station=None, qr=code,
             location=_north_of_ba(300)),
        # 1.5 km off but located to within 800 m: it may have been 700 m away.
        scan("P-BA-1", "check_out", _when("09:00"), station=None, qr=code,
             location=_north_of_ba(1500, accuracy_m=800)),
        # No signed code at all: unsigned_scan, not a shared code.
        scan("P-BA-1", "check_in", _when("10:00"), location=_north_of_ba(5000))]))
    _, tablet = make_device(stations=["ST-BA-1"])
    push(client, tablet, batch([scan("P-BA-2", "check_in", _when("10:00"), station=None,
                                     qr=code, location=_north_of_ba(5000))]))
    flags = [set(e.flags.split(",")) for e in db.session.scalars(
        select(CheckinEvent).order_by(CheckinEvent.effective_at, CheckinEvent.id))]
    assert not any("code_far_away" in f for f in flags)
    assert "unsigned_scan" in flags[2]


# -- backfill ---------------------------------------------------------------------------

def test_a_phone_sending_three_old_days_at_once_is_a_backfill(client, make_phone):
    phone = make_phone("P-BA-1")
    old = [scan("P-BA-1", kind, _when(hh_mm, days_ago=days))
           for days in (10, 12, 14) for kind, hh_mm in (("check_in", "09:00"),
                                                        ("check_out", "11:00"))]
    push(client, phone, batch(old + [scan("P-BA-1", "check_in", _when("09:00", days_ago=1))]))
    by_age = {e.event_id: set(e.flags.split(",")) for e in db.session.scalars(
        select(CheckinEvent))}
    assert [("backfilled_days" in by_age[e["id"]]) for e in old] == [True] * 6
    recent_one = [f for i, f in by_age.items() if i not in {e["id"] for e in old}]
    assert recent_one == [{"unsigned_scan"}]
    assert all("backfilled_days" in _flags(s) for s in _sessions()[:3])


@pytest.mark.parametrize("days", [(10, 12), (10, 10, 10)])
def test_fewer_than_three_old_days_in_a_batch_is_not_a_backfill(client, make_phone, days):
    phone = make_phone("P-BA-1")
    push(client, phone, batch([scan("P-BA-1", "check_in", _when(f"0{9 - n}:00", days_ago=age))
                               for n, age in enumerate(days)]
                              + [scan("P-BA-1", "check_in", _when("09:00", days_ago=2))]))
    assert not any("backfilled_days" in e.flags for e in db.session.scalars(
        select(CheckinEvent)))


def test_a_station_tablet_uploading_old_days_is_not_a_backfill(client, make_device):
    _, tablet = make_device()
    push(client, tablet, batch([scan("P-BA-1", "check_in", _when("09:00", days_ago=age))
                                for age in (10, 12, 14)]))
    assert not any(e.flags for e in db.session.scalars(select(CheckinEvent)))


# -- what the secretary reads -----------------------------------------------------------

def test_the_review_queue_says_why_and_filters_by_pattern_and_person(client, make_device,
                                                                     make_user):
    tablet = _tablets(make_device, "ST-BA-1", "ST-NS-1")
    for person in ("P-BA-1", "P-BA-2"):
        push(client, tablet["ST-BA-1"], batch([scan(person, "check_in", _when("09:00")),
                                               scan(person, "check_out", _when("10:00"))]))
        push(client, tablet["ST-NS-1"], batch([scan(person, "check_in", _when("10:01"),
                                                    station="ST-NS-1"),
                                               scan(person, "check_out", _when("11:00"),
                                                    station="ST-NS-1")]))
    secretary = make_user("branch_secretary", "BA-ZB1")
    assert sign_in(client, username_of(secretary), "password-123").status_code == 302
    page = client.get("/console/review?flag=impossible_travel").get_data(as_text=True)
    assert page.count("两次扫码的站点相距太远，其间的时间不可能到达") == 4
    only = client.get("/console/review?flag=impossible_travel&person=P-BA-2").get_data(
        as_text=True)
    assert "人P-BA-2" in only and "人P-BA-1" not in only
    assert "仅显示 P-BA-2 的服务记录" in only
    none = client.get("/console/review?flag=code_far_away").get_data(as_text=True)
    assert "人P-BA-1" not in none
    # The session's page says why it waits, though no scan of it is flagged.
    session = _sessions("P-BA-2")[0]
    page = client.get(f"/console/sessions/{session.key_event_id}").get_data(as_text=True)
    assert 'id="impossible_travel"' in page
    assert "两次扫码的站点相距太远，其间的时间不可能到达" in page


def test_the_suspicious_records_page_lists_people_and_stations_in_scope(
        app, client, make_device, make_phone, make_user, admin_token):
    tablet = _tablets(make_device, "ST-BA-1", "ST-NS-1")
    push(client, tablet["ST-BA-1"], batch([scan("P-BA-1", "check_in", _when("09:00")),
                                           scan("P-BA-1", "check_out", _when("10:00"))]))
    push(client, tablet["ST-NS-1"], batch([scan("P-BA-1", "check_in", _when("10:01"),
                                                station="ST-NS-1"),
                                           scan("P-BA-1", "check_out", _when("11:00"),
                                                station="ST-NS-1")]))
    code = _signed_code(client, admin_token)
    # Two phones of P-BA-2 (two sessions), one of P-BA-3.
    for person, hh_mm in (("P-BA-2", "13:00"), ("P-BA-2", "15:00"), ("P-BA-3", "13:00")):
        phone = make_phone(person)
        push(client, phone, batch([scan(person, "check_in", _when(hh_mm), station=None,
                                        qr=code, location=_north_of_ba(5000))]))
    month = _when("09:00").strftime("%Y-%m")
    period = f"from={month}-01&to={_when('09:00').date().isoformat()}"

    secretary = make_user("branch_secretary", "BA-DW")
    assert sign_in(client, username_of(secretary), "password-123").status_code == 302
    page = client.get(f"/console/flags?{period}").get_data(as_text=True)
    assert "可疑记录" in page
    people = page.split('id="suspect-people"')[1].split("</table>")[0]
    stations = page.split('id="suspect-stations"')[1].split("</table>")[0]
    assert "/console/people/P-BA-1" in people
    assert "/console/review?flag=impossible_travel&amp;person=P-BA-1" in people
    assert "/console/review?flag=code_far_away&amp;person=P-BA-2" in people
    assert "P-BA-3" in people
    row_ba = stations.split("(ST-BA-1)")[1].split("</tr>")[0]
    # impossible travel 1, overlapping 0, shared code 3 sessions (open), backfill 0; 3 phones.
    assert [cell.strip() for cell in row_ba.replace("</td>", "").split("<td>")[1:]] == [
        "1", "0", "3", "0", "3"]
    assert "(ST-NS-1)" in stations

    other, elsewhere = make_user("branch_secretary", "NS-ZB1"), app.test_client()
    assert sign_in(elsewhere, username_of(other), "password-123").status_code == 302
    theirs = elsewhere.get(f"/console/flags?{period}").get_data(as_text=True)
    assert "P-BA-1" not in theirs and "ST-BA-1" not in theirs
