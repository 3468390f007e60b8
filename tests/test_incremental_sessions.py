"""Stored sessions always equal a full pairing of stored events, however
events arrive; and a push touches only the sessions of its people."""
from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import select

from server.checkins.models import CheckinEvent
from server.extensions import db
from server.people.models import Person
from server.service_sessions.models import ServiceSession
from server.service_sessions.recompute import pairing_rules
from sync.pairing import EventRecord, pair_events
from tests.sync_helpers import batch, push, recent, scan

PEOPLE = ["P-BA-1", "P-BA-2", "P-BA-3"]


def _random_events(rng: random.Random, count: int) -> list[dict]:
    events = []
    for _ in range(count):
        when = recent(rng.uniform(1, 24 * 6))
        events.append(scan(rng.choice(PEOPLE), rng.choice(["check_in", "check_out"]),
                           when, station=rng.choice(["ST-BA-1", "ST-BA-1", "ST-NS-1"])))
    return events


def _stored_sessions():
    db.session.expire_all()
    return sorted((s.person_id, s.key_event_id, s.derived_status, s.derived_start_at,
                   s.derived_end_at, s.checkout_event_id)
                  for s in db.session.scalars(select(ServiceSession)))


def _full_pairing():
    rows = db.session.execute(select(CheckinEvent)).scalars().all()
    by_person: dict[int, list] = {}
    for r in rows:
        by_person.setdefault(r.person_id, []).append(EventRecord(
            id=r.event_id, type=r.type, station=r.station_id, effective_at=r.effective_at,
            flags=frozenset(f for f in r.flags.split(",") if f)))
    return sorted((person, s.key_event_id, s.status, s.start_at, s.end_at, s.checkout_id)
                  for person, events in by_person.items()
                  for s in pair_events(events, pairing_rules()))


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
    # Replaying a random subset in another batching changes nothing.
    before = _stored_sessions()
    push(client, token, batch(rng.sample(events, 40)))
    assert _stored_sessions() == before


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
