"""The demo data, loaded through the real push pipeline, on both databases:
what `python3 scripts/run_demo.py` shows a first visitor."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from server.checkins.models import CheckinEvent, QuarantinedEvent
from server.demo.seed import seed_demo
from server.extensions import db
from server.pairing.models import PairingDue
from server.service_sessions.models import ServiceSession


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


def test_demo_refuses_a_database_that_is_not_empty(app):
    seed_demo(days=1, people_per_branch=1)
    db.session.commit()
    with pytest.raises(RuntimeError, match="not empty"):
        seed_demo(days=1, people_per_branch=1)
