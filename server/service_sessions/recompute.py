"""Keeping stored sessions equal to the pairing of stored events.

After a push only the affected people are re-paired, and only from the
session before the earliest new event up to where the new pairing meets the
stored one after the latest, so a batch costs what it touches, not what
history holds before or after it. Pairing is a left-to-right state machine
whose state resets at each session's first event, so re-pairing between two
such events gives the same sessions as re-pairing everything.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import NamedTuple

from flask import current_app
from sqlalchemy import delete, select

from server.activities.models import Activity
from server.common.rawsql import RawSql, read_date, read_time, update_rows, write_rows
from server.db_types import utcnow
from server.extensions import db
from server.people.models import Person
from server.service_sessions.day_limits import review_long_days
from server.service_sessions.history_reads import kinds, latest_reviews, tails
from server.service_sessions.models import ServiceSession
from server.service_sessions.status import judge
from sync.pairing import EventRecord, PairingRules, Session, pair_events
from sync.timeutil import local_date

#: A check-in this long before an activity's planned start counts as attending it.
ACTIVITY_EARLY_GRACE = timedelta(minutes=30)


def pairing_rules() -> PairingRules:
    config = current_app.config
    return PairingRules(debounce=timedelta(seconds=config["DEBOUNCE_S"]),
                        max_length=timedelta(seconds=config["MAX_SESSION_S"]))


class Touched(NamedTuple):
    """When the events added for a person lie: re-pairing must cover them."""
    since: datetime
    #: The latest of them; None: re-pair to the end of the person's history.
    until: datetime | None


def recompute_people(touched: dict[int, Touched]) -> None:
    """Re-pair each person from the session before their earliest new event
    up to where the new pairing meets the stored one again.

    Set-based: a fixed handful of statements per batch, whatever the number
    of people, each reading only the part of each person's history that
    the new events can change.
    """
    person_ids = sorted(touched)
    lock_people(person_ids)
    for start in range(0, len(person_ids), PEOPLE_PER_STATEMENT):
        chunk = {p: touched[p] for p in person_ids[start:start + PEOPLE_PER_STATEMENT]}
        _recompute_chunk(_windows(chunk), pairing_rules())


def lock_people(person_ids: list[int]) -> None:
    """Concurrent pushes for one person must re-pair one after the other, the
    later one seeing the earlier one's events. PostgreSQL: transaction-scoped
    advisory locks, taken in id order (no deadlock) and written nowhere (row
    locks on person cost a tuple write each). SQLite has one writer anyway."""
    raw = RawSql(db.session.connection())
    if raw.sqlite:
        return
    raw.fetch("SELECT count(pg_advisory_xact_lock(%s, id)) FROM "
              "(SELECT unnest(%s::int[]) AS id ORDER BY 1) AS people",
              [PERSON_LOCK_SPACE, sorted(person_ids)])


#: First key of the advisory locks on people (the second is the person id).
PERSON_LOCK_SPACE = 7301

#: People per compound statement (SQLite allows 500 terms in a UNION ALL).
PEOPLE_PER_STATEMENT = 200

#: The upper bound of a window that runs to the end of a person's history.
_END = datetime(9999, 12, 31, tzinfo=timezone.utc)


class _Window(NamedTuple):
    """The part of a person's history to re-pair: from ``start`` (a stored
    session's first event time, or the earliest new event's) to ``stop``
    (the first stored session after the new events, or ``_END``)."""
    start: datetime
    stop: datetime
    #: ``start`` is a stored session's: events at that instant ordered
    #: before the first session there belong to the session before.
    start_is_a_session: bool


def _windows(touched: dict[int, Touched]) -> dict[int, _Window]:
    """Per person, where re-pairing starts and where it may stop.

    Start: the latest session that starts before their earliest new event
    (its first event, in pairing's ``(effective_at, id)`` order), or that
    event's time if none does. Pairing is a left-to-right state machine
    whose state resets at each session's first event, so starting there
    re-pairs a superset of what changed.

    Stop: the first stored session that starts after the latest new event.
    If the new pairing starts a session with that same event, everything
    from there on is as stored (``_cut_where_pairings_meet``); a device
    that uploads last week's scans then re-pairs a day of each person's
    history, not the week since. One statement of indexed look-ups
    (``person_id, key_at``), two per person; driver-level SQL because
    building it as hundreds of expression objects cost more than running it.
    """
    raw = RawSql(db.session.connection())
    people = [(p, t.since, t.until or _END) for p, t in touched.items()]
    source, params = raw.person_times(people, ("t", "u"))
    sql = ("SELECT (SELECT s.key_at FROM service_session s WHERE s.person_id = w.pid "
           "AND s.key_at < w.t ORDER BY s.key_at DESC LIMIT 1), "
           "(SELECT s.key_at FROM service_session s WHERE s.person_id = w.pid "
           f"AND s.key_at > w.u ORDER BY s.key_at LIMIT 1) FROM {source} ORDER BY w.n")
    return {person_id: _Window(read_time(start) if start is not None else since,
                               read_time(stop) if stop is not None else _END,
                               start is not None)
            for (person_id, since, _), (start, stop) in zip(people, raw.fetch(sql, params))}


def _pair_windows(windows: dict[int, _Window], rules: PairingRules):
    """Pair each person's events within their window.

    Returns the derived sessions per person and the stored session rows
    they replace: for a window with a stop, those before the point where
    the pairings meet. A person whose pairings do not meet there is paired
    again to the end of their history.
    """
    events: dict[int, list[EventRecord]] = {p: [] for p in windows}
    for r in tails("checkin_event", "effective_at", windows, _EVENT_COLUMNS):
        events[r.person_id].append(EventRecord(
            id=r.event_id, type=r.type, station=r.station_id, effective_at=r.effective_at,
            flags=frozenset(f for f in r.flags.split(",") if f), activity=r.activity_id))
    stored_by_person: dict[int, list] = {p: [] for p in windows}
    for r in tails("service_session", "key_at", windows, _STORED_COLUMNS):
        stored_by_person[r.person_id].append(r)

    derived: dict[int, list[Session]] = {}
    replaced = []
    to_the_end: dict[int, _Window] = {}
    for person_id, window in windows.items():
        mine, stored = events[person_id], stored_by_person[person_id]
        if window.start_is_a_session:
            mine, stored = _from_first_session_at_start(mine, stored, window.start)
        sessions = pair_events(mine, rules)
        if window.stop != _END:
            cut = _cut_where_pairings_meet(sessions, stored, window.stop)
            if cut is None:
                to_the_end[person_id] = window._replace(stop=_END)
                continue
            sessions, stored = cut
        derived[person_id] = sessions
        replaced.extend(stored)
    if to_the_end:
        more_derived, more_replaced = _pair_windows(to_the_end, rules)
        derived.update(more_derived)
        replaced.extend(more_replaced)
    return derived, replaced


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
    at ``stop``, if the new pairing starts a session with that session's
    first event too; else None.

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
                    [r for r in stored if (r.key_at, r.key_event_id) < cut])
    return None


def _recompute_chunk(windows: dict[int, _Window], rules: PairingRules) -> None:
    derived, replaced = _pair_windows(windows, rules)
    memberships = _memberships(list(windows))
    new_rows = {}
    all_sessions = [s for sessions in derived.values() for s in sessions]
    reviews = latest_reviews([s.key_event_id for s in all_sessions])
    inferred = _infer_activities(all_sessions)
    for person_id, sessions in derived.items():
        for row in _session_rows(person_id, memberships.get(person_id, []), sessions, reviews,
                                 inferred):
            new_rows[row["key_event_id"]] = row

    stored = {r.key_event_id: r for r in replaced}
    vanished = [stored[k].id for k in stored if k not in new_rows]
    added = [row for k, row in new_rows.items() if k not in stored]
    changed = [{"_id": stored[k].id, **row} for k, row in new_rows.items()
               if k in stored and _differs(stored[k], row)]
    # Core statements on the session's connection: the ORM's bulk machinery
    # cost more than the writes themselves here.
    connection = db.session.connection()
    table = ServiceSession.__table__
    if vanished:
        connection.execute(delete(table).where(table.c.id.in_(vanished)))
    if added:
        now = utcnow()
        write_rows(connection, table, [{**row, "updated_at": now} for row in added])
    if changed:
        now = utcnow()
        update_rows(connection, table, [{"id": row["_id"], **{k: row[k] for k in _COMPARED},
                                         "updated_at": now} for row in changed])
    days: dict[int, set[date]] = {p: {local_date(s.key_at) for s in sessions}
                                  for p, sessions in derived.items()}
    for r in replaced:
        days.setdefault(r.person_id, set()).add(r.local_date)
    review_long_days(days)


#: Columns compared to decide whether a stored session needs an update.
_COMPARED = ("key_at", "person_id", "station_id", "activity_id", "checkin_event_id",
             "checkout_event_id", "derived_status", "derived_start_at", "derived_end_at",
             "status", "start_at", "end_at", "review_stale", "flags", "credited_seconds",
             "pending_seconds", "local_date", "branch_id")
_STORED_COLUMNS = kinds(("id", "key_event_id", *_COMPARED))
_EVENT_COLUMNS = kinds(("person_id", "event_id", "type", "station_id", "effective_at", "flags",
                        "activity_id"))


def _differs(stored, row: dict) -> bool:
    return any(getattr(stored, name) != row[name] for name in _COMPARED
               if name != "review_stale") or bool(stored.review_stale) != row["review_stale"]


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


def _memberships(person_ids: list[int]) -> dict[int, list]:
    """Membership periods per person, newest first."""
    raw = RawSql(db.session.connection())
    ids, params = raw.id_list(person_ids)
    found: dict[int, list] = {}
    for person_id, organisation_id, started_on, ended_on in raw.fetch(
            "SELECT person_id, organisation_id, started_on, ended_on FROM membership "
            f"WHERE person_id IN {ids} ORDER BY started_on DESC, id DESC", params):
        found.setdefault(person_id, []).append(
            _Period(organisation_id, read_date(started_on), read_date(ended_on)))
    return found


class _Period(NamedTuple):
    organisation_id: int
    started_on: date
    ended_on: date | None


def branch_on(memberships: list, day) -> int | None:
    """The organisation id a person belonged to on a local date."""
    for m in memberships:
        if m.started_on <= day and (m.ended_on is None or day <= m.ended_on):
            return m.organisation_id
    return None


def _session_rows(person_id: int, memberships: list, sessions, reviews: dict,
                  inferred: dict) -> list[dict]:
    rows = []
    for s in sessions:
        judged = judge(s.status, s.start_at, s.end_at, reviews.get(s.key_event_id))
        day = local_date(s.key_at)
        rows.append({
            "key_event_id": s.key_event_id, "key_at": s.key_at, "person_id": person_id,
            "station_id": s.station, "activity_id": s.activity or inferred.get(s.key_event_id),
            "checkin_event_id": s.checkin_id, "checkout_event_id": s.checkout_id,
            "derived_status": s.status, "derived_start_at": s.start_at,
            "derived_end_at": s.end_at, "status": judged.status, "start_at": judged.start_at,
            "end_at": judged.end_at, "review_stale": judged.review_stale,
            "flags": ",".join(sorted(s.flags | ({"repeat_scan"} if s.repeat_ids else set()))),
            "credited_seconds": judged.credited_seconds,
            "pending_seconds": judged.pending_seconds, "local_date": day,
            "branch_id": branch_on(memberships, day),
        })
    return rows


def rebrand_sessions_from(person: Person, since) -> None:
    """Re-attribute a person's sessions from ``since`` after a branch move."""
    for session in db.session.scalars(select(ServiceSession).where(
            ServiceSession.person_id == person.id, ServiceSession.local_date >= since)):
        branch = person.branch_on(session.local_date)
        session.branch_id = branch.id if branch else None
