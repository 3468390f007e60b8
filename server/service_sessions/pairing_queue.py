"""Pairing after the answer: a push queues who needs re-pairing, a drain does it.

Why: a push must be durable before its answer, but the sessions derived from
its events need not be. Storing the events and a ``pairing_due`` row per
touched person in one transaction, answering, and re-pairing right after the
answer has gone (``drain_after_response``) halves what a device waits for,
lets the next batch be stored while this one is paired (on PostgreSQL, on
the other core), and pairs a backlog once instead of once per batch: a
device that reports more queued scans than it sent has its rows held until
its last batch (or ``PAIRING_HOLD_S``) and each person's new events are
then paired together.

Nothing is lost if the process dies after the answer: the rows stay until
the transaction that paired them commits, and the next drain takes them:
any push's, each gunicorn worker's sweeper (``start_sweeper``, every
``PAIRING_SWEEP_S``), or ``flask pairing drain``. Two drains never pair one person at
once: on PostgreSQL a drain claims whole people under the advisory lock
re-pairing takes (``recompute_people``), skipping those another drain
holds; on SQLite one writer claims at a time.

On PostgreSQL a push that releases more than one claim of held rows (a
backlog's last batch) also wakes every worker's sweeper (NOTIFY, delivered
when the push commits), so idle workers pair claims beside the one that
answered: the backlog is paired on every core instead of one.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from datetime import datetime, timedelta, timezone

from flask import Flask, current_app
from sqlalchemy import func, insert, literal, select, update

from server.checkins.models import CheckinEvent
from server.common.rawsql import RawSql, read_time, write_rows
from server.db_types import UTCDateTime, utcnow
from server.extensions import db
from server.service_sessions.models import PairingDue
from server.service_sessions.recompute import (PEOPLE_PER_STATEMENT, PERSON_LOCK_SPACE,
                                               Touched, recompute_people)

log = logging.getLogger(__name__)

#: People claimed per transaction (at most), on PostgreSQL: what one of
#: several drains takes at a time. One statement's worth of re-pairing
#: (recompute.PEOPLE_PER_STATEMENT), so a transaction writes its sessions,
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

#: The channel a push NOTIFYs when it releases more than one claim.
WAKE_CHANNEL = "pairing_ready"


def enqueue(touched: dict[int, Touched], device_id: int | None,
            received_at: datetime, more_to_come: bool) -> None:
    """Queue the people whose events were just stored, in the caller's transaction.

    :param touched: person id to when the events added for them lie.
    :param more_to_come: the device reports more queued scans than this
        batch held; its rows wait for its last batch, at most ``PAIRING_HOLD_S``.
    """
    connection = db.session.connection()
    released = 0
    if not more_to_come and device_id is not None:
        # The device's last batch: what it held so far is ready with it.
        released = connection.execute(update(PairingDue).where(
            PairingDue.device_id == device_id, PairingDue.ready_at > received_at)
            .values(ready_at=received_at)).rowcount
    if released > CLAIM_PEOPLE and connection.dialect.name == "postgresql":
        # A held backlog of more than one claim: wake the other workers.
        # Not for an ordinary push, which its own worker pairs: waking every
        # sweeper for each took four devices pushing at once from 3,600-5,300
        # to 2,000-2,400 events/s (docs/benchmarks.md).
        connection.exec_driver_sql(f"NOTIFY {WAKE_CHANNEL}")
    if not touched:
        return
    hold = current_app.config["PAIRING_HOLD_S"] if more_to_come else 0
    ready_at = received_at + timedelta(seconds=hold)
    write_rows(connection, PairingDue.__table__, [
        {"person_id": person_id, "since_at": since, "until_at": until, "device_id": device_id,
         "queued_at": received_at, "ready_at": ready_at}
        for person_id, (since, until) in sorted(touched.items())])


#: A ``ready_at`` bound that every row meets.
_ANY_TIME = datetime(9999, 1, 1, tzinfo=timezone.utc)


def drain(budget_s: float = 20.0, include_held: bool = False) -> int:
    """Re-pair the people whose rows are ready (``include_held``: all), a
    transaction per claim, until none is left or ``budget_s`` has passed.
    Returns how many people were paired.

    Commits its own transactions: call it outside a request's.
    """
    deadline = time.monotonic() + budget_s
    paired = 0
    while True:
        claimed = _claim(_ANY_TIME if include_held else utcnow())
        if not claimed:
            db.session.rollback()
            return paired
        recompute_people(claimed)
        db.session.commit()
        paired += len(claimed)
        if time.monotonic() > deadline:
            return paired


def _claim(now: datetime) -> dict[int, Touched]:
    """Delete the ready rows of some people in this transaction (all their
    rows, so a backlog's batches coalesce): up to CLAIM_PEOPLE people on
    PostgreSQL, those of the first SQLITE_CLAIM_ROWS rows on SQLite. People
    another drain holds are skipped, never waited for (that drain pairs
    them). Per person the earliest and the latest time its rows name (None,
    to the end, if one row names none)."""
    raw = RawSql(db.session.connection())
    if raw.sqlite:
        # One writer at a time: the session's transaction began IMMEDIATE.
        sql = ("DELETE FROM pairing_due WHERE ready_at <= ? AND person_id IN ("
               "SELECT person_id FROM pairing_due WHERE ready_at <= ? "
               "ORDER BY ready_at, id LIMIT ?) RETURNING person_id, since_at, until_at")
        at = raw.time_param(now)
        params = [at, at, SQLITE_CLAIM_ROWS]
    else:
        # Whole people, each under the transaction-scoped advisory lock that
        # re-pairing takes anyway (recompute.py), tried, not waited for: two
        # drains never split one person's rows between them (they did with
        # row locks, and then waited for each other). The first rows in
        # line are looked at, people taken from them until the claim is full.
        # Each step MATERIALIZED, so each runs once.
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
    for person_id, since_at, until_at in raw.fetch(sql, params):
        since_at, until_at = read_time(since_at), read_time(until_at)
        if person_id in touched:
            before = touched[person_id]
            since_at = min(since_at, before.since)
            until_at = (None if until_at is None or before.until is None
                        else max(until_at, before.until))
        touched[person_id] = Touched(since_at, until_at)
    return touched


def drain_after_response(app: Flask) -> None:
    """Run as the WSGI response's close hook: the client has its answer.

    Never raises: what fails stays queued for the next drain.
    """
    with app.app_context():
        try:
            drain(current_app.config["PAIRING_DRAIN_BUDGET_S"])
        except Exception:  # noqa: BLE001 - logged; the rows stay due
            db.session.rollback()
            log.exception("pairing after the answer failed; the people stay queued")


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


def start_sweeper(app: Flask) -> threading.Event | None:
    """A daemon thread that drains every ``PAIRING_SWEEP_S`` seconds (0: none),
    and on PostgreSQL also as soon as a push wakes it (``WAKE_CHANNEL``).

    It pairs what no push will: rows held for a device that went quiet,
    and rows left by a process that died after answering; and it joins in
    when a backlog is released. Returns the event that stops it.
    """
    interval = app.config["PAIRING_SWEEP_S"]
    if interval <= 0:
        return None
    stop = threading.Event()
    with app.app_context():
        url = db.engine.url
    waiter = _Wakeups(url) if url.get_backend_name() == "postgresql" else None

    def sweep():
        try:
            while True:
                # Jitter, so the workers of one host do not wake together.
                pause = interval * random.uniform(0.75, 1.25)
                if waiter is not None:
                    waiter.wait(pause, stop)
                elif stop.wait(pause):
                    return
                if stop.is_set():
                    return
                drain_after_response(app)
        finally:
            if waiter is not None:
                waiter.close()

    threading.Thread(target=sweep, name="pairing-sweeper", daemon=True).start()
    return stop


class _Wakeups:
    """A connection of its own that LISTENs on ``WAKE_CHANNEL``.

    Connected when made, so a wake-up sent after ``start_sweeper`` returns
    is not missed. Any failure (the database restarting, say) drops the
    connection: the sweeper falls back to its timer, and a later wait
    connects again.
    """

    def __init__(self, url):
        # The driver's own URL form, password included (render_as_string
        # hides it by default); query options such as sslmode pass through.
        self.conninfo = url.set(drivername="postgresql").render_as_string(
            hide_password=False)
        self.connection = None
        self._connect()

    def _connect(self) -> bool:
        import psycopg
        try:
            # Bounded: this first runs while a worker boots, and an
            # unreachable host must not hold the boot until gunicorn kills it.
            self.connection = psycopg.connect(self.conninfo, autocommit=True,
                                              connect_timeout=5)
            self.connection.execute(f"LISTEN {WAKE_CHANNEL}")
            return True
        except psycopg.Error:
            log.warning("pairing wake-ups unavailable; sweeping on the timer")
            self.close()
            return False

    def wait(self, timeout: float, stop: threading.Event) -> None:
        """Until a wake-up, ``timeout`` seconds, or ``stop``, whichever comes first."""
        import psycopg
        if self.connection is None and not self._connect():
            stop.wait(timeout)
            return
        deadline = time.monotonic() + timeout
        try:
            # In short slices, so a stop is noticed within half a second.
            while not stop.is_set() and time.monotonic() < deadline:
                for _ in self.connection.notifies(timeout=0.5, stop_after=1):
                    return
        except psycopg.Error:
            log.warning("pairing wake-ups lost; sweeping on the timer")
            self.close()
            stop.wait(max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        try:
            if self.connection is not None:
                self.connection.close()
        except Exception:  # noqa: BLE001 - already broken
            pass
        self.connection = None
