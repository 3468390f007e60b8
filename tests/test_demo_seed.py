"""The demo data, loaded through the real push pipeline, on both databases:
what `python3 scripts/run_demo.py` shows a first visitor."""
from __future__ import annotations

import random
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from server.activities.models import Activity
from server.checkins.models import CheckinEvent, QuarantinedEvent
from server.corrections.models import CorrectionRequest
from server.demo.seed import _shifts, seed_demo
from server.errors import Conflict
from server.extensions import db
from server.pairing.models import PairingDue
from server.service_sessions.models import RetroactiveEntry, ServiceSession
from sync.timeutil import BUSINESS_TZ


def test_demo_has_sessions_to_review_and_scans_in_quarantine(app):
    passwords = seed_demo(days=4, people_per_branch=4)
    assert set(passwords) == {"admin", "baoan", "secretary", "manager"}
    assert db.session.scalar(select(func.count()).select_from(CheckinEvent)) > 0
    # All paired: nothing waits in the queue, and the slips are there to review.
    assert db.session.scalar(select(func.count()).select_from(PairingDue)) == 0
    assert db.session.scalar(select(func.count()).select_from(ServiceSession).where(
        ServiceSession.status == "ok")) > 0
    waiting = db.session.execute(select(QuarantinedEvent.reason, QuarantinedEvent.missing_code)
                                 .where(QuarantinedEvent.status == "waiting")).all()
    assert sorted(map(tuple, waiting)) == [("malformed", None), ("unknown_person", "P-00O0001")]
    # The branch secretary's retroactive entry waits for someone else's approval.
    [entered] = db.session.scalars(select(ServiceSession).where(
        ServiceSession.flags == "retroactive")).all()
    assert entered.status == "needs_review" and entered.pending_seconds == 2 * 3600
    # And a member's correction request waits for the secretary's answer.
    from server.corrections.models import CorrectionRequest
    [asked] = db.session.scalars(select(CorrectionRequest)).all()
    assert asked.status == "open" and asked.session_id is None
    # Its tablets link their scans, as the apps do: every chain is whole.
    from server.devices.chain import verify_chain
    from server.devices.models import Device
    chains = [verify_chain(d) for d in db.session.scalars(select(Device)) if d.last_push_at]
    assert chains and all(c.linked_from_seq == 2 and c.breaks == [] for c in chains)


def test_demo_refuses_a_database_that_is_not_empty(app):
    seed_demo(days=1, people_per_branch=1)
    db.session.commit()
    with pytest.raises(Conflict, match="not empty"):
        seed_demo(days=1, people_per_branch=1)


#: Times of day the demo may be seeded at, relative to midnight: just after
#: it, before the morning (when yesterday's over-long shifts have not ended),
#: midday and just before the next midnight.
TIMES_OF_DAY = (time(0, 5), time(5, 0), time(12, 0), time(23, 59))


@pytest.mark.parametrize("at", TIMES_OF_DAY, ids=str)
def test_demo_shifts_never_end_after_the_time_they_are_made_at(at):
    day = datetime.now(BUSINESS_TZ).date() - timedelta(days=1)
    now = datetime.combine(day, at, BUSINESS_TZ)
    people = [f"P-{n}" for n in range(30)]
    events = []
    # Many draws, so that over-long shifts of the day before end after ``now``.
    for rng_seed in range(200):
        events += _shifts(random.Random(rng_seed), people, "ST", day - timedelta(days=2), 3, now)
    times = [datetime.fromisoformat(e["occurred_at"]).astimezone(BUSINESS_TZ) for e in events]
    assert max(times) <= now
    # Not by leaving days out: the day before is there, and the day itself
    # from the first shift's start (08:00) up to ``now``.
    assert any(t.date() == day - timedelta(days=1) for t in times)
    started = [t for t, e in zip(times, events) if t.date() == day and e["type"] == "check_in"]
    assert bool(started) == (at >= time(8))


@pytest.mark.parametrize("at", (time(0, 5), time(12, 0), time(23, 59)), ids=str)
def test_nothing_in_the_demo_lies_after_the_time_it_was_seeded(app, at):
    now = datetime.combine(datetime.now(BUSINESS_TZ).date() - timedelta(days=1), at,
                           BUSINESS_TZ)
    seed_demo(days=3, people_per_branch=6, now=now)
    latest = {
        "scan": select(func.max(CheckinEvent.occurred_at)),
        "session start": select(func.max(ServiceSession.start_at)),
        "session end": select(func.max(ServiceSession.end_at)),
        "retroactive entry": select(func.max(RetroactiveEntry.end_at)),
        "correction request": select(func.max(CorrectionRequest.end_at)),
        "activity": select(func.max(Activity.planned_end_at)),
    }
    found = {what: db.session.scalar(query) for what, query in latest.items()}
    assert all(found.values()), found
    assert {what: at for what, at in found.items() if at > now} == {}
