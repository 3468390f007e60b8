"""A push that meets a passing conflict in the database is tried again.

The push's fast paths (server/common/rawsql.py, the COPY of events) talk to
the drivers directly and raise psycopg's or sqlite3's own errors; the rest
raises SQLAlchemy's. The retry judges both alike
(``server.database_faults.worth_retrying``).
"""
from __future__ import annotations

import sqlite3
import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from server.common.lookup import by_code
from server.database_faults import worth_retrying
from server.devices.models import Device
from server.extensions import db
from server.checkins.event_store import FEW_ROWS
from tests.sync_helpers import batch, push, recent, scan


@pytest.mark.parametrize("backend", ["postgresql"])  # SQLite has one writer at a time
def test_a_deadlock_in_the_copy_of_events_retries_the_batch(app, client, make_device):
    """PostgreSQL: the push holds its device's row lock and COPYs an event
    whose id another transaction is inserting; that transaction then asks
    for the device's row. PostgreSQL breaks the cycle by failing the push's
    COPY (a psycopg error, not SQLAlchemy's): the push is tried again once
    the other transaction has gone, and the event counts."""
    code, token = make_device()
    device_id = by_code(Device, code).id
    event = scan("P-BA-1", "check_in", recent(1))
    # More events than event_store.FEW_ROWS, so the push COPYs them.
    others = [scan("P-BA-2", "check_in", recent(2 + n)) for n in range(FEW_ROWS)]
    db.session.commit()
    other = db.engine.connect()
    watcher = db.engine.connect()
    answers = []
    pushing = threading.Thread(target=lambda: answers.append(
        _push_in_own_context(app, token, batch([event, *others]))))
    try:
        other.begin()
        if other.execute(sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
                         ).scalar():
            # PostgreSQL fails the side whose deadlock check runs first: the
            # push's (1 s), not this one's, however loaded the machine.
            other.execute(sa.text("SET LOCAL deadlock_timeout = '30s'"))
        other.execute(sa.text(
            "INSERT INTO checkin_event (event_id, device_id, batch_id, type, person_id, "
            "station_id, occurred_at, effective_at, received_at, clock_offset_s, flags, "
            "content_hash, raw) SELECT :event_id, NULL, '', 'check_in', p.id, s.id, "
            "now(), now(), now(), 0, '', '', '{}' FROM person p, station s "
            "WHERE p.code = 'P-BA-1' AND s.code = 'ST-BA-1'"),
            {"event_id": event["id"]})
        pushing.start()
        _wait_until_waiting(watcher, "COPY")
        # Blocks until PostgreSQL fails the push's COPY (deadlock_timeout, 1 s).
        other.execute(sa.text("SELECT id FROM device WHERE id = :id FOR UPDATE"),
                      {"id": device_id})
        other.rollback()
        pushing.join(30)
    finally:
        other.close()
        watcher.close()
    (answer,) = answers
    assert answer.status_code == 200, answer.json
    assert answer.json["results"][0] == {"id": event["id"], "status": "accepted"}
    assert {r["status"] for r in answer.json["results"]} == {"accepted"}


def _push_in_own_context(app, token, body):
    with app.app_context():
        return push(app.test_client(), token, body)


def _wait_until_waiting(watcher, statement: str, timeout_s: float = 10) -> None:
    """Until a backend running ``statement`` waits for a lock."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        waiting = watcher.execute(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE :statement"), {"statement": statement + "%"}).scalar()
        watcher.rollback()
        if waiting:
            return
        time.sleep(0.05)
    raise AssertionError(f"no {statement} waited for a lock")


def test_the_passing_conflicts_of_both_databases_are_worth_retrying_however_raised(
        app, world, backend, tmp_path):
    """The error each database raises for a conflict that passes, as
    SQLAlchemy wraps it and as the driver raises it."""
    wrapped = (_sqlite_locked(tmp_path / "locked.db") if backend == "sqlite"
               else _postgres_deadlock())
    assert worth_retrying(wrapped) and worth_retrying(wrapped.orig)
    assert not worth_retrying(sqlite3.OperationalError("no such table: x"))


def _sqlite_locked(path) -> DBAPIError:
    """A write while another connection holds SQLite's write lock."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode = WAL")  # as the app's connections have it
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    engine = sa.create_engine(f"sqlite:///{path}")
    # After the app's own connect hook (15 s busy timeout, BEGIN IMMEDIATE
    # at the first statement): fail at once instead of waiting.
    sa.event.listen(engine, "connect",
                    lambda connection, _: connection.execute("PRAGMA busy_timeout = 0"))
    try:
        with engine.connect() as connection, pytest.raises(DBAPIError) as raised:
            connection.exec_driver_sql("INSERT INTO t VALUES (1)")
    finally:
        engine.dispose()
        holder.close()
    return raised.value


def _postgres_deadlock() -> DBAPIError:
    """Two transactions that each hold a row the other then asks for."""
    first, second = db.engine.connect(), db.engine.connect()
    failed = []

    def update(connection, code):
        try:
            connection.execute(sa.text("UPDATE area SET name = name WHERE code = :code"),
                               {"code": code})
        except DBAPIError as error:  # PostgreSQL fails one of the two
            failed.append(error)

    try:
        update(first, "SZ")
        update(second, "SZ-NS")
        crossing = [threading.Thread(target=update, args=(first, "SZ-NS")),
                    threading.Thread(target=update, args=(second, "SZ"))]
        for thread in crossing:
            thread.start()
        for thread in crossing:
            thread.join(30)
    finally:
        first.rollback()
        second.rollback()
        first.close()
        second.close()
    (error,) = failed
    return error
