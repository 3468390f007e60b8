"""A database that is read-only or full: devices get 503 with Retry-After and
a stable code while it lasts, nothing is half-written, and the same batch
sent again afterwards is stored once.

(PostgreSQL restarted under load is a drill: ``scripts/load_test.py
--restart-database-at``; see docs/benchmarks.md.)
"""
from __future__ import annotations

import pytest
from sqlalchemy import event, func, select

from server import create_app
from server.checkins.models import CheckinEvent
from server.extensions import db
from tests.conftest import config_for_tests
from tests.sync_helpers import batch, push, recent, scan


def _read_only_app(backend: str, url: str):
    if backend == "sqlite":
        path = url.removeprefix("sqlite:///")
        return create_app(config_for_tests(f"sqlite:///file:{path}?mode=ro&uri=true"))
    return create_app(config_for_tests(url, SQLALCHEMY_ENGINE_OPTIONS={
        "pool_pre_ping": True,
        "connect_args": {"options": "-c default_transaction_read_only=on"}}))


def _stored() -> int:
    return db.session.scalar(select(func.count()).select_from(CheckinEvent))


def test_a_read_only_database_answers_503_then_the_resent_batch_is_stored(
        app, backend, database_urls, make_device):
    _, token = make_device()
    body = batch([scan("P-BA-1", "check_in", recent(2)), scan("P-BA-1", "check_out", recent(1))])
    read_only = _read_only_app(backend, database_urls(backend))
    with read_only.app_context():
        answer = push(read_only.test_client(), token, body)
        db.engine.dispose()
    assert answer.status_code == 503
    assert answer.mimetype == "application/problem+json"
    assert answer.json["code"] == "database_read_only"
    assert int(answer.headers["Retry-After"]) > 0
    assert _stored() == 0

    again = push(app.test_client(), token, body)
    assert again.status_code == 200
    assert [r["status"] for r in again.json["results"]] == ["accepted", "accepted"]
    assert _stored() == 2


@pytest.mark.parametrize("backend", ["sqlite"])  # max_page_count is SQLite's
def test_a_full_sqlite_database_answers_503_and_writes_nothing(app, backend, make_device):
    _, token = make_device()
    client = app.test_client()
    db.session.remove()
    raw = db.engine.raw_connection()  # outside any transaction, as VACUUM must be
    raw.driver_connection.execute("VACUUM")  # no free pages left to reuse
    raw.close()

    @event.listens_for(db.engine, "connect")
    def no_room_to_grow(dbapi_connection, _):
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    db.engine.dispose()
    body = batch([scan("P-BA-1", "check_in", recent(2)) for _ in range(200)])
    answer = push(client, token, body)
    assert answer.status_code == 503
    assert answer.json["code"] == "database_full"
    assert "Retry-After" in answer.headers

    event.remove(db.engine, "connect", no_room_to_grow)
    db.engine.dispose()
    assert _stored() == 0
    again = push(client, token, body)
    assert again.status_code == 200
    assert _stored() == 200


def test_a_lost_postgresql_connection_is_a_passing_fault():
    """What a worker sees while PostgreSQL restarts (the drill in
    scripts/load_test.py restarts it under load): no SQLSTATE, only psycopg's
    OperationalError."""
    import psycopg
    from sqlalchemy.exc import OperationalError

    from server.database_faults import fault_code
    lost = psycopg.OperationalError("the connection is lost")
    assert fault_code(lost) == "database_unavailable"
    assert fault_code(OperationalError("SELECT 1", {}, lost)) == "database_unavailable"
    assert fault_code(psycopg.errors.AdminShutdown("terminating connection")) \
        == "database_unavailable"
    assert fault_code(psycopg.errors.UniqueViolation("duplicate key")) is None


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_connection_lost_mid_push_answers_503_and_the_resent_batch_is_stored_once(
        app, backend, make_device, monkeypatch):
    """The restart drill's case, made exact: PostgreSQL drops the server's
    connection just before the batch's events go in through the driver (the
    COPY path, below SQLAlchemy). The rollback after it must not turn the 503
    into a 500: it did once, since SQLAlchemy had not seen the loss."""
    from sqlalchemy import text

    from server.checkins import event_store
    _, token = make_device()
    client = app.test_client()
    db.session.remove()
    copy_insert = event_store._copy_insert_events
    killed = []

    def lose_the_connection_first(connection, rows):
        pid = connection.connection.driver_connection.info.backend_pid
        with db.engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
        killed.append(pid)
        return copy_insert(connection, rows)

    monkeypatch.setattr(event_store, "_copy_insert_events", lose_the_connection_first)
    # More events than event_store.FEW_ROWS, so the push COPYs them.
    events = [scan("P-BA-1", kind, recent(30 - n)) for n, kind in zip(
        range(event_store.FEW_ROWS + 2), ["check_in", "check_out"] * 10)]
    body = batch(events)
    answer = push(client, token, body)
    monkeypatch.undo()
    assert killed
    assert answer.status_code == 503 and answer.json["code"] == "database_unavailable"
    assert "Retry-After" in answer.headers
    db.session.remove()
    assert _stored() == 0
    assert push(client, token, body).status_code == 200
    assert _stored() == len(events)


def test_a_sqlite_too_old_for_the_app_is_refused_at_start(backend, database_urls,
                                                          monkeypatch):
    """Python links whatever SQLite the system has (Ubuntu 22.04: 3.37.2);
    the push path's SQL needs 3.38. PostgreSQL does not care."""
    import sqlite3
    url = database_urls(backend)
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 37, 2))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.37.2")
    if backend == "sqlite":
        with pytest.raises(RuntimeError, match=r"SQLite 3\.38\.0 or newer is needed; "
                                               r"this Python uses SQLite 3\.37\.2"):
            create_app(config_for_tests(url))
    else:
        assert create_app(config_for_tests(url)).config["SQLALCHEMY_DATABASE_URI"] == url
