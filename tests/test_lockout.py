"""Wrong passwords are counted in the database, one by one, however many
sign-ins arrive at once; the lock engages at the fifth. Real connections from
threads, on both databases (PostgreSQL is where the counts were lost)."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, update

from server.auth.models import User
from server.auth.services import MAX_FAILED_LOGINS
from server.db_types import utcnow
from server.extensions import db

pytestmark = pytest.mark.storage


def _at_once(app, attempts: int, password: str = "wrong-password") -> list[int]:
    """``attempts`` sign-ins as root, released together, each on its own
    client, request and database connection: their status codes."""
    start = threading.Barrier(attempts)
    statuses: list[int] = []

    def sign_in():
        client = app.test_client()
        start.wait()
        response = client.post("/api/v1/auth/token",
                               json={"username": "root", "password": password})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=sign_in) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def _root():
    """root's failed_logins and locked_until, read in a transaction of its
    own (on SQLite it would otherwise keep the write lock from the sign-ins)."""
    db.session.rollback()
    row = db.session.execute(select(User.id, User.failed_logins, User.locked_until)
                             .where(User.username == "root")).one()
    db.session.rollback()
    return row


def test_concurrent_wrong_passwords_are_each_counted(app, world):
    attempts = MAX_FAILED_LOGINS - 1
    for _ in range(5):
        assert _at_once(app, attempts) == [401] * attempts
        root = _root()
        assert root.failed_logins == attempts
        assert root.locked_until is None
        db.session.execute(update(User).where(User.id == root.id).values(failed_logins=0))
        db.session.commit()


def test_concurrent_wrong_passwords_lock_the_account(app, world):
    statuses = _at_once(app, 2 * MAX_FAILED_LOGINS)
    counted = statuses.count(401)
    # Attempts that arrived once the lock was set are refused unchecked (429).
    assert counted + statuses.count(429) == len(statuses)
    assert counted >= MAX_FAILED_LOGINS
    root = _root()
    assert root.failed_logins == counted
    assert root.locked_until is not None and root.locked_until > utcnow()
    assert _at_once(app, 1, "root-password-1") == [429]


def test_a_successful_sign_in_starts_the_count_again(app, world):
    assert _at_once(app, MAX_FAILED_LOGINS - 1) == [401] * (MAX_FAILED_LOGINS - 1)
    assert _at_once(app, 1, "root-password-1") == [201]
    assert _root().failed_logins == 0
    assert _at_once(app, MAX_FAILED_LOGINS - 1) == [401] * (MAX_FAILED_LOGINS - 1)
    assert _root().locked_until is None
