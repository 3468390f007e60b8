"""Quarantine is not a dead end: replaying events once they can count.

Events waiting for a person, station or activity are replayed automatically
when it is created; an administrator can replay (optionally repaired) or
dismiss any waiting event. The quarantined row keeps the raw event as sent.
"""
from __future__ import annotations

import json

from sqlalchemy import select

from server.audit.services import record_audit
from server.checkins.event_store import insert_events
from server.checkins.models import QUARANTINE_OPEN, CheckinEvent, QuarantinedEvent
from server.checkins.resolve import load_context, resolve_event
from server.db_types import utcnow
from server.errors import AppError
from server.extensions import db
from server.pairing import queue as pairing_queue
from server.pairing.writer import Touched
from sync.protocol import LONE_SURROGATE, EventRejected, hash_text, parse_event, stored_text


def listing(status: str, reason: str | None = None):
    """The quarantine as administrators list it: entries of ``status`` (and
    ``reason``), oldest first, as a SELECT to page through."""
    query = select(QuarantinedEvent).where(QuarantinedEvent.status == status)
    if reason:
        query = query.where(QuarantinedEvent.reason == reason)
    return query.order_by(QuarantinedEvent.id)


def reprocess_waiting_for(kind: str, code: str) -> int:
    """Replay events waiting for the ``kind`` (person/station/activity) ``code``.

    :return: how many now count.
    """
    waiting = list(db.session.scalars(
        select(QuarantinedEvent).where(QuarantinedEvent.status == "waiting",
                                       QuarantinedEvent.reason == f"unknown_{kind}",
                                       QuarantinedEvent.missing_code == code)
        .order_by(QuarantinedEvent.id)))
    return sum(replay(entry, "system") for entry in waiting)


def reprocess_out_of_scope(device) -> int:
    """Replay ``device``'s events that waited for its scope to cover them
    (after an administrator changed it). :return: how many now count."""
    waiting = list(db.session.scalars(
        select(QuarantinedEvent).where(QuarantinedEvent.status == "waiting",
                                       QuarantinedEvent.reason == "out_of_scope",
                                       QuarantinedEvent.device_id == device.id)
        .order_by(QuarantinedEvent.id)))
    return sum(replay(entry, "system") for entry in waiting)


def replay(entry: QuarantinedEvent, actor: str, repaired: dict | None = None) -> bool:
    """Judge a quarantined event again, as its push would have.

    :param repaired: corrected event JSON from an administrator; the id must
        stay the same, and the original raw text is kept on the entry.
    :return: whether it now counts. If not, the entry's reason is updated.
    :raise AppError: ``not_waiting`` for a resolved or dismissed entry,
        ``id_changed`` when a repair changes the event id.
    """
    if entry.status not in QUARANTINE_OPEN:
        raise AppError("not_waiting", "This event is no longer waiting.", status=409)
    raw = repaired if repaired is not None else json.loads(entry.raw)
    try:
        text, whole = stored_text(raw)
        if not whole:
            raise EventRejected("malformed", LONE_SURROGATE)
        event = parse_event(raw)
        if entry.event_id is not None and event.id != entry.event_id:
            raise AppError("id_changed", "A repair must keep the event id.", status=422)
        if db.session.scalar(select(CheckinEvent.id).where(CheckinEvent.event_id == event.id)):
            raise EventRejected("id_reused", "an event with this id counts already")
        ctx = load_context(entry.device, [event], entry.received_at, entry.clock_offset_s,
                           entry.batch_id)
        row = resolve_event(event, text, hash_text(text), ctx)
    except EventRejected as rejected:
        entry.reason, entry.message = rejected.code, rejected.message
        entry.missing_code = rejected.missing_code
        return False
    if not insert_events([row]):
        return False
    entry.status = "resolved"
    entry.resolved_at = utcnow()
    entry.resolved_by = actor
    # Paired by the pairing worker, as a pushed scan is.
    pairing_queue.enqueue({row["person_id"]: Touched(row["effective_at"], row["effective_at"])},
                          None, utcnow(), more_to_come=False)
    return True


def replay_for_administrator(entry: QuarantinedEvent, actor: str,
                             repaired: dict | None = None) -> bool:
    """``replay`` on an administrator's word (the API's and the console's), on the trail."""
    counts = replay(entry, actor, repaired)
    record_audit(actor, "replay_quarantined", "quarantined_event", str(entry.id),
                 changes={"status": [None, entry.status]})
    return counts


def dismiss_for_administrator(entry: QuarantinedEvent, actor: str, reason: str) -> None:
    """``dismiss`` on an administrator's word, on the trail with the reason."""
    dismiss(entry, actor, reason)
    record_audit(actor, "dismiss_quarantined", "quarantined_event", str(entry.id),
                 reason=reason)


def dismiss(entry: QuarantinedEvent, actor: str, reason: str) -> None:
    if entry.status not in QUARANTINE_OPEN:
        raise AppError("not_waiting", "This event is no longer waiting.", status=409)
    entry.status = "dismissed"
    entry.resolved_at = utcnow()
    entry.resolved_by = actor
    entry.message = f"{entry.message} | dismissed: {reason}"[:2000]
