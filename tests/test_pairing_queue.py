"""Pairing after the answer (server/service_sessions/pairing_queue.py), on
SQLite and PostgreSQL: queued with the events, held for a backlog, never lost."""
from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select

from server.checkins.ingest import record_batch
from server.devices.models import Device
from server.extensions import db
from server.service_sessions import pairing_queue
from server.service_sessions.models import PairingDue, ServiceSession
from tests.conftest import auth
from tests.sync_helpers import batch, push, recent, scan
from tests.test_incremental_sessions import _full_pairing, _stored_sessions


def _count(model) -> int:
    db.session.expire_all()
    value = db.session.scalar(select(func.count()).select_from(model))
    db.session.rollback()
    return value


def _backlog_batches(people: list[str], hours: int) -> list[dict]:
    """A device's backlog in time order: each person in at H, out at H - 1."""
    events = []
    for hour in range(hours, 1, -2):
        for person in people:
            events += [scan(person, "check_in", recent(hour)),
                       scan(person, "check_out", recent(hour - 1))]
    return events


def test_a_backlog_is_held_until_its_last_batch_then_paired_once(client, make_device):
    _, token = make_device()
    events = _backlog_batches(["P-BA-1", "P-BA-2"], 12)
    chunks = [events[i:i + 8] for i in range(0, len(events), 8)]
    for number, chunk in enumerate(chunks):
        left = sum(len(c) for c in chunks[number:])
        answer = push(client, token, batch(chunk, device={"queue_length": left}))
        assert answer.status_code == 200
        if number < len(chunks) - 1:
            # More is on its way: stored, queued, not yet paired.
            assert _count(ServiceSession) == 0
            assert _count(PairingDue) > 0
    assert _count(PairingDue) == 0
    assert _stored_sessions() == _full_pairing()
    assert {s[2] for s in _stored_sessions()} == {"ok"}


def test_a_device_that_goes_quiet_mid_backlog_is_paired_by_the_sweeper(app, client,
                                                                          make_device):
    app.config.update(PAIRING_HOLD_S=0.3, PAIRING_SWEEP_S=0.1)
    _, token = make_device()
    events = [scan("P-BA-1", "check_in", recent(3)), scan("P-BA-1", "check_out", recent(2))]
    assert push(client, token, batch(events, device={"queue_length": 500})).status_code == 200
    assert _count(ServiceSession) == 0
    stop = pairing_queue.start_sweeper(app)
    try:
        deadline = time.monotonic() + 10
        while _count(PairingDue) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
    assert _count(PairingDue) == 0
    assert _stored_sessions() == _full_pairing()


def test_work_queued_by_a_process_that_died_after_committing_is_paired_later(make_device):
    """What a worker killed between its commit and its pairing leaves behind
    (the live SIGKILL test in test_push_concurrency.py does it for real)."""
    code, _ = make_device()
    device = db.session.scalar(select(Device).where(Device.code == code))
    body = batch([scan("P-BA-1", "check_in", recent(3)), scan("P-BA-1", "check_out", recent(2))])
    record_batch(device, json.dumps(body).encode())
    db.session.commit()  # ... and the process dies here
    assert _count(ServiceSession) == 0 and _count(PairingDue) == 1
    assert pairing_queue.drain() == 1
    assert _count(PairingDue) == 0
    assert _stored_sessions() == _full_pairing()


def test_batches_for_one_person_coalesce_into_one_repairing(client, make_device):
    _, token = make_device()
    first = [scan("P-BA-1", "check_in", recent(5)), scan("P-BA-1", "check_out", recent(4))]
    late = [scan("P-BA-1", "check_in", recent(4.5))]
    push(client, token, batch(first, device={"queue_length": 10}))
    push(client, token, batch(late, device={"queue_length": 9}))
    waiting = pairing_queue.backlog()
    db.session.rollback()
    assert waiting["rows"] == 2 and waiting["people"] == 1
    assert pairing_queue.drain(include_held=True) == 1
    assert _stored_sessions() == _full_pairing()


@pytest.mark.parametrize("role,status", [("admin", 200), ("branch_secretary", 403)])
def test_the_backlog_is_reported_to_administrators_only(client, world, make_user, role, status):
    token = make_user(role, None if role == "admin" else "BA-ZB1")
    answer = client.get("/api/v1/sessions/pairing-backlog", headers=auth(token))
    assert answer.status_code == status
    if status == 200:
        assert answer.json == {"rows": 0, "people": 0, "oldest_queued_at": None}
