"""The pairing worker: ``flask --app server pairing worker``, a process of its own.

Web workers only store scans and queue their people (server/pairing/queue.py);
this process pairs them. It drains the queue, then waits: on PostgreSQL
for a push's NOTIFY (or ``PAIRING_BEAT_S`` at most), then
``PAIRING_GATHER_S`` more for the scans sent with it (not after a device's
last backlog batch: all it held is in); on SQLite for
``PAIRING_POLL_S`` (a read of the queue's first row, which takes no write
lock). It says it is alive in ``pairing_worker`` every ``PAIRING_BEAT_S``;
the dashboard and ``/health/pairing`` read that (``status``).

Stopping it (SIGTERM, SIGINT) lets the current claim commit; killing it
loses nothing either: a claim's rows are deleted in the transaction that
writes its sessions, so an interrupted claim is claimed again. Several
workers may run at once (on PostgreSQL they pair different people in
parallel; on SQLite they take turns).
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from datetime import timedelta

from flask import Flask, current_app
from sqlalchemy import delete, func, select
from sqlalchemy.exc import SQLAlchemyError

from server.common.transactions import reading
from server.db_types import utcnow
from server.extensions import db
from server.pairing import queue
from server.pairing.models import PairingDue, PairingWorker

log = logging.getLogger(__name__)

#: After a failed drain (the database restarting, say), wait this long.
_BACKOFF_S = 5.0
#: The shortest wait between drains that found nothing to claim.
_MIN_PAUSE_S = 0.05
#: The advisory lock (PostgreSQL) whose holder pairs what wake-ups announce
#: (``_wait_for_work``). Taken: (7301, person id) the person locks
#: (server/pairing/writer.py), (7302, 0) the audit chain (server/audit/chain.py).
WAKE_LOCK = (7303, 0)


def run(app: Flask, stop: threading.Event | None = None) -> None:
    """Pair what the queue holds until ``stop`` is set (or SIGTERM/SIGINT,
    when run on the main thread)."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    with app.app_context():
        heart = _Heartbeat(f"{socket.gethostname()}:{os.getpid()}")
        waker = (_Wakeups(db.engine.url) if db.engine.dialect.name == "postgresql" else None)
        log.info("pairing worker %s started", heart.name)
        try:
            while not stop.is_set():
                budget = current_app.config["PAIRING_BEAT_S"]
                started = time.monotonic()
                try:
                    paired = queue.drain(budget_s=budget, until_short=True)
                    heart.beat(paired)
                except SQLAlchemyError:
                    db.session.rollback()
                    log.exception("pairing failed; the people stay queued, retrying")
                    stop.wait(_BACKOFF_S)
                    continue
                if paired and time.monotonic() - started > budget:
                    continue  # the drain stopped for the beat: more is ready
                # Else the queue held less than a full claim: wait for more.
                if waker is None:
                    stop.wait(_pause())
                else:
                    _wait_for_work(waker, stop)
        finally:
            if waker is not None:
                waker.close()
            heart.leave()
            log.info("pairing worker %s stopped", heart.name)


def _wait_for_work(waker: "_Wakeups", stop: threading.Event) -> None:
    """PostgreSQL: wait until there is work for this worker.

    Every push that readies work wakes every worker. The one that holds the
    wake-up lock (``_Wakeups.leads``) pairs what single scans ready: it
    waits ``PAIRING_GATHER_S`` for the scans sent just after, then drains.
    The others would only split those few people between them, each in a
    transaction of its own (a second worker cost about 0.6 ms more CPU a
    scan; docs/benchmarks.md): they wait on, and pair beside it what a
    device's last backlog batch releases (at once: the device has sent all
    it held) and whatever their timer finds. When the lock's holder stops,
    its connection closes, and the next worker woken takes the lock.
    """
    config = current_app.config
    leads = waker.leads()
    while not stop.is_set():
        woken_by = waker.wait(_pause() if leads else config["PAIRING_BEAT_S"], stop)
        if woken_by is None or queue.BACKLOG_RELEASED in woken_by:
            return
        # Woken by a push: let the scans sent with it and just after it
        # arrive, to pair them in one drain (a worker that does not pair
        # them is woken this often at most).
        stop.wait(config["PAIRING_GATHER_S"])
        if leads or waker.leads():
            return


def _pause() -> float:
    """Seconds until a row is ready, within the polling interval: on
    PostgreSQL a wake-up comes sooner for anything a push readies."""
    config = current_app.config
    longest = (config["PAIRING_BEAT_S"] if db.engine.dialect.name == "postgresql"
               else config["PAIRING_POLL_S"])
    with reading():
        ready_at = queue.next_ready_at()
        db.session.rollback()
    if ready_at is None:
        return longest
    # Rows ready now arrived after the drain's last, short claim, or are
    # someone else's (a review, another worker): look again shortly, not in
    # a tight loop, which also lets the scans arriving meanwhile gather.
    return min(longest, max(_MIN_PAUSE_S, (ready_at - utcnow()).total_seconds()))


class _Heartbeat:
    """This worker's row in ``pairing_worker``, written at most every
    ``PAIRING_BEAT_S`` (SQLite's write lock is not taken for nothing)."""

    def __init__(self, name: str):
        self.name = name
        self.unsaid = 0
        self.last = 0.0
        now = utcnow()
        # Rows of workers long dead (killed, their host gone) are cleared.
        db.session.execute(delete(PairingWorker).where(
            (PairingWorker.name == name)
            | (PairingWorker.beat_at < now - timedelta(days=1))))
        db.session.add(PairingWorker(name=name, started_at=now, beat_at=now, paired_people=0))
        db.session.commit()
        self.last = time.monotonic()

    def beat(self, paired: int) -> None:
        self.unsaid += paired
        if time.monotonic() - self.last < current_app.config["PAIRING_BEAT_S"] and not (
                paired and self.unsaid == paired):
            return
        now = utcnow()
        row = db.session.scalar(select(PairingWorker).where(PairingWorker.name == self.name))
        if row is None:  # removed by an administrator, or by another worker's clean-up
            row = PairingWorker(name=self.name, started_at=now, paired_people=0)
            db.session.add(row)
        row.beat_at = now
        row.paired_people = (row.paired_people or 0) + self.unsaid
        if self.unsaid:
            row.last_paired_at = now
        db.session.commit()
        self.unsaid = 0
        self.last = time.monotonic()

    def leave(self) -> None:
        try:
            db.session.rollback()
            db.session.execute(delete(PairingWorker).where(PairingWorker.name == self.name))
            db.session.commit()
        except SQLAlchemyError:
            db.session.rollback()


def status() -> dict:
    """Whether pairing runs and how far behind it is, for the dashboard and
    ``/health/pairing``.

    ``running``: a worker said it was alive within ``PAIRING_WORKER_STALE_S``.
    ``behind_s``: how long the oldest row that is ready (not held for a
    device's backlog) has waited; 0 when none waits.
    """
    config = current_app.config
    now = utcnow()
    alive_since = now - timedelta(seconds=config["PAIRING_WORKER_STALE_S"])
    workers, last_beat = db.session.execute(select(
        func.count(PairingWorker.id), func.max(PairingWorker.beat_at))
        .where(PairingWorker.beat_at >= alive_since)).one()
    if not workers:
        last_beat = db.session.scalar(select(func.max(PairingWorker.beat_at)))
    waiting = queue.backlog()
    oldest_ready = db.session.scalar(select(func.min(PairingDue.queued_at))
                                     .where(PairingDue.ready_at <= now))
    behind = (now - oldest_ready).total_seconds() if oldest_ready is not None else 0.0
    return {"running": bool(workers), "workers": workers, "last_beat_at": last_beat,
            "behind_s": round(max(0.0, behind), 1), **waiting}


class _Wakeups:
    """A connection of its own that LISTENs on ``queue.WAKE_CHANNEL``.

    Connected when made, so a wake-up sent after the worker starts is not
    missed. Any failure (the database restarting, say) drops the
    connection: the worker falls back to its timer, and a later wait
    connects again.
    """

    def __init__(self, url):
        # The driver's own URL form, password included (render_as_string
        # hides it by default); query options such as sslmode pass through.
        self.conninfo = url.set(drivername="postgresql").render_as_string(
            hide_password=False)
        self.connection = None
        #: This worker holds the wake-up lock (on ``connection``).
        self.leading = False
        self._connect()

    def leads(self) -> bool:
        """Whether this worker pairs the scans a wake-up announces: it holds,
        or now takes, the session-level advisory lock ``WAKE_LOCK`` on its
        LISTEN connection (held until that connection closes). Without a
        connection every worker leads, as without wake-ups."""
        import psycopg
        if self.connection is None or self.leading:
            return True
        try:
            self.leading = bool(self.connection.execute(
                "SELECT pg_try_advisory_lock(%s, %s)", WAKE_LOCK).fetchone()[0])
        except psycopg.Error:
            log.warning("pairing wake-ups lost; polling on the timer")
            self.close()
            return True
        return self.leading

    def _connect(self) -> bool:
        import psycopg
        try:
            self.connection = psycopg.connect(self.conninfo, autocommit=True,
                                              connect_timeout=5)
            self.connection.execute(f"LISTEN {queue.WAKE_CHANNEL}")
            return True
        except psycopg.Error:
            log.warning("pairing wake-ups unavailable; polling on the timer")
            self.close()
            return False

    def wait(self, timeout: float, stop: threading.Event) -> set[str] | None:
        """Until a wake-up, ``timeout`` seconds, or ``stop``, whichever comes
        first; the payloads of the wake-ups when woken, else None."""
        import psycopg
        if self.connection is None and not self._connect():
            stop.wait(timeout)
            return None
        deadline = time.monotonic() + timeout
        try:
            # In short slices, so a stop is noticed within half a second.
            while not stop.is_set() and time.monotonic() < deadline:
                slice_s = min(0.5, max(0.0, deadline - time.monotonic()))
                woken_by = {n.payload for n in
                            self.connection.notifies(timeout=slice_s, stop_after=1)}
                if woken_by:
                    # One drain answers every wake-up sent so far (each
                    # generator holds the connection's lock: not nested).
                    woken_by.update(n.payload for n in self.connection.notifies(timeout=0))
                    return woken_by
        except psycopg.Error:
            log.warning("pairing wake-ups lost; polling on the timer")
            self.close()
            stop.wait(max(0.0, deadline - time.monotonic()))
        return None

    def close(self) -> None:
        try:
            if self.connection is not None:
                self.connection.close()
        except Exception:  # noqa: BLE001 - already broken
            pass
        self.connection = None
        self.leading = False  # the lock went with the connection
