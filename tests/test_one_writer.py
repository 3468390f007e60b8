"""One writer of sessions (server/pairing/writer.py): a decision taken while
the pairing worker re-pairs the same person is never lost.

PostgreSQL only: there two transactions can interleave (SQLite has one
writer at a time). The interleaving is forced: the drain is held inside its
re-pairing, after it has read the person's events, sessions, reviews and
memberships and before it writes, while the other change is made on another
connection.
"""
from __future__ import annotations

import json
import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from server.checkins.ingest import record_batch
from server.devices.models import Device
from server.extensions import db
from server.org.models import Organisation
from server.pairing import queue, writer
from server.people.models import Person
from server.service_sessions.models import ServiceSession
from tests.conftest import auth
from tests.sync_helpers import batch, push, recent, scan

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])


class _HeldDrain:
    """A drain of the queue on a thread of its own, held after it has read
    everything it re-pairs from, just before it writes, until ``release``."""

    def __init__(self, app, monkeypatch):
        self.app = app
        self.reading_done = threading.Event()
        self.go_on = threading.Event()
        write = writer._write

        def held_write(*rows):
            if threading.current_thread().name == "drain":
                self.reading_done.set()
                assert self.go_on.wait(30)
            return write(*rows)

        monkeypatch.setattr(writer, "_write", held_write)
        self.thread = threading.Thread(target=self._drain, name="drain")
        self.error = None

    def _drain(self):
        try:
            with self.app.app_context():
                queue.drain()
        except Exception as error:  # noqa: BLE001 - reported by join
            self.error = error

    def start(self):
        self.thread.start()
        assert self.reading_done.wait(30)

    def release_and_join(self):
        self.go_on.set()
        self.thread.join(30)
        assert not self.thread.is_alive() and self.error is None, self.error


class _OnAnotherThread:
    """A request on another thread (it may wait for the drain's person lock)."""

    def __init__(self, call):
        self.answer = None
        self.thread = threading.Thread(target=self._run, args=(call,))

    def _run(self, call):
        self.answer = call()

    def start(self):
        self.thread.start()
        return self

    def join(self):
        self.thread.join(30)
        assert not self.thread.is_alive()
        return self.answer


def _a_session_waiting_for_review(client, make_device):
    """A 13-hour session (too long: it waits for review), and a repeat scan
    of its check-in stored but not yet paired: re-pairing will change the
    session (its flags), so the drain writes it."""
    code, token = make_device()
    start = recent(20)
    push(client, token, batch([scan("P-BA-1", "check_in", start),
                               scan("P-BA-1", "check_out", start + timedelta(hours=13))]))
    session = db.session.scalar(select(ServiceSession))
    assert session.status == "too_long"
    device = db.session.scalar(select(Device).where(Device.code == code))
    record_batch(device, json.dumps(batch([scan("P-BA-1", "check_in",
                                                start + timedelta(minutes=2))])).encode())
    db.session.commit()
    return session.key_event_id


def _stored(key):
    db.session.rollback()
    return db.session.scalar(select(ServiceSession).where(ServiceSession.key_event_id == key)
                             .execution_options(populate_existing=True))


def test_a_review_committed_while_a_drain_re_pairs_the_person_is_kept(
        app, client, world, make_user, make_device, monkeypatch):
    key = _a_session_waiting_for_review(client, make_device)
    admin = make_user("admin")

    drain = _HeldDrain(app, monkeypatch)
    drain.start()
    review = _OnAnotherThread(lambda: client.post(
        f"/api/v1/sessions/{key}/review", headers=auth(admin),
        json={"decision": "approved", "reason": "站长确认"})).start()
    review.thread.join(1.0)  # it may commit now, or wait for the drain's lock
    drain.release_and_join()
    answer = review.join()
    assert answer.status_code == 200, answer.json

    session = _stored(key)
    assert "repeat_scan" in session.flags  # the drain did re-pair it
    assert (session.status, session.review_stale) == ("approved", False)
    assert session.credited_seconds == 13 * 3600


def test_a_branch_move_committed_while_a_drain_re_pairs_the_person_is_kept(
        app, client, world, make_user, make_device, monkeypatch):
    key = _a_session_waiting_for_review(client, make_device)
    admin = make_user("admin")
    since = date.today() - timedelta(days=30)

    drain = _HeldDrain(app, monkeypatch)
    drain.start()
    move = _OnAnotherThread(lambda: client.patch(
        "/api/v1/people/P-BA-1", headers=auth(admin),
        json={"branch": "BA-ZB2", "branch_since": since.isoformat()})).start()
    move.thread.join(1.0)
    drain.release_and_join()
    answer = move.join()
    assert answer.status_code == 200, answer.json

    moved_to = db.session.scalar(select(Organisation.id).where(Organisation.code == "BA-ZB2"))
    session = _stored(key)
    assert "repeat_scan" in session.flags  # the drain did re-pair it
    assert session.branch_id == moved_to
    assert db.session.scalar(select(Person).where(Person.code == "P-BA-1")
                             ).current_branch.code == "BA-ZB2"
