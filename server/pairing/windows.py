"""Which part of a person's history a change can alter, and its pairing.

Pairing (sync/pairing.py) is a left-to-right state machine whose state
resets at each session's first event. So after events are added between
two times, re-pairing from the stored session before the first of them up
to the stored session after the last (if the new pairing starts a session
with that same event) gives the same sessions as re-pairing everything:
a batch costs what it touches, not what history holds before or after it
(docs/pairing.md).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from flask import current_app

from server.common.rawsql import RawSql, read_time
from server.extensions import db
from server.pairing.history import kinds, tails
from sync.pairing import EventRecord, PairingRules, Session, pair_events

#: The upper bound of a window that runs to the end of a person's history.
END = datetime(9999, 12, 31, tzinfo=timezone.utc)


class Touched(NamedTuple):
    """When the changes for a person lie: re-pairing must cover them."""
    since: datetime
    #: The latest of them; None: re-pair to the end of the person's history.
    until: datetime | None


class Window(NamedTuple):
    """The part of a person's history to re-pair: from ``start`` (a stored
    session's first event time, or the earliest change's) to ``stop`` (the
    first stored session after the changes, or ``END``)."""
    start: datetime
    stop: datetime
    #: ``start`` is a stored session's: events at that instant ordered
    #: before the first session there belong to the session before.
    start_is_a_session: bool


def pairing_rules() -> PairingRules:
    config = current_app.config
    return PairingRules(debounce=timedelta(seconds=config["DEBOUNCE_S"]),
                        max_length=timedelta(seconds=config["MAX_SESSION_S"]))


def windows_of(touched: dict[int, Touched]) -> dict[int, Window]:
    """Per person, where re-pairing starts and where it may stop.

    Start: the latest session that starts before their earliest change (its
    first event, in pairing's ``(effective_at, id)`` order), or that
    change's time if none does. Stop: the first stored session that starts
    after the latest change (``cut_where_pairings_meet`` decides whether
    the pairing may stop there). One statement of indexed look-ups
    (``person_id, key_at``), two per person; driver-level SQL because
    building it as hundreds of expression objects cost more than running it.
    """
    raw = RawSql(db.session.connection())
    people = [(p, t.since, t.until or END) for p, t in touched.items()]
    source, params = raw.person_times(people, ("t", "u"))
    sql = ("SELECT (SELECT s.key_at FROM service_session s WHERE s.person_id = w.pid "
           "AND s.key_at < w.t ORDER BY s.key_at DESC LIMIT 1), "
           "(SELECT s.key_at FROM service_session s WHERE s.person_id = w.pid "
           f"AND s.key_at > w.u ORDER BY s.key_at LIMIT 1) FROM {source} ORDER BY w.n")
    return {person_id: Window(read_time(start) if start is not None else since,
                              read_time(stop) if stop is not None else END,
                              start is not None)
            for (person_id, since, _), (start, stop) in zip(people, raw.fetch(sql, params))}


#: Columns of a stored session that re-pairing compares and rewrites.
STORED_COLUMNS = ("key_at", "person_id", "station_id", "activity_id", "checkin_event_id",
                  "checkout_event_id", "derived_status", "derived_start_at", "derived_end_at",
                  "status", "start_at", "end_at", "review_stale", "flags", "credited_seconds",
                  "pending_seconds", "reviewed_seconds", "entered_seconds", "evidence",
                  "local_date", "branch_id", "over_daily_limit")
STORED_KINDS = kinds(("id", "key_event_id", *STORED_COLUMNS))
_EVENT_KINDS = kinds(("person_id", "event_id", "type", "station_id", "effective_at", "flags",
                      "activity_id", "evidence"))


class Repairing(NamedTuple):
    """What re-pairing the windows gives: per person, the derived sessions,
    the stored rows they replace, and the window finally used; and each
    event's evidence (sync/evidence.py) by event id. Per person also the
    events paired (read up to the window's stop, that instant included)
    and the stored session at the stop, which the new pairing meets and
    leaves as stored (server/pairing/travel.py reads both)."""
    derived: dict[int, list[Session]]
    replaced: list
    windows: dict[int, Window]
    evidence: dict[str, str]
    events: dict[int, list[EventRecord]]
    stops: dict[int, object]


def pair_windows(windows: dict[int, Window], rules: PairingRules) -> Repairing:
    """Pair each person's events within their window.

    For a window with a stop, the derived sessions and replaced rows are
    those before the point where the pairings meet; a person whose pairings
    do not meet there is paired again to the end of their history.
    """
    events: dict[int, list[EventRecord]] = {p: [] for p in windows}
    evidence: dict[str, str] = {}
    for r in tails("checkin_event", "effective_at", windows, _EVENT_KINDS):
        events[r.person_id].append(EventRecord(
            id=r.event_id, type=r.type, station=r.station_id, effective_at=r.effective_at,
            flags=frozenset(f for f in r.flags.split(",") if f), activity=r.activity_id))
        evidence[r.event_id] = r.evidence
    stored_by_person: dict[int, list] = {p: [] for p in windows}
    for r in tails("service_session", "key_at", windows, STORED_KINDS):
        stored_by_person[r.person_id].append(r)

    result = Repairing({}, [], {}, evidence, {}, {})
    to_the_end: dict[int, Window] = {}
    for person_id, window in windows.items():
        mine, stored = events[person_id], stored_by_person[person_id]
        if window.start_is_a_session:
            mine, stored = _from_first_session_at_start(mine, stored, window.start)
        sessions = pair_events(mine, rules)
        if window.stop != END:
            cut = _cut_where_pairings_meet(sessions, stored, window.stop)
            if cut is None:
                to_the_end[person_id] = window._replace(stop=END)
                continue
            sessions, stored, result.stops[person_id] = cut
        result.derived[person_id] = sessions
        result.replaced.extend(stored)
        result.windows[person_id] = window
        result.events[person_id] = mine
    if to_the_end:
        more = pair_windows(to_the_end, rules)
        result.derived.update(more.derived)
        result.replaced.extend(more.replaced)
        result.windows.update(more.windows)
        result.evidence.update(more.evidence)
        result.events.update(more.events)
    return result


def _from_first_session_at_start(events: list[EventRecord], stored: list, start: datetime):
    """The events and stored rows from the first stored session at ``start``
    on, in pairing's order. A scan at that same instant that sorts before
    that session's first event belongs to the session before (a check-out
    at 10:00 closing it, beside a check-in at 10:00 opening the next);
    paired from here it would stand alone as an orphan."""
    first = (start, min(r.key_event_id for r in stored if r.key_at == start))
    return ([e for e in events if (e.effective_at, e.id) >= first],
            [r for r in stored if (r.key_at, r.key_event_id) >= first])


def _cut_where_pairings_meet(sessions: list[Session], stored: list, stop: datetime):
    """The derived sessions and stored rows before the first stored session
    at ``stop``, and that session's row, if the new pairing starts a
    session with that session's first event too; else None.

    A session's first event resets pairing's state, so from that event on
    both pairings are the pairing of the same later events: equal. (Later
    events whose own re-pairing is still queued get it when their row is
    drained, as before.) The session at the stop is itself left out: its
    events past the stop were not read.
    """
    first_at_stop = min((r.key_event_id for r in stored if r.key_at == stop), default=None)
    if first_at_stop is None:
        return None  # the stop session went away since the look-up
    for position, session in enumerate(sessions):
        if session.key_event_id == first_at_stop:
            cut = (stop, first_at_stop)
            return (sessions[:position],
                    [r for r in stored if (r.key_at, r.key_event_id) < cut],
                    next(r for r in stored if (r.key_at, r.key_event_id) == cut))
    return None
