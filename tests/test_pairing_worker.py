"""The pairing worker as a process of its own (``flask --app server pairing
worker``), on SQLite and PostgreSQL: killed in the middle of a drain and
started again, it loses nothing and doubles nothing; while it is stopped
the dashboard and /health/pairing say so."""
from __future__ import annotations

import json
import os
import signal
import tempfile
import time
from datetime import date

import pytest
from sqlalchemy import func, insert, select

from server.checkins.ingest import record_batch
from server.common.transactions import reading
from server.devices.models import Device
from server.extensions import db
from server.org.models import Membership, Organisation
from server.pairing.models import PairingDue, PairingWorker
from server.people.models import Person
from server.service_sessions.models import ServiceSession
from tests.live_server import start_pairing_worker
from tests.sync_helpers import batch, recent, scan
from tests.test_incremental_sessions import _full_pairing, _stored_sessions

PEOPLE = 2000


def _count(model) -> int:
    """Read without SQLite's write lock, so the worker is not held up."""
    db.session.rollback()
    with reading():
        value = db.session.scalar(select(func.count()).select_from(model))
        db.session.rollback()
    return value


def _many_people(count: int) -> list[str]:
    """``count`` members of BA-ZB1, written in bulk."""
    branch = db.session.scalar(select(Organisation.id).where(Organisation.code == "BA-ZB1"))
    codes = [f"P-W-{n:05d}" for n in range(count)]
    db.session.execute(insert(Person), [{"code": c, "name": c, "kind": "volunteer"}
                                        for c in codes])
    ids = db.session.execute(select(Person.id).where(Person.code.in_(codes))).scalars().all()
    db.session.execute(insert(Membership), [
        {"person_id": i, "organisation_id": branch, "started_on": date(2025, 1, 1)}
        for i in ids])
    db.session.commit()
    return codes


def _store_backlog(device: Device, people: list[str]) -> None:
    """Each person in and out, pushed in batches: a queue row per person and batch."""
    events = [e for code in people for e in (scan(code, "check_in", recent(3)),
                                             scan(code, "check_out", recent(2)))]
    for start in range(0, len(events), 1000):
        record_batch(device, json.dumps(batch(events[start:start + 1000])).encode())
        db.session.commit()


@pytest.mark.slow
def test_a_worker_killed_mid_drain_and_started_again_loses_and_doubles_nothing(
        app, database_urls, backend, make_device):
    code, _ = make_device()
    device = db.session.scalar(select(Device).where(Device.code == code))
    _store_backlog(device, _many_people(PEOPLE))
    queued = _count(PairingDue)
    assert queued == PEOPLE
    env = {**os.environ, "DATABASE_URL": database_urls(backend),
           "SECRET_KEY": "test-secret-key-not-for-production"}
    log = tempfile.NamedTemporaryFile(prefix="pairing-worker-", suffix=".log", delete=False)

    worker = start_pairing_worker(env, log)
    # Killed as soon as its first claim has committed: the next is under way.
    deadline = time.monotonic() + 60
    while _count(PairingDue) == queued:
        assert worker.poll() is None, open(log.name).read()
        assert time.monotonic() < deadline, "the worker paired nothing"
        time.sleep(0.005)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    left = _count(PairingDue)
    assert 0 < left < queued, "killed too late to be mid-drain"
    assert 0 < _count(ServiceSession) < PEOPLE

    worker = start_pairing_worker(env, log)
    try:
        deadline = time.monotonic() + 60
        while _count(PairingDue):
            assert time.monotonic() < deadline, open(log.name).read()
            time.sleep(0.05)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=20)
    assert _count(ServiceSession) == PEOPLE
    assert _stored_sessions() == _full_pairing()
    # A stopped worker takes its heartbeat with it; the killed one's row stays.
    assert _count(PairingWorker) == 1


def test_health_says_when_pairing_is_stopped_or_behind(app, client, world):
    """/health/pairing: 503 "stopped" with no live worker, 503 "behind" when a
    ready scan waited past PAIRING_LAG_ALERT_S, else 200 "ok"."""
    answer = client.get("/health/pairing")
    assert (answer.status_code, answer.json["status"]) == (503, "stopped")
    db.session.add(PairingWorker(name="elsewhere:1", started_at=recent(1), beat_at=recent(0),
                                 paired_people=0))
    db.session.commit()
    answer = client.get("/health/pairing")
    assert (answer.status_code, answer.json["status"], answer.json["workers"]) == (200, "ok", 1)
    person = db.session.scalar(select(Person.id).where(Person.code == "P-BA-1"))
    db.session.add(PairingDue(person_id=person, since_at=recent(3), until_at=recent(3),
                              queued_at=recent(0.05), ready_at=recent(0.05)))
    db.session.commit()
    answer = client.get("/health/pairing")
    assert (answer.status_code, answer.json["status"]) == (503, "behind")
    assert answer.json["behind_s"] >= 170 and answer.json["waiting"]["rows"] == 1
    # A worker whose last word is older than PAIRING_WORKER_STALE_S is not running.
    db.session.execute(PairingWorker.__table__.update().values(beat_at=recent(0.1)))
    db.session.commit()
    assert client.get("/health/pairing").json["status"] == "stopped"


def test_with_no_hold_a_backlog_batch_wakes_the_worker(app, world, database_urls, backend,
                                                       make_device):
    """PAIRING_HOLD_S 0: a device's batch that says more is coming is ready
    at once, and on PostgreSQL its push wakes the worker (it did not: the
    rows waited for the worker's timer, PAIRING_BEAT_S)."""
    app.config.update(PAIRING_HOLD_S=0)
    code, _ = make_device()
    device = db.session.scalar(select(Device).where(Device.code == code))
    env = {**os.environ, "DATABASE_URL": database_urls(backend),
           "SECRET_KEY": "test-secret-key-not-for-production",
           "PAIRING_HOLD_S": "0", "PAIRING_BEAT_S": "60"}
    log = tempfile.NamedTemporaryFile(prefix="pairing-worker-", suffix=".log", delete=False)
    worker = start_pairing_worker(env, log)
    try:
        deadline = time.monotonic() + 30
        while not _count(PairingWorker):  # started: listening from now on
            assert time.monotonic() < deadline, open(log.name).read()
            time.sleep(0.05)
        time.sleep(0.5)  # its first wait has begun
        record_batch(device, json.dumps(batch(
            [scan("P-BA-1", "check_in", recent(3)), scan("P-BA-1", "check_out", recent(2))],
            device={"queue_length": 500})).encode())
        db.session.commit()
        pushed = time.monotonic()
        while _count(ServiceSession) == 0:
            assert time.monotonic() - pushed < 10, "not paired: the worker was not woken"
            time.sleep(0.02)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=20)
    assert _count(PairingDue) == 0


# PostgreSQL only: on SQLite workers poll and take turns; there is no wake-up.
@pytest.mark.parametrize("backend", ["postgresql"])
def test_of_two_workers_one_pairs_the_single_scans_until_it_stops(app, world, database_urls,
                                                                  backend, make_device):
    """Every push wakes every worker. One (the wake-up lock's holder) pairs
    what single scans ready; the other waits on instead of splitting those
    few people with it in transactions of its own. When the first stops,
    the other takes over at the next wake-up, not at its timer (a minute)."""
    code, _ = make_device()
    device = db.session.scalar(select(Device).where(Device.code == code))
    env = {**os.environ, "DATABASE_URL": database_urls(backend),
           "SECRET_KEY": "test-secret-key-not-for-production", "PAIRING_BEAT_S": "60"}
    log = tempfile.NamedTemporaryFile(prefix="pairing-worker-", suffix=".log", delete=False)
    workers = {}
    try:
        for _ in range(2):
            worker = start_pairing_worker(env, log)
            workers[worker.pid] = worker
        deadline = time.monotonic() + 30
        while _count(PairingWorker) < 2:  # started: listening from now on
            assert time.monotonic() < deadline, open(log.name).read()
            time.sleep(0.05)
        time.sleep(0.5)  # their first waits have begun

        def scan_and_wait_until_paired(hours_ago: float) -> None:
            for person in ("P-BA-1", "P-BA-2"):
                record_batch(device, json.dumps(batch(
                    [scan(person, "check_in", recent(hours_ago))])).encode())
                db.session.commit()
            pushed = time.monotonic()
            while _count(PairingDue):
                assert time.monotonic() - pushed < 10, "not paired: no worker took it"
                time.sleep(0.02)

        for hours_ago in (9, 8, 7):
            scan_and_wait_until_paired(hours_ago)
        db.session.rollback()
        paired = dict(db.session.execute(select(PairingWorker.name,
                                                PairingWorker.paired_people)).all())
        db.session.rollback()
        assert sorted(paired.values())[0] == 0 and sorted(paired.values())[1] > 0, paired
        leader = next(int(name.rsplit(":", 1)[1]) for name, n in paired.items() if n)
        os.killpg(leader, signal.SIGTERM)
        workers.pop(leader).wait(timeout=20)
        scan_and_wait_until_paired(6)
    finally:
        for worker in workers.values():
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=20)
    assert _stored_sessions() == _full_pairing()
