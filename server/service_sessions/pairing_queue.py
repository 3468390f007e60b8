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
once: rows are claimed with SKIP LOCKED and people locked as for a push
(``recompute_people``).
"""
from __future__ import annotations

import logging
import random
import threading
import time
from datetime import datetime, timedelta, timezone

from flask import Flask, current_app
from sqlalchemy import func, select, update

from server.common.rawsql import RawSql, read_time, write_rows
from server.db_types import utcnow
from server.extensions import db
from server.service_sessions.models import PairingDue
from server.service_sessions.recompute import recompute_people

log = logging.getLogger(__name__)

#: People claimed per transaction (at most): bounds how long one drain holds
#: the SQLite write lock (pushes wait for it) and how much a failure repeats.
CLAIM_PEOPLE = 1000


def enqueue(earliest: dict[int, tuple[datetime, str]], device_id: int | None,
            received_at: datetime, more_to_come: bool) -> None:
    """Queue the people whose events were just stored, in the caller's transaction.

    :param earliest: person id to the ``(effective_at, event_id)`` of the
        earliest event added for them.
    :param more_to_come: the device reports more queued scans than this
        batch held; its rows wait for its last batch, at most ``PAIRING_HOLD_S``.
    """
    connection = db.session.connection()
    if not more_to_come and device_id is not None:
        # The device's last batch: what it held so far is ready with it.
        connection.execute(update(PairingDue).where(
            PairingDue.device_id == device_id, PairingDue.ready_at > received_at)
            .values(ready_at=received_at))
    if not earliest:
        return
    hold = current_app.config["PAIRING_HOLD_S"] if more_to_come else 0
    ready_at = received_at + timedelta(seconds=hold)
    write_rows(connection, PairingDue.__table__, [
        {"person_id": person_id, "since_at": at, "device_id": device_id,
         "queued_at": received_at, "ready_at": ready_at}
        for person_id, (at, _) in sorted(earliest.items())])


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


def _claim(now: datetime) -> dict[int, tuple[datetime, str]]:
    """Delete the ready rows of up to CLAIM_PEOPLE people in this
    transaction (all their rows, so a backlog's batches coalesce); per
    person the earliest time they name. Rows another drain holds are
    skipped, never waited for (that drain pairs those people)."""
    raw = RawSql(db.session.connection())
    if raw.sqlite:
        # One writer at a time: the session's transaction began IMMEDIATE.
        sql = ("DELETE FROM pairing_due WHERE ready_at <= ? AND person_id IN ("
               "SELECT person_id FROM pairing_due WHERE ready_at <= ? "
               "ORDER BY ready_at, id LIMIT ?) RETURNING person_id, since_at")
    else:
        # Each step MATERIALIZED, so each runs once. As nested IN subqueries
        # with row locks, PostgreSQL once planned the inner LIMIT ... SKIP
        # LOCKED to run again for every outer row: an hour on 16,000 rows.
        sql = ("WITH picked AS MATERIALIZED (SELECT person_id FROM pairing_due "
               "WHERE ready_at <= %s ORDER BY ready_at, id LIMIT %s FOR UPDATE SKIP LOCKED), "
               "claimed AS MATERIALIZED (SELECT d.id FROM pairing_due d "
               "JOIN (SELECT DISTINCT person_id FROM picked) AS p USING (person_id) "
               "WHERE d.ready_at <= %s FOR UPDATE OF d SKIP LOCKED) "
               "DELETE FROM pairing_due AS due USING claimed WHERE due.id = claimed.id "
               "RETURNING due.person_id, due.since_at")
    at = raw.time_param(now)
    params = [at, at, CLAIM_PEOPLE] if raw.sqlite else [at, CLAIM_PEOPLE, at]
    earliest: dict[int, tuple[datetime, str]] = {}
    for person_id, since_at in raw.fetch(sql, params):
        since_at = read_time(since_at)
        if person_id not in earliest or since_at < earliest[person_id][0]:
            earliest[person_id] = (since_at, "")
    return earliest


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


def backlog() -> dict:
    """How much pairing waits: rows, people, and the oldest row's age."""
    rows, people, oldest = db.session.execute(select(
        func.count(), func.count(PairingDue.person_id.distinct()),
        func.min(PairingDue.queued_at))).one()
    return {"rows": rows, "people": people, "oldest_queued_at": oldest}


def start_sweeper(app: Flask) -> threading.Event | None:
    """A daemon thread that drains every ``PAIRING_SWEEP_S`` seconds (0: none).

    It pairs what no push will: rows held for a device that went quiet,
    and rows left by a process that died after answering. Returns the event
    that stops it.
    """
    interval = app.config["PAIRING_SWEEP_S"]
    if interval <= 0:
        return None
    stop = threading.Event()

    def sweep():
        # Jitter, so the workers of one host do not wake together.
        while not stop.wait(interval * random.uniform(0.75, 1.25)):
            drain_after_response(app)

    threading.Thread(target=sweep, name="pairing-sweeper", daemon=True).start()
    return stop
