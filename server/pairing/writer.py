"""The one writer of ``service_session``.

Every change to a person's sessions comes here: re-pairing after a push or
a replay (the pairing worker), a review and a bulk approval, a retroactive
entry, a branch move, a repair. ``rewrite`` takes the person lock, re-pairs
the part of each person's history the change can alter
(server/pairing/windows.py), judges each person-day it touches once
(pairing, the reviews, the limits of a day: server/pairing/days.py) and
writes each row once. So no change can overwrite another's, and the
totals' triggers see each session change once (docs/pairing.md).

Reviews and branch moves are changes like new scans: the sessions are a
function of the stored events, reviews and memberships, and this module
keeps them equal to it.
"""
from __future__ import annotations

from datetime import date
from typing import NamedTuple

from sqlalchemy import delete

from server.common.rawsql import RawSql, read_date, update_rows, write_rows
from server.db_types import utcnow
from server.extensions import db
from server.org.models import branch_on
from server.pairing.activities import infer_activities
from server.pairing.days import DayEntry, day_end, day_start, judge_day
from server.pairing.history import latest_reviews, tails
from server.pairing.travel import Travel, judge_travel
from server.pairing.windows import (END, STORED_COLUMNS, STORED_KINDS, Repairing, Touched,
                                    pair_windows, pairing_rules, windows_of)
from server.service_sessions.models import ServiceSession
from sync.evidence import NONE, weaker
from sync.fraud import IMPOSSIBLE_TRAVEL, OVERLAPPING_SESSIONS, WRITER_FLAGS
from sync.protocol import RETROACTIVE
from sync.timeutil import local_date

#: The flag of a session that folded in repeat scans (DEBOUNCE_S).
REPEAT_SCAN = "repeat_scan"
#: The flag of a session whose person belonged to no branch on its date:
#: it waits for review by whoever manages the person now (docs/pairing.md).
NO_BRANCH = "no_branch"

__all__ = ["Touched", "lock_people", "rewrite", "PERSON_LOCK_SPACE", "PEOPLE_PER_STATEMENT"]

#: First key of the advisory locks on people (the second is the person id).
PERSON_LOCK_SPACE = 7301

#: People per compound statement (SQLite allows 500 terms in a UNION ALL).
PEOPLE_PER_STATEMENT = 200


def lock_people(person_ids) -> None:
    """Take the person lock: changes to one person's sessions happen one
    after the other, each seeing the one before. PostgreSQL:
    transaction-scoped advisory locks, taken in id order (no deadlock) and
    written nowhere (row locks on person cost a tuple write each). SQLite
    has one writer anyway (every writing transaction begins IMMEDIATE)."""
    raw = RawSql(db.session.connection())
    if raw.sqlite:
        return
    raw.fetch("SELECT count(pg_advisory_xact_lock(%s, id)) FROM "
              "(SELECT unnest(%s::int[]) AS id ORDER BY 1) AS people",
              [PERSON_LOCK_SPACE, sorted(person_ids)])


def rewrite(touched: dict[int, Touched]) -> None:
    """Make each touched person's stored sessions equal to what their stored
    events, reviews and memberships give, from the session before their
    earliest change up to where the new pairing meets the stored one again.

    Call it in the transaction that made the change, after making it (it
    reads the change back). A caller that decides on what it reads of a
    person's sessions (a review) takes ``lock_people`` before reading them.
    Set-based: a fixed handful of statements per ``PEOPLE_PER_STATEMENT``
    people, whatever their number.
    """
    if not touched:
        return
    db.session.flush()  # the reads below are driver-level: they see only what is flushed
    person_ids = sorted(touched)
    lock_people(person_ids)
    rules = pairing_rules()
    for start in range(0, len(person_ids), PEOPLE_PER_STATEMENT):
        chunk = {p: touched[p] for p in person_ids[start:start + PEOPLE_PER_STATEMENT]}
        _rewrite_chunk(*judge_travel(pair_windows(windows_of(chunk), rules), rules))
    # What this wrote bypassed the ORM: sessions it holds are stale.
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, ServiceSession):
            db.session.expire(obj)


def _rewrite_chunk(repairing: Repairing, travel: Travel) -> None:
    # 1. The person-days the change touches, and their sessions outside the
    #    re-paired windows (as stored: their pairing cannot change, their
    #    judgement can, by the limits of their day and the sessions beside
    #    them). The stored session at a window's stop whose impossible
    #    travel changes (server/pairing/travel.py) touches its day too.
    days = _days_touched(repairing, travel)
    neighbours = _neighbours(repairing, days)
    derived = [(p, s) for p, sessions in repairing.derived.items() for s in sessions]
    reviews = latest_reviews([s.key_event_id for _, s in derived]
                             + [r.key_event_id for r in neighbours])
    inferred = infer_activities([s for _, s in derived])
    memberships = _memberships(list(repairing.derived))

    # 2. Each new session as a row, judged later with its day.
    rows: dict[str, dict] = {}
    by_day: dict[tuple[int, date], list[DayEntry]] = {}
    for person_id, s in derived:
        day = local_date(s.key_at)
        membership = branch_on(memberships.get(person_id, ()), day)
        flags = set(s.flags)
        if s.repeat_ids:
            flags.add(REPEAT_SCAN)
        if membership is None:
            flags.add(NO_BRANCH)
        if s.key_event_id in travel.flagged:
            flags.add(IMPOSSIBLE_TRAVEL)
        row = {"key_event_id": s.key_event_id, "key_at": s.key_at, "person_id": person_id,
               "station_id": s.station,
               "activity_id": s.activity or inferred.get(s.key_event_id),
               "checkin_event_id": s.checkin_id, "checkout_event_id": s.checkout_id,
               "derived_status": s.status, "derived_start_at": s.start_at,
               "derived_end_at": s.end_at, "flags": ",".join(sorted(flags)),
               "evidence": weaker(repairing.evidence.get(s.checkin_id),
                                  repairing.evidence.get(s.checkout_id)) or NONE,
               "local_date": day,
               "branch_id": membership.organisation_id if membership else None}
        rows[s.key_event_id] = row
        by_day.setdefault((person_id, day), []).append(_entry(row, reviews))
    # Neighbours' flags as stored, but for those judged from whole days
    # (overlapping_sessions, below) and the stop sessions' impossible travel.
    stop_travel = {row.key_event_id: flag for row, flag in travel.stops.values()}
    neighbour_flags = {r.key_event_id: _neighbour_flags(r, stop_travel) for r in neighbours}
    for r in neighbours:
        by_day.setdefault((r.person_id, r.local_date), []).append(
            _entry({**r._asdict(), "flags": neighbour_flags[r.key_event_id]}, reviews))

    # 3. Judge each day once; every session gets its final columns.
    verdicts = {}
    for entries in by_day.values():
        verdicts.update(judge_day(entries))
    for key, row in rows.items():
        _apply(row, verdicts[key])
    changed_neighbours = []
    for r in neighbours:
        row = _apply({**{name: getattr(r, name) for name in STORED_COLUMNS},
                      "flags": neighbour_flags[r.key_event_id]}, verdicts[r.key_event_id])
        if _differs(r, row):
            changed_neighbours.append({"id": r.id, **row})

    # 4. Write each row once: gone, new, changed.
    stored = {r.key_event_id: r for r in repairing.replaced}
    vanished = [stored[k].id for k in stored if k not in rows]
    added = [row for k, row in rows.items() if k not in stored]
    changed = [{"id": stored[k].id, **{name: row[name] for name in STORED_COLUMNS}}
               for k, row in rows.items() if k in stored and _differs(stored[k], row)]
    _write(vanished, added, changed + changed_neighbours)


def _entry(row: dict, reviews: dict) -> DayEntry:
    flags = row["flags"].split(",")
    return DayEntry(row["key_event_id"], row["key_at"], row["activity_id"],
                    row["derived_status"], row["derived_start_at"], row["derived_end_at"],
                    reviews.get(row["key_event_id"]), row["branch_id"] is None,
                    RETROACTIVE in flags, row["station_id"], IMPOSSIBLE_TRAVEL in flags)


def _neighbour_flags(row, stop_travel: dict[str, bool]) -> str:
    """A stored session's flags without those its day decides; its impossible
    travel as stored, unless it is a stop session whose travel changed."""
    flags = {f for f in row.flags.split(",") if f and f not in WRITER_FLAGS}
    if stop_travel.get(row.key_event_id, IMPOSSIBLE_TRAVEL in row.flags.split(",")):
        flags.add(IMPOSSIBLE_TRAVEL)
    return ",".join(sorted(flags))


def _apply(row: dict, verdict) -> dict:
    judged = verdict.judged
    if verdict.overlapping:
        row["flags"] = ",".join(sorted({*row["flags"].split(","), OVERLAPPING_SESSIONS} - {""}))
    row.update(status=judged.status, start_at=judged.start_at, end_at=judged.end_at,
               review_stale=judged.review_stale, credited_seconds=judged.credited_seconds,
               pending_seconds=judged.pending_seconds, reviewed_seconds=judged.reviewed_seconds,
               entered_seconds=judged.entered_seconds,
               over_daily_limit=verdict.over_daily_limit)
    return row


_BOOLEANS = ("review_stale", "over_daily_limit")


def _differs(stored, row: dict) -> bool:
    return any(getattr(stored, name) != row[name] for name in STORED_COLUMNS
               if name not in _BOOLEANS) or any(
        bool(getattr(stored, name)) != bool(row[name]) for name in _BOOLEANS)


def _write(vanished: list[int], added: list[dict], changed: list[dict]) -> None:
    # Core statements on the session's connection: the ORM's bulk machinery
    # cost more than the writes themselves here.
    connection = db.session.connection()
    table = ServiceSession.__table__
    now = utcnow()
    if vanished:
        connection.execute(delete(table).where(table.c.id.in_(vanished)))
    if added:
        write_rows(connection, table, [{**row, "updated_at": now} for row in added])
    if changed:
        update_rows(connection, table, [{**row, "updated_at": now} for row in changed])


def _days_touched(repairing: Repairing, travel: Travel) -> dict[int, set[date]]:
    days: dict[int, set[date]] = {p: {local_date(s.key_at) for s in sessions}
                                  for p, sessions in repairing.derived.items()}
    for r in repairing.replaced:
        days.setdefault(r.person_id, set()).add(r.local_date)
    for person_id, (stop, _) in travel.stops.items():
        days.setdefault(person_id, set()).add(stop.local_date)
    return {p: d for p, d in days.items() if d}


def _neighbours(repairing: Repairing, days: dict[int, set[date]]) -> list:
    """Stored sessions of the touched days outside the re-paired windows:
    the part of the first day before the window's start, and the part of
    the last day from the window's stop (when it stops before the end). A
    window starts at most a day before its first touched day ends, so each
    span is at most a day long."""
    spans = []
    for person_id, person_days in days.items():
        window = repairing.windows[person_id]
        spans.append((person_id, day_start(min(person_days)), window.start))
        last = day_end(max(person_days))
        if window.stop != END and last >= window.stop:
            spans.append((person_id, window.stop, last))
    replaced = {r.id for r in repairing.replaced}
    found = {}
    for r in tails("service_session", "key_at", spans, STORED_KINDS):
        if r.id not in replaced and r.local_date in days[r.person_id]:
            found[r.id] = r
    return list(found.values())


def _memberships(person_ids: list[int]) -> dict[int, list]:
    """Membership periods per person, as ``branch_on`` weighs them."""
    raw = RawSql(db.session.connection())
    ids, params = raw.id_list(person_ids)
    found: dict[int, list] = {}
    for id_, person_id, organisation_id, started_on, ended_on in raw.fetch(
            "SELECT id, person_id, organisation_id, started_on, ended_on FROM membership "
            f"WHERE person_id IN {ids}", params):
        found.setdefault(person_id, []).append(
            _Period(id_, organisation_id, read_date(started_on), read_date(ended_on)))
    return found


class _Period(NamedTuple):
    id: int
    organisation_id: int
    started_on: date
    ended_on: date | None
