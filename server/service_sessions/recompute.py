"""Keeping stored sessions equal to the pairing of stored events.

After a push only the affected people are re-paired, and only from the
session before the earliest new event onward, so a batch costs what it
touches, not what history holds. Pairing is a left-to-right state machine
whose state resets at each session's first event, so re-pairing from there
gives the same sessions as re-pairing everything.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, delete, insert, or_, select

from server.activities.models import Activity
from server.checkins.models import CheckinEvent
from server.extensions import db
from server.people.models import Person
from server.service_sessions.models import Review, ServiceSession
from server.service_sessions.status import judge
from sync.pairing import EventRecord, PairingRules, pair_events
from sync.timeutil import local_date

#: A check-in this long before an activity's planned start counts as attending it.
ACTIVITY_EARLY_GRACE = timedelta(minutes=30)


def pairing_rules() -> PairingRules:
    config = current_app.config
    return PairingRules(debounce=timedelta(seconds=config["DEBOUNCE_S"]),
                        max_length=timedelta(seconds=config["MAX_SESSION_S"]))


def recompute_people(earliest: dict[int, tuple[datetime, str]]) -> None:
    """Re-pair each person from just before their earliest changed event.

    :param earliest: person id to the ``(effective_at, event_id)`` of the
        earliest event that was added for them.
    """
    rules = pairing_rules()
    for person_id in sorted(earliest):
        _recompute_person(person_id, *earliest[person_id], rules)


def _after(key_at_col, key_id_col, at, event_id):
    return or_(key_at_col > at, and_(key_at_col == at, key_id_col >= event_id))


def _recompute_person(person_id: int, at: datetime, event_id: str, rules: PairingRules) -> None:
    anchor = db.session.execute(
        select(ServiceSession.key_at, ServiceSession.key_event_id)
        .where(ServiceSession.person_id == person_id,
               or_(ServiceSession.key_at < at,
                   and_(ServiceSession.key_at == at, ServiceSession.key_event_id < event_id)))
        .order_by(ServiceSession.key_at.desc(), ServiceSession.key_event_id.desc())
        .limit(1)).first()
    from_at, from_id = (anchor.key_at, anchor.key_event_id) if anchor else (at, event_id)

    rows = db.session.execute(
        select(CheckinEvent.event_id, CheckinEvent.type, CheckinEvent.station_id,
               CheckinEvent.effective_at, CheckinEvent.flags, CheckinEvent.activity_id)
        .where(CheckinEvent.person_id == person_id,
               _after(CheckinEvent.effective_at, CheckinEvent.event_id, from_at, from_id))).all()
    records = [EventRecord(id=r.event_id, type=r.type, station=r.station_id,
                           effective_at=r.effective_at,
                           flags=frozenset(f for f in r.flags.split(",") if f),
                           activity=r.activity_id) for r in rows]
    sessions = pair_events(records, rules)

    db.session.execute(delete(ServiceSession).where(
        ServiceSession.person_id == person_id,
        _after(ServiceSession.key_at, ServiceSession.key_event_id, from_at, from_id)))
    if sessions:
        db.session.execute(insert(ServiceSession),
                           _session_rows(db.session.get(Person, person_id), sessions))


def _latest_reviews(key_ids: list[str]) -> dict[str, Review]:
    latest: dict[str, Review] = {}
    for review in db.session.scalars(select(Review).where(Review.key_event_id.in_(key_ids))
                                     .order_by(Review.created_at, Review.id)):
        latest[review.key_event_id] = review
    return latest


def _infer_activities(sessions) -> dict[str, int]:
    """Activities at the session's station whose window holds its start."""
    needing = [s for s in sessions if s.activity is None and s.start_at is not None]
    if not needing:
        return {}
    stations = {s.station for s in needing}
    low = min(s.start_at for s in needing) - timedelta(days=1)
    high = max(s.start_at for s in needing) + ACTIVITY_EARLY_GRACE
    candidates = db.session.execute(
        select(Activity.id, Activity.station_id, Activity.planned_start_at,
               Activity.planned_end_at)
        .where(Activity.station_id.in_(stations), Activity.planned_end_at >= low,
               Activity.planned_start_at <= high)
        .order_by(Activity.planned_start_at)).all()
    found = {}
    for session in needing:
        for activity in candidates:
            if (activity.station_id == session.station
                    and activity.planned_start_at - ACTIVITY_EARLY_GRACE <= session.start_at
                    <= activity.planned_end_at):
                found[session.key_event_id] = activity.id
                break
    return found


def _session_rows(person: Person, sessions) -> list[dict]:
    reviews = _latest_reviews([s.key_event_id for s in sessions])
    inferred = _infer_activities(sessions)
    rows = []
    for s in sessions:
        judged = judge(s.status, s.start_at, s.end_at, reviews.get(s.key_event_id))
        day = local_date(s.key_at)
        branch = person.branch_on(day)
        rows.append({
            "key_event_id": s.key_event_id, "key_at": s.key_at, "person_id": person.id,
            "station_id": s.station, "activity_id": s.activity or inferred.get(s.key_event_id),
            "checkin_event_id": s.checkin_id, "checkout_event_id": s.checkout_id,
            "derived_status": s.status, "derived_start_at": s.start_at,
            "derived_end_at": s.end_at, "status": judged.status, "start_at": judged.start_at,
            "end_at": judged.end_at, "review_stale": judged.review_stale,
            "flags": ",".join(sorted(s.flags | ({"repeat_scan"} if s.repeat_ids else set()))),
            "credited_seconds": judged.credited_seconds,
            "pending_seconds": judged.pending_seconds, "local_date": day,
            "branch_id": branch.id if branch else None,
        })
    return rows


def rebrand_sessions_from(person: Person, since) -> None:
    """Re-attribute a person's sessions from ``since`` after a branch move."""
    for session in db.session.scalars(select(ServiceSession).where(
            ServiceSession.person_id == person.id, ServiceSession.local_date >= since)):
        branch = person.branch_on(session.local_date)
        session.branch_id = branch.id if branch else None
