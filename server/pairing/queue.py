"""The pairing queue: a push queues who needs re-pairing, a drain does it.

Why a queue: a push must be durable before its answer, but the sessions
derived from its events need not be. A push stores its events and one
``pairing_due`` row per touched person in one transaction and answers; the
pairing worker (server/pairing/worker.py, its own process) drains the
queue. A device that reports more queued scans than it sent has its rows
held until its last batch (or ``PAIRING_HOLD_S``), so each person's
backlog is paired once rather than once per batch.

Nothing is lost if any process dies: the rows stay until the transaction
that paired them commits. Two drains never pair one person at once: on
PostgreSQL a drain claims whole people under the person lock the writer
takes (server/pairing/writer.py), skipping those another drain or a review
holds; on SQLite one writer claims at a time.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import func, insert, literal, select, update

from server.checkins.models import CheckinEvent
from server.common.rawsql import RawSql, read_time, write_rows
from server.db_types import UTCDateTime, utcnow
from server.extensions import db
from server.pairing.models import PairingDue
from server.pairing.writer import PEOPLE_PER_STATEMENT, PERSON_LOCK_SPACE, Touched, rewrite

#: People claimed per transaction (at most), on PostgreSQL: what one of
#: several drains takes at a time. One statement's worth of re-pairing
#: (writer.PEOPLE_PER_STATEMENT), so a transaction writes its sessions,
#: and the branch totals every drain updates, just before it commits:
#: parallel drains wait for each other only there.
CLAIM_PEOPLE = PEOPLE_PER_STATEMENT

#: ... on SQLite, where one writer pairs at a time: bounds how long a drain
#: holds the write lock (pushes wait for it) and how much a failure repeats.
#: Smaller claims cost more: the benchmark's backlog (2,000 people) was
#: paired in 1.6-1.8 s in claims of 200 rows, 1.1-1.3 s in claims of 1,000.
SQLITE_CLAIM_ROWS = 1000

#: Rows looked at per person claimed: a backlog queues a row per batch.
_ROWS_LOOKED_AT_PER_PERSON = 10

#: The channel a push NOTIFYs (PostgreSQL) when it queued work that is
#: ready now; the workers LISTEN on it.
WAKE_CHANNEL = "pairing_ready"
#: The payload of the wake-up a device's last backlog batch sends: nothing
#: more comes with it, so the worker pairs at once instead of gathering.
BACKLOG_RELEASED = "released"


def enqueue(touched: dict[int, Touched], device_id: int | None,
            received_at: datetime, more_to_come: bool, may_hold: bool = True) -> None:
    """Queue the people whose events were just stored, in the caller's transaction.

    :param touched: person id to when the events added for them lie.
    :param more_to_come: the device reports more queued scans than this
        batch held; its rows wait for its last batch, at most ``PAIRING_HOLD_S``.
    :param may_hold: rows may be held for this device (it said more was
        coming at its last push); if not, there is nothing to release, and
        a phone's one-scan push skips looking.
    """
    connection = db.session.connection()
    released = 0
    if not more_to_come and device_id is not None and may_hold:
        # The device's last batch: what it held so far is ready with it.
        released = connection.execute(update(PairingDue).where(
            PairingDue.device_id == device_id, PairingDue.ready_at > received_at)
            .values(ready_at=received_at)).rowcount
    hold = current_app.config["PAIRING_HOLD_S"] if more_to_come else 0
    if touched:
        ready_at = received_at + timedelta(seconds=hold)
        write_rows(connection, PairingDue.__table__, [
            {"person_id": person_id, "since_at": since, "until_at": until,
             "device_id": device_id, "queued_at": received_at, "ready_at": ready_at}
            for person_id, (since, until) in sorted(touched.items())])
    if (released or (touched and not hold)) and connection.dialect.name == "postgresql":
        # Whatever is ready now wakes the worker (with PAIRING_HOLD_S 0, a
        # backlog's batches too: they waited for its timer). Delivered when
        # this transaction commits; a worker that is busy gets it when it
        # next waits (notifications queue up).
        connection.exec_driver_sql(f"NOTIFY {WAKE_CHANNEL}, '{BACKLOG_RELEASED}'" if released
                                   else f"NOTIFY {WAKE_CHANNEL}")


#: A ``ready_at`` bound that every row meets.
_ANY_TIME = datetime(9999, 1, 1, tzinfo=timezone.utc)


def drain(budget_s: float = float("inf"), include_held: bool = False,
          until_short: bool = False) -> int:
    """Re-pair the people whose rows are ready (``include_held``: all), a
    transaction per claim, until none is left or ``budget_s`` has passed
    (``until_short``: or a claim found less than a full claim ready, so
    that the worker gathers what keeps arriving instead of claiming each
    scan as it comes). Returns how many people were paired.

    Commits its own transactions: call it outside a request's.
    """
    deadline = time.monotonic() + budget_s
    paired = 0
    while True:
        claimed, full = _claim(_ANY_TIME if include_held else utcnow())
        if not claimed:
            db.session.rollback()
            return paired
        rewrite(claimed)
        db.session.commit()
        paired += len(claimed)
        if time.monotonic() > deadline or (until_short and not full):
            return paired


def _claim(now: datetime) -> tuple[dict[int, Touched], bool]:
    """Delete the ready rows of some people in this transaction (all their
    rows, so a backlog's batches coalesce): up to CLAIM_PEOPLE people on
    PostgreSQL, those of the first SQLITE_CLAIM_ROWS rows on SQLite. People
    another drain (or a review) holds are skipped, never waited for. Per
    person the earliest and the latest time its rows name (None, to the
    end, if one row names none), and whether the claim was full (more may
    be ready)."""
    raw = RawSql(db.session.connection())
    if raw.sqlite:
        # One writer at a time: the session's transaction began IMMEDIATE.
        sql = ("DELETE FROM pairing_due WHERE ready_at <= ? AND person_id IN ("
               "SELECT person_id FROM pairing_due WHERE ready_at <= ? "
               "ORDER BY ready_at, id LIMIT ?) RETURNING person_id, since_at, until_at")
        at = raw.time_param(now)
        params = [at, at, SQLITE_CLAIM_ROWS]
    else:
        # Whole people, each under the transaction-scoped person lock the
        # writer takes anyway, tried, not waited for: two drains never split
        # one person's rows between them (they did with row locks, and then
        # waited for each other). The first rows in line are looked at,
        # people taken from them until the claim is full. Each step
        # MATERIALIZED, so each runs once.
        sql = ("WITH waiting AS MATERIALIZED (SELECT person_id FROM pairing_due "
               "WHERE ready_at <= %s ORDER BY ready_at, id LIMIT %s), "
               "people AS MATERIALIZED (SELECT person_id FROM "
               "(SELECT DISTINCT person_id FROM waiting) AS w "
               "WHERE pg_try_advisory_xact_lock(%s, person_id) LIMIT %s) "
               "DELETE FROM pairing_due AS due USING people "
               "WHERE due.person_id = people.person_id AND due.ready_at <= %s "
               "RETURNING due.person_id, due.since_at, due.until_at")
        at = raw.time_param(now)
        params = [at, CLAIM_PEOPLE * _ROWS_LOOKED_AT_PER_PERSON, PERSON_LOCK_SPACE,
                  CLAIM_PEOPLE, at]
    touched: dict[int, Touched] = {}
    rows = raw.fetch(sql, params)
    if rows and not raw.sqlite:
        # A claim's transaction writes what pairing derives (sessions, the
        # totals) and deletes the queue rows it pairs, nothing else: lost
        # in a crash, it is lost whole, the rows are back and paired again.
        # So its commit does not wait for the disk (a later commit that
        # does, a review say, flushes it too: the log is written in order).
        # 0.1 s off a 20,000-event backlog (docs/benchmarks.md). An empty
        # claim is rolled back: nothing to say.
        raw.connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
    for person_id, since_at, until_at in rows:
        since_at, until_at = read_time(since_at), read_time(until_at)
        if person_id in touched:
            before = touched[person_id]
            since_at = min(since_at, before.since)
            until_at = (None if until_at is None or before.until is None
                        else max(until_at, before.until))
        touched[person_id] = Touched(since_at, until_at)
    full = len(rows) >= SQLITE_CLAIM_ROWS if raw.sqlite else len(touched) >= CLAIM_PEOPLE
    return touched, full


def next_ready_at() -> datetime | None:
    """When the first queued row is (or was) ready; None when the queue is empty."""
    return db.session.scalar(select(func.min(PairingDue.ready_at)))


def requeue_everyone() -> int:
    """Queue every person with events for a re-pairing of their whole history,
    in the caller's transaction; returns how many. For repairing sessions
    written by an older pairing (a fixed bug), not for daily use: the
    drains then re-pair all history, a claim at a time."""
    now = utcnow()
    queued = db.session.execute(insert(PairingDue).from_select(
        ["person_id", "since_at", "queued_at", "ready_at"],
        select(CheckinEvent.person_id, func.min(CheckinEvent.effective_at),
               literal(now, UTCDateTime()), literal(now, UTCDateTime()))
        .group_by(CheckinEvent.person_id)).returning(PairingDue.id))
    # Counted from RETURNING: rowcount of this INSERT ... SELECT came back -1
    # through SQLAlchemy on PostgreSQL.
    return len(queued.all())


def backlog() -> dict:
    """How much pairing waits: rows, people, and the oldest row's age."""
    rows, people, oldest = db.session.execute(select(
        func.count(), func.count(PairingDue.person_id.distinct()),
        func.min(PairingDue.queued_at))).one()
    return {"rows": rows, "people": people, "oldest_queued_at": oldest}
