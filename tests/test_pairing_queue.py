"""The pairing queue and its worker (server/pairing/), on SQLite and
PostgreSQL: queued with the events, held for a backlog, never lost."""
from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import func, select, text

from server.checkins.ingest import record_batch
from server.common.lookup import by_code
from server.db_types import utcnow
from server.devices.models import Device
from server.extensions import db
from server.pairing import queue as pairing_queue
from server.pairing import worker
from server.pairing.models import PairingDue
from server.people.models import Person
from server.service_sessions.models import ServiceSession
from tests.conftest import auth
from tests.sync_helpers import batch, push, recent, scan
from tests.test_incremental_sessions import _full_pairing, _stored_sessions


def _count(model) -> int:
    db.session.expire_all()
    value = db.session.scalar(select(func.count()).select_from(model))
    db.session.rollback()
    return value


class _Worker:
    """The pairing worker (``flask pairing worker``) on a thread of this process."""

    def __init__(self, app):
        self.stop = threading.Event()
        self.thread = threading.Thread(target=worker.run, args=(app, self.stop),
                                       name="pairing-worker", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        # Joined, so it is not still pairing when the fixture empties the tables.
        self.stop.set()
        self.thread.join(timeout=15)
        assert not self.thread.is_alive()


def _wait_until_nothing_is_due(seconds: float = 10) -> None:
    """Until the worker in another thread has paired everything (or time is up)."""
    deadline = time.monotonic() + seconds
    while _count(PairingDue) and time.monotonic() < deadline:
        time.sleep(0.05)


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


def test_a_device_that_goes_quiet_mid_backlog_is_paired_by_the_worker(
        app, client, make_device):
    # The hold must outlast the push and the client's own drain on a loaded
    # machine (0.3 s did not, once in a few full runs).
    app.config.update(PAIRING_HOLD_S=1.5, PAIRING_POLL_S=0.05, PAIRING_BEAT_S=0.2)
    _, token = make_device()
    events = [scan("P-BA-1", "check_in", recent(3)), scan("P-BA-1", "check_out", recent(2))]
    assert push(client, token, batch(events, device={"queue_length": 500})).status_code == 200
    assert _count(ServiceSession) == 0
    with _Worker(app):
        _wait_until_nothing_is_due()
    assert _count(PairingDue) == 0
    assert _stored_sessions() == _full_pairing()


# PostgreSQL only: SQLite's worker polls; it has no wake-up to test.
@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_push_wakes_the_worker_at_once(app, make_device, monkeypatch):
    """A push that queues ready work NOTIFYs (so does the batch that releases
    a held backlog): a worker whose timer is a minute away pairs it within
    moments, and a released backlog without gathering what else may come
    (the device sent all it held). Held batches wake nobody."""
    app.config.update(PAIRING_BEAT_S=60, PAIRING_GATHER_S=30)
    code, _ = make_device()
    device = db.session.scalar(select(Device).where(Device.code == code))
    events = _backlog_batches(["P-BA-1", "P-BA-2"], 8)
    with _Worker(app):
        time.sleep(0.5)  # its first drain found nothing and it waits
        for part, left in ((events[:8], len(events)), (events[8:], len(events) - 8)):
            record_batch(device, json.dumps(batch(part, device={"queue_length": left}))
                         .encode())
            db.session.commit()
            if left == len(events):
                time.sleep(0.5)  # held: nothing wakes the worker yet
                assert _count(ServiceSession) == 0
        started = time.monotonic()
        _wait_until_nothing_is_due()
        assert time.monotonic() - started < 5
    assert _count(PairingDue) == 0
    assert _stored_sessions() == _full_pairing()


def test_two_drains_never_split_a_person(app, backend, make_device, monkeypatch):
    """A drain claims all of a person's waiting rows or none: on PostgreSQL
    the people a concurrent drain holds are skipped whole (on SQLite one
    writer claims at a time)."""
    from server.pairing.writer import PERSON_LOCK_SPACE
    monkeypatch.setattr(pairing_queue, "CLAIM_PEOPLE", 1)
    monkeypatch.setattr(pairing_queue, "SQLITE_CLAIM_ROWS", 1)
    code, _ = make_device()
    device = db.session.scalar(select(Device).where(Device.code == code))
    events = _backlog_batches(["P-BA-1", "P-BA-2"], 8)
    for part in (events[:8], events[8:]):
        record_batch(device, json.dumps(batch(part)).encode())
        db.session.commit()
    rows = {p: n for p, n in db.session.execute(
        select(PairingDue.person_id, func.count()).group_by(PairingDue.person_id))}
    assert sorted(rows.values()) == [2, 2]
    held = min(rows)
    if backend == "postgresql":
        # Another drain is pairing the person whose rows come first.
        other = db.engine.connect()
        other.exec_driver_sql("BEGIN")
        other.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PERSON_LOCK_SPACE}, {held})")
    try:
        claimed, _ = pairing_queue._claim(pairing_queue._ANY_TIME)
        db.session.commit()
    finally:
        if backend == "postgresql":
            other.rollback()
            other.close()
    [person] = claimed
    assert backend == "sqlite" or person != held
    left = {p: n for p, n in db.session.execute(
        select(PairingDue.person_id, func.count()).group_by(PairingDue.person_id))}
    assert left == {p: n for p, n in rows.items() if p != person}


def test_work_queued_by_a_process_that_died_after_committing_is_paired_later(make_device):
    """What a push leaves when no worker runs (or one died before pairing):
    the rows wait, and the next drain pairs them (test_pairing_worker.py
    kills a real worker mid-drain)."""
    code, _ = make_device()
    device = db.session.scalar(select(Device).where(Device.code == code))
    body = batch([scan("P-BA-1", "check_in", recent(3)), scan("P-BA-1", "check_out", recent(2))])
    record_batch(device, json.dumps(body).encode())
    db.session.commit()  # ... and the process dies here
    assert _count(ServiceSession) == 0 and _count(PairingDue) == 1
    assert pairing_queue.drain() == 1
    assert _count(PairingDue) == 0
    assert _stored_sessions() == _full_pairing()


def test_a_drains_claim_commits_without_waiting_for_the_disk(backend, make_device):
    """A claim's transaction holds what pairing derives and the queue rows
    it deletes: lost in a crash it is lost whole, and the rows are paired
    again. On PostgreSQL it commits without waiting for the disk (SET
    LOCAL: for that transaction only; a push or a review still waits)."""
    code, _ = make_device()
    device = db.session.scalar(select(Device).where(Device.code == code))
    body = batch([scan("P-BA-1", "check_in", recent(3)), scan("P-BA-1", "check_out", recent(2))])
    record_batch(device, json.dumps(body).encode())
    db.session.commit()
    person_id = by_code(Person, "P-BA-1").id
    if backend == "postgresql":  # test clusters never wait for the disk: here they do
        db.session.execute(text("SET LOCAL synchronous_commit = on"))
    claimed, _ = pairing_queue._claim(utcnow())
    assert list(claimed) == [person_id]
    if backend == "postgresql":
        assert db.session.scalar(text("SELECT current_setting('synchronous_commit')")) == "off"
    db.session.rollback()  # the claim undone: the row waits again
    assert pairing_queue.drain() == 1 and _count(PairingDue) == 0
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


def test_rows_queued_before_until_at_existed_re_pair_to_the_end(app, client, make_device):
    """A row without ``until_at`` (queued by an older server) re-pairs the
    person's whole tail, as that server would have."""
    from tests.test_incremental_sessions import (_daily_sessions, _flags_of,
                                                 _tamper_with_latest_session)
    _, token = make_device()
    push(client, token, batch(_daily_sessions("P-BA-1", range(5, 0, -1))))
    tampered = _tamper_with_latest_session("P-BA-1")
    late = recent(4 * 24 - 5)
    body = batch([scan("P-BA-1", "check_in", late), scan("P-BA-1", "check_out", late)],
                 device={"queue_length": 10})  # held: the device says more is coming
    assert push(client, token, body).status_code == 200
    forgotten = db.session.execute(PairingDue.__table__.update().values(until_at=None))
    assert forgotten.rowcount == 1
    db.session.commit()
    pairing_queue.drain(include_held=True)
    assert _stored_sessions() == _full_pairing()
    assert _flags_of(tampered) != "tampered"


def test_requeue_all_repairs_sessions_an_older_pairing_left_wrong(app, client, make_device):
    """After an upgrade that fixed pairing, ``flask pairing requeue-all``
    re-pairs everyone's whole history: here a stale orphan check-out such
    as the tie bug fixed in commit 33e0e60 left, and a session it altered."""
    _, token = make_device()
    first_in, tie = recent(5), recent(4)
    checkout = scan("P-BA-1", "check_out", tie)
    push(client, token, batch([scan("P-BA-1", "check_in", first_in), checkout,
                               scan("P-BA-2", "check_in", recent(3)),
                               scan("P-BA-2", "check_out", recent(2))]))
    right = _stored_sessions()
    paired = db.session.scalars(select(ServiceSession)).all()
    template = paired[0]
    db.session.add(ServiceSession(
        key_event_id=checkout["id"], person_id=template.person_id,
        station_id=template.station_id, key_at=template.derived_end_at,
        checkout_event_id=checkout["id"], derived_status="orphan_checkout",
        derived_end_at=template.derived_end_at, status="orphan_checkout",
        end_at=template.derived_end_at, local_date=template.local_date,
        branch_id=template.branch_id))
    paired[1].derived_status = "open"
    db.session.commit()
    assert _stored_sessions() != right

    result = app.test_cli_runner().invoke(args=["pairing", "requeue-all"])
    assert result.exit_code == 0, result.output
    assert "Queued 2 people" in result.output
    assert "Waiting: 0 rows" in result.output
    assert _stored_sessions() == right == _full_pairing()
