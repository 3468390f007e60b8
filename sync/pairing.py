"""Pairing one person's events into service sessions (sync-protocol.md).

A pure function: the same set of events gives the same sessions whatever
the order or batching of their arrival, because events are first sorted by
``(effective_at, id)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sync.protocol import REVIEW_FLAGS

OK = "ok"
OPEN = "open"
MISSING_CHECKOUT = "missing_checkout"
TOO_LONG = "too_long"
ORPHAN_CHECKOUT = "orphan_checkout"
NEEDS_REVIEW = "needs_review"
#: Derived statuses whose seconds are credited without review.
CREDITED_STATUSES = frozenset({OK})
#: Derived statuses whose seconds are pending until reviewed.
PENDING_STATUSES = frozenset({TOO_LONG, NEEDS_REVIEW})


@dataclass(frozen=True)
class PairingRules:
    debounce: timedelta = timedelta(minutes=10)
    max_length: timedelta = timedelta(hours=12)


@dataclass(frozen=True)
class EventRecord:
    id: str
    type: str
    station: int | str
    effective_at: datetime
    flags: frozenset = frozenset()
    activity: int | str | None = None

    @property
    def order_key(self):
        return (self.effective_at, self.id)


@dataclass
class Session:
    """A derived session; ``key_event_id`` is its first event's id."""

    key_event_id: str
    station: int | str
    status: str
    start_at: datetime | None
    end_at: datetime | None
    checkin_id: str | None = None
    checkout_id: str | None = None
    activity: int | str | None = None
    flags: frozenset = frozenset()
    #: Ids of repeat scans folded into this session (flagged ``repeat_scan``).
    repeat_ids: list[str] = field(default_factory=list)

    @property
    def key_at(self) -> datetime:
        return self.start_at if self.start_at is not None else self.end_at

    @property
    def length_seconds(self) -> int:
        if self.start_at is None or self.end_at is None:
            return 0
        return int((self.end_at - self.start_at).total_seconds())


def pair_events(events, rules: PairingRules = PairingRules()) -> list[Session]:
    """Turn one person's events into sessions, ordered by their first event.

    Steps, for each event in ``(effective_at, id)`` order:
    1. a check-in repeating the open check-in's station within the debounce
       window is folded into it as a repeat scan;
    2. any other check-in closes the open session as ``missing_checkout`` and
       opens a new one;
    3. a check-out at the open session's station closes it (``ok``,
       ``too_long`` or ``needs_review``);
    4. a check-out within the window after a check-out at the same station is
       a repeat scan of that check-out;
    5. any other check-out closes the open session as ``missing_checkout`` and
       stands alone as ``orphan_checkout``.
    A check-in left at the end is ``open``.
    """
    sessions: list[Session] = []
    open_session: Session | None = None
    open_event: EventRecord | None = None
    last_checkout: tuple[EventRecord, Session] | None = None

    for event in sorted(events, key=lambda e: e.order_key):
        if event.type == "check_in":
            if (open_event is not None and event.station == open_event.station
                    and event.effective_at - open_event.effective_at <= rules.debounce):
                open_session.repeat_ids.append(event.id)
                continue
            if open_session is not None:
                _close_without_end(open_session)
            open_event = event
            open_session = Session(key_event_id=event.id, station=event.station, status=OPEN,
                                   start_at=event.effective_at, end_at=None, checkin_id=event.id,
                                   activity=event.activity, flags=event.flags)
            sessions.append(open_session)
            last_checkout = None
            continue

        # A check-out.
        if open_session is not None and event.station == open_session.station:
            _close_with(open_session, event, rules)
            last_checkout = (event, open_session)
            open_session = open_event = None
            continue
        if (last_checkout is not None and open_session is None
                and event.station == last_checkout[0].station
                and event.effective_at - last_checkout[0].effective_at <= rules.debounce):
            last_checkout[1].repeat_ids.append(event.id)
            continue
        if open_session is not None:
            _close_without_end(open_session)
            open_session = open_event = None
        orphan = Session(key_event_id=event.id, station=event.station, status=ORPHAN_CHECKOUT,
                         start_at=None, end_at=event.effective_at, checkout_id=event.id,
                         activity=event.activity, flags=event.flags)
        sessions.append(orphan)
        last_checkout = (event, orphan)
    return sessions


def _close_without_end(session: Session) -> None:
    session.status = MISSING_CHECKOUT


def _close_with(session: Session, checkout: EventRecord, rules: PairingRules) -> None:
    session.end_at = checkout.effective_at
    session.checkout_id = checkout.id
    session.flags = session.flags | checkout.flags
    if session.activity is None:
        session.activity = checkout.activity
    if session.end_at - session.start_at > rules.max_length:
        session.status = TOO_LONG
    elif session.flags & REVIEW_FLAGS:
        session.status = NEEDS_REVIEW
    else:
        session.status = OK
