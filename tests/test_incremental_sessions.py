"""Stored sessions always equal a full pairing of stored events, however
events arrive, judged with their whole days and whole histories (the limits
of a day, impossible travel, overlapping sessions); and a push touches only
the sessions of its people."""
from __future__ import annotations

import random
import uuid
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from server.checkins.models import CheckinEvent
from server.extensions import db
from server.people.models import Person
from server.service_sessions.models import ServiceSession
from server.pairing.travel import travel_rules
from server.pairing.windows import pairing_rules
from server.stations.models import Station
from sync import fraud
from sync.daily_limit import DaySession, over_daily_limit
from sync.pairing import NEEDS_REVIEW, OK, EventRecord, pair_events
from sync.timeutil import local_date
from tests.sync_helpers import batch, push, recent, scan

PEOPLE = ["P-BA-1", "P-BA-2", "P-BA-3"]


def _random_events(rng: random.Random, count: int) -> list[dict]:
    events = []
    for _ in range(count):
        when = recent(rng.uniform(1, 24 * 6))
        events.append(scan(rng.choice(PEOPLE), rng.choice(["check_in", "check_out"]),
                           when, station=rng.choice(["ST-BA-1", "ST-BA-1", "ST-NS-1"])))
    return events


def _stored_sessions(judged: bool = True):
    """Each stored session's pairing and, when ``judged``, its status and flags."""
    db.session.expire_all()
    return sorted((s.person_id, s.key_event_id, s.derived_status, s.derived_start_at,
                   s.derived_end_at, s.checkout_event_id, s.over_daily_limit)
                  + ((s.status, s.flags) if judged else ())
                  for s in db.session.scalars(select(ServiceSession)))


def _full_pairing(judged: bool = True):
    """Every person's events paired at once, each session with whether the
    daily limit (no reviews here) sends it to review; when ``judged``, its
    status and flags, from each person's whole history (impossible travel)
    and whole days (overlapping sessions)."""
    config = current_app.config
    rows = db.session.execute(select(CheckinEvent)).scalars().all()
    by_person: dict[int, list] = {}
    for r in rows:
        by_person.setdefault(r.person_id, []).append(EventRecord(
            id=r.event_id, type=r.type, station=r.station_id, effective_at=r.effective_at,
            flags=frozenset(f for f in r.flags.split(",") if f)))
    coordinates = {s.id: (s.latitude, s.longitude) for s in db.session.scalars(select(Station))}
    sessions, travelled = [], set()
    for person, events in by_person.items():
        sessions += [(person, s) for s in pair_events(events, pairing_rules())]
        travelled |= fraud.impossible_travel(
            sorted((fraud.Scan(e.id, e.station, e.effective_at) for e in events),
                   key=lambda e: (e.at, e.id)), coordinates, travel_rules())
    days: dict[tuple, list] = {}
    for person, s in sessions:
        days.setdefault((person, local_date(s.key_at)), []).append(s)
    over, overlapping = set(), set()
    for day in days.values():
        over |= over_daily_limit(
            [DaySession(s.key_event_id, s.key_at, s.length_seconds if s.status == OK else 0,
                        None) for s in day],
            config["DAILY_REVIEW_S"], config["DAILY_PAIRS_PER_ACTIVITY"])
        overlapping |= fraud.overlapping_sessions(
            [fraud.DaySession(s.key_event_id, s.key_at, s.station, s.start_at, s.end_at)
             for s in day], timedelta(seconds=config["MAX_SESSION_S"]))
    found = []
    for person, s in sessions:
        flags = set(s.flags)
        if s.repeat_ids:
            flags.add("repeat_scan")
        if {s.checkin_id, s.checkout_id, *s.repeat_ids} & travelled:
            flags.add(fraud.IMPOSSIBLE_TRAVEL)
        if s.key_event_id in overlapping:
            flags.add(fraud.OVERLAPPING_SESSIONS)
        held = s.key_event_id in over or bool(flags & set(fraud.WRITER_FLAGS))
        found.append((person, s.key_event_id, s.status, s.start_at, s.end_at, s.checkout_id,
                      s.key_event_id in over)
                     + ((NEEDS_REVIEW if held and s.status == OK else s.status,
                         ",".join(sorted(flags))) if judged else ()))
    return sorted(found)


def _flagged(flag: str) -> int:
    return sum(flag in s[-1].split(",") for s in _stored_sessions())


def test_random_batches_in_random_order_equal_a_full_pairing(client, make_device):
    _, token = make_device(stations=["ST-BA-1", "ST-NS-1"])
    rng = random.Random(7)
    events = _random_events(rng, 120)
    rng.shuffle(events)
    position = 0
    while position < len(events):
        size = rng.randint(1, 25)
        response = push(client, token, batch(events[position:position + size]))
        assert response.status_code == 200
        position += size
        assert _stored_sessions() == _full_pairing()
    # Some days went past the daily limit, and some scans 3 km apart were
    # minutes apart, so that bookkeeping was checked too.
    assert any(s[6] for s in _stored_sessions())
    assert _flagged(fraud.IMPOSSIBLE_TRAVEL)
    # Replaying a random subset in another batching changes nothing.
    before = _stored_sessions()
    push(client, token, batch(rng.sample(events, 40)))
    assert _stored_sessions() == before


def test_dense_scans_in_random_batches_equal_a_full_pairing(client, make_device):
    """Scans minutes apart, many at the same second and within the debounce
    window: where re-pairing may stop is decided at every kind of edge."""
    _, token = make_device(stations=["ST-BA-1", "ST-NS-1"])
    events = []
    for seed in (4, 7):  # seeds whose ties broke the re-pairing before the fix
        events += _dense_events(random.Random(seed))
    rng = random.Random(0)
    rng.shuffle(events)
    position = 0
    while position < len(events):
        size = rng.randint(1, 12)
        assert push(client, token, batch(events[position:position + size])).status_code == 200
        position += size
        assert _stored_sessions() == _full_pairing()
    # Both flags judged from more than the re-paired window were at stake.
    assert _flagged(fraud.IMPOSSIBLE_TRAVEL) and _flagged(fraud.OVERLAPPING_SESSIONS)


def _dense_events(rng: random.Random) -> list[dict]:
    events = [scan(rng.choice(PEOPLE[:2]), rng.choice(["check_in", "check_out"]),
                   recent(rng.randint(60, 60 * 12) / 60), station=rng.choice(
                       ["ST-BA-1", "ST-BA-1", "ST-NS-1"]))
              for _ in range(150)]
    for event in events:
        # Ids from the seed, so that a failure repeats; whole minutes, so
        # that scans tie at one instant and their ids decide the order.
        event["id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        event["occurred_at"] = event["occurred_at"][:17] + "00" + event["occurred_at"][19:]
    return events


def test_a_scan_tied_with_the_restart_session_stays_with_the_session_before(client,
                                                                            make_device):
    """A check-out and a check-in at the same second: the check-out (lower
    id) closes the first session, the check-in opens the second. A later
    scan re-pairs from the second session; the tied check-out must not be
    paired again from there, where it would stand alone as an orphan."""
    _, token = make_device()
    first_in, tie = recent(5), recent(4)
    push(client, token, batch([
        {**scan("P-BA-1", "check_in", first_in), "id": "aaaaaaaa-0000-4000-8000-000000000001"},
        {**scan("P-BA-1", "check_out", tie), "id": "aaaaaaaa-0000-4000-8000-000000000002"},
        {**scan("P-BA-1", "check_in", tie), "id": "ffffffff-0000-4000-8000-000000000003"}]))
    assert [s[2] for s in _stored_sessions()] == ["ok", "open"]
    push(client, token, batch([scan("P-BA-1", "check_out", recent(3))]))
    assert _stored_sessions() == _full_pairing()
    assert [s[2] for s in _stored_sessions()] == ["ok", "ok"]


def test_a_push_leaves_other_peoples_sessions_untouched(client, make_device):
    _, token = make_device()
    push(client, token, batch([scan("P-BA-2", "check_in", recent(30)),
                               scan("P-BA-2", "check_out", recent(28)),
                               scan("P-BA-1", "check_in", recent(30))]))
    other = db.session.scalar(select(Person.id).where(Person.code == "P-BA-2"))
    before = [(s.id, s.updated_at) for s in db.session.scalars(
        select(ServiceSession).where(ServiceSession.person_id == other))]
    push(client, token, batch([scan("P-BA-1", "check_out", recent(29))]))
    db.session.expire_all()
    after = [(s.id, s.updated_at) for s in db.session.scalars(
        select(ServiceSession).where(ServiceSession.person_id == other))]
    assert after == before


def test_late_event_splits_an_old_session_and_repairs_the_tail(client, make_device):
    _, token = make_device()
    start = recent(10)
    push(client, token, batch([scan("P-BA-1", "check_in", start),
                               scan("P-BA-1", "check_out", start + timedelta(hours=8))]))
    assert [s[2] for s in _stored_sessions()] == ["ok"]
    # A check-out and a new check-in recorded offline in between arrive later.
    push(client, token, batch([scan("P-BA-1", "check_out", start + timedelta(hours=2)),
                               scan("P-BA-1", "check_in", start + timedelta(hours=6))]))
    assert [s[2] for s in sorted(_stored_sessions(), key=lambda s: s[3])] == ["ok", "ok"]
    assert _stored_sessions() == _full_pairing()


def _daily_sessions(person: str, days: range) -> list[dict]:
    """A check-in at the station and a check-out two hours later, each day."""
    return [scan(person, kind, recent(day * 24 - hours))
            for day in days for kind, hours in (("check_in", 0), ("check_out", 2))]


def _tamper_with_latest_session(person_code: str) -> int:
    """Mark the person's latest stored session, as re-pairing never would."""
    person = db.session.scalar(select(Person.id).where(Person.code == person_code))
    latest = db.session.scalars(select(ServiceSession).where(ServiceSession.person_id == person)
                                .order_by(ServiceSession.key_at.desc())).first()
    latest.flags = "tampered"
    db.session.commit()
    return latest.id


def _flags_of(session_id: int) -> str:
    db.session.expire_all()
    return db.session.get(ServiceSession, session_id).flags


def test_a_late_event_re_pairs_only_up_to_where_the_pairings_meet(client, make_device):
    """A device that uploads last week's scans must not cost a re-pairing of
    everything each person did since: re-pairing stops at the first stored
    session after the new events when the new pairing starts it too."""
    _, token = make_device()
    assert push(client, token, batch(_daily_sessions("P-BA-1", range(6, 0, -1)))).status_code == 200
    tampered = _tamper_with_latest_session("P-BA-1")
    late_day = recent(4 * 24 - 5)
    push(client, token, batch([scan("P-BA-1", "check_in", late_day),
                               scan("P-BA-1", "check_out", late_day + timedelta(hours=1))]))
    assert len(_stored_sessions()) == 7
    assert _stored_sessions(judged=False) == _full_pairing(judged=False)
    # Two days later than the stop: neither read nor written.
    assert _flags_of(tampered) == "tampered"


def test_a_late_event_that_changes_the_next_session_re_pairs_to_the_end(client, make_device):
    """A late check-in just before the next session's check-in, at the same
    station within the debounce window, folds that check-in in as a repeat
    scan: the pairings do not meet there, so re-pairing goes on to the end."""
    _, token = make_device()
    push(client, token, batch(_daily_sessions("P-BA-1", range(3, 0, -1))))
    tampered = _tamper_with_latest_session("P-BA-1")
    second_day_in = recent(2 * 24)
    push(client, token, batch([scan("P-BA-1", "check_in",
                                    second_day_in - timedelta(minutes=5))]))
    assert _stored_sessions() == _full_pairing()
    assert len(_stored_sessions()) == 3
    assert _flags_of(tampered) != "tampered"


def test_the_daily_limit_weighs_the_whole_day_not_just_the_repaired_window(client,
                                                                           make_device):
    """Re-pairing starts at the session before the new scans; the day's
    earlier sessions still count towards its limit."""
    _, token = make_device()
    day = recent(24 * 3).replace(hour=0, minute=0, second=0, microsecond=0)
    shifts = [(1, 3), (5, 3)]  # 09-12 and 13-16 in Shanghai: 6 h
    push(client, token, batch([scan("P-BA-1", kind, day + timedelta(hours=start + hours * n))
                               for start, hours in shifts
                               for n, kind in enumerate(("check_in", "check_out"))]))
    push(client, token, batch([scan("P-BA-1", "check_in", day + timedelta(hours=9)),
                               scan("P-BA-1", "check_out", day + timedelta(hours=12))]))
    stored = sorted(_stored_sessions(), key=lambda s: s[3])
    assert [s[6] for s in stored] == [False, False, True]
    assert stored == sorted(_full_pairing(), key=lambda s: s[3])
