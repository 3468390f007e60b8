"""Retroactive entries (补录): a session entered after the fact.

A volunteer served but no scan reached the server (a flat phone, a broken
tablet). docs/domain.md (rule 4): such entries "go through a separate, flagged,
approved procedure". Here that means:

- the entry is stored as a check-in and a check-out flagged ``retroactive``,
  with no device, beside the scans: sessions stay derived from events and
  nothing else, and pairing treats the pair like any other;
- the flag sends the session to review (``needs_review``, its hours pending);
- whoever entered it may reject it but not approve or amend it: another
  secretary of the branch, or someone higher up, certifies it.

An entry may not overlap a session the person already has: that session is
amended instead, so one stretch of service is never counted twice.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select

from server.activities.models import Activity
from server.audit.services import record_audit
from server.auth.policy import may_manage
from server.auth.principal import Principal
from server.checkins.event_store import insert_events
from server.common.listing import visible_one
from server.common.lookup import by_code
from server.db_types import utcnow
from server.errors import AppError, Conflict, Forbidden
from server.extensions import db
from server.people.models import Person
from server.service_sessions.models import RetroactiveEntry, ServiceSession
from server.pairing.writer import Touched, lock_people, rewrite
from server.stations.models import Station
from sync.evidence import ENTERED
from sync.protocol import RETROACTIVE, canonical_json, hash_text
from sync.timeutil import BUSINESS_TZ, format_rfc3339


def enter_retroactively(principal: Principal, data: dict) -> ServiceSession:
    """Record a session the person served without a scan; return it, paired.

    :param data: ``person``, ``station`` and optional ``activity`` codes,
        aware ``start_at`` and ``end_at``, and the ``reason``.
    :raise NotFound: an unknown code, or a person or activity the caller cannot see.
    :raise Forbidden: the session would count for a branch the caller does not manage.
    :raise AppError: ``invalid_times`` (422) or ``overlaps_session`` (409).
    """
    person = visible_one(Person, data["person"], "person", principal)
    station = by_code(Station, data["station"])
    activity = (visible_one(Activity, data["activity"], "activity", principal)
                if data.get("activity") else None)
    start, end = data["start_at"], data["end_at"]
    _check_times(start, end)
    branch = person.branch_on(start.astimezone(BUSINESS_TZ).date())
    if branch is None or not may_manage(principal, branch):
        raise Forbidden("You may enter service only for members of your own organisations "
                        "on that date.")
    lock_people([person.id])  # two entries for one person at once cannot both pass
    _refuse_overlap(person, start, end)

    entry = RetroactiveEntry(person_id=person.id, station_id=station.id,
                             activity_id=activity.id if activity else None,
                             start_at=start, end_at=end, reason=data["reason"],
                             entered_by_id=principal.user.id,
                             checkin_event_id=str(uuid.uuid4()),
                             checkout_event_id=str(uuid.uuid4()))
    db.session.add(entry)
    db.session.flush()
    insert_events([_event_row(entry, kind, person, station, activity)
                   for kind in ("check_in", "check_out")])
    rewrite({person.id: Touched(start, end)})
    session = session_of_entry(entry)
    record_audit(principal.actor, "enter_retroactive", "session", session.key_event_id,
                 reason=entry.reason, changes={
                     "person": [None, person.code], "station": [None, station.code],
                     "activity": [None, activity.code if activity else None],
                     "start_at": [None, start.isoformat()], "end_at": [None, end.isoformat()]})
    return session


def session_of_entry(entry: RetroactiveEntry) -> ServiceSession:
    """The session the entry's events were paired into."""
    ids = (entry.checkin_event_id, entry.checkout_event_id)
    return db.session.scalars(select(ServiceSession).where(or_(
        ServiceSession.key_event_id.in_(ids), ServiceSession.checkin_event_id.in_(ids),
        ServiceSession.checkout_event_id.in_(ids))).order_by(ServiceSession.key_at)).first()


def entries_of(session: ServiceSession) -> list[RetroactiveEntry]:
    """The retroactive entries whose events make up ``session``."""
    if RETROACTIVE not in session.flags.split(","):
        return []
    ids = [i for i in (session.checkin_event_id, session.checkout_event_id) if i]
    return list(db.session.scalars(select(RetroactiveEntry).where(or_(
        RetroactiveEntry.checkin_event_id.in_(ids),
        RetroactiveEntry.checkout_event_id.in_(ids))).order_by(RetroactiveEntry.id)))


def refuse_self_certification(principal: Principal, session: ServiceSession,
                              decision: str) -> None:
    """:raise Forbidden: ``decision`` would credit an entry the caller made."""
    if decision == "rejected":
        return  # withdrawing one's own entry is allowed
    if any(e.entered_by_id == principal.user.id for e in entries_of(session)):
        raise AppError("self_certification",
                       "A retroactive entry must be approved by someone other than "
                       "whoever entered it.", status=403)


def _check_times(start: datetime, end: datetime) -> None:
    config = current_app.config
    now = utcnow()
    problems = {}
    if end <= start:
        problems["end_at"] = ["must be after start_at"]
    elif end - start > timedelta(seconds=config["MAX_SESSION_S"]):
        problems["end_at"] = [f"an entry covers at most {config['MAX_SESSION_S'] // 3600} h; "
                              "enter each day on its own"]
    if end > now:
        problems.setdefault("end_at", []).append("must not be in the future")
    if start < now - timedelta(days=config["MAX_EVENT_AGE_DAYS"]):
        problems["start_at"] = [f"must be within {config['MAX_EVENT_AGE_DAYS']} days"]
    if problems:
        raise AppError("invalid_times", "The start and end of this entry do not fit.",
                       status=422, errors=problems)


def _refuse_overlap(person: Person, start: datetime, end: datetime) -> None:
    """:raise Conflict: ``overlaps_session`` naming a session of the person
    that touches [start, end] (a session without one end is a moment)."""
    low = func.coalesce(ServiceSession.derived_start_at, ServiceSession.derived_end_at)
    high = func.coalesce(ServiceSession.derived_end_at, ServiceSession.derived_start_at)
    clash = db.session.scalar(select(ServiceSession.key_event_id).where(
        ServiceSession.person_id == person.id, low <= end, high >= start)
        .order_by(ServiceSession.key_at).limit(1))
    if clash is not None:
        raise Conflict("overlaps_session",
                       "The person has a session at this time already; amend it instead.",
                       session=clash)


def _event_row(entry: RetroactiveEntry, kind: str, person: Person, station: Station,
               activity: Activity | None) -> dict:
    event_id = entry.checkin_event_id if kind == "check_in" else entry.checkout_event_id
    at = entry.start_at if kind == "check_in" else entry.end_at
    # What a device would have sent, plus where it came from instead.
    raw = {"id": event_id, "type": kind, "person": person.code, "station": station.code,
           "occurred_at": format_rfc3339(at), "retroactive_entry": entry.id}
    if activity is not None:
        raw["activity"] = activity.code
    text = canonical_json(raw)
    return {
        "event_id": event_id, "device_id": None, "batch_id": f"retroactive-{entry.id}",
        "seq": None, "type": kind, "person_id": person.id, "station_id": station.id,
        "activity_id": activity.id if activity else None, "qr_version": None,
        "occurred_at": at, "effective_at": at, "received_at": entry.entered_at,
        "clock_offset_s": 0.0, "latitude": None, "longitude": None, "accuracy_m": None,
        "distance_m": None, "flags": RETROACTIVE, "evidence": ENTERED,
        "content_hash": hash_text(text),
        "raw": text,
    }
