"""Pushes through a real gunicorn: overlapping batches at once, and SIGKILL mid-batch."""
from __future__ import annotations

import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from server.checkins.models import CheckinEvent
from server.extensions import db
from tests.sync_helpers import batch, recent, scan, settle_pairing
from tests.test_incremental_sessions import _full_pairing, _stored_sessions

pytestmark = pytest.mark.slow

PEOPLE = ["P-BA-1", "P-BA-2", "P-BA-3"]


def _events(count: int, rng: random.Random) -> list[dict]:
    return [scan(rng.choice(PEOPLE), rng.choice(["check_in", "check_out"]),
                 recent(rng.uniform(1, 24 * 20)), seq=n + 1) for n in range(count)]


def _stored_count() -> int:
    """Count in a transaction of its own, ended at once: outside a request
    the test's SQLite connection would otherwise keep the write lock."""
    db.session.rollback()
    count = db.session.scalar(select(func.count()).select_from(CheckinEvent))
    db.session.rollback()
    return count


def test_overlapping_batches_at_once_store_each_event_once(live, make_device):
    _, token_a = make_device()
    _, token_b = make_device()
    rng = random.Random(11)
    events = _events(600, rng)
    same_batch = batch(events[100:200])
    pushes = [(token_a, batch(events[i:i + 100])) for i in range(0, 600, 100)]
    pushes += [(token_b, batch(events[i:i + 150])) for i in range(300, 600, 150)]
    pushes += [(token_b, batch(events[:100])), (token_a, same_batch), (token_b, same_batch)]
    rng.shuffle(pushes)
    server = live(workers=3, threads=2)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda p: server.post("/api/v1/sync/push", p[1], p[0]), pushes))
    assert all(status == 200 for status, _ in answers), server.log_text()
    accepted = Counter(r["id"] for _, body in answers for r in body["results"]
                       if r["status"] == "accepted")
    statuses = {r["status"] for _, body in answers for r in body["results"]}
    assert statuses <= {"accepted", "duplicate"}
    assert set(accepted.values()) == {1} and len(accepted) == 600
    server.stop()
    assert _stored_count() == 600
    # Pairing ran after the answers; what a stopped worker left is paired now.
    settle_pairing()
    assert _stored_sessions() == _full_pairing()


def test_sigkill_mid_batch_then_resend_stores_every_event_exactly_once(live, make_device):
    _, token = make_device()
    rng = random.Random(5)
    warm_up = batch(_events(1000, rng))
    server = live(workers=1)
    started = time.monotonic()
    assert server.post("/api/v1/sync/push", warm_up, token)[0] == 200
    batch_seconds = time.monotonic() - started
    expected = 1000
    for fraction in (0.3, 0.6):
        body = batch(_events(1000, rng))
        outcome = {}
        sender = threading.Thread(target=lambda: outcome.update(
            answer=_post_or_error(server, body, token)))
        sender.start()
        time.sleep(batch_seconds * fraction)
        server.kill()
        sender.join()
        stored = _stored_count()
        # The batch is one transaction: all of it or none of it survived.
        assert stored in (expected, expected + 1000)
        server = live(workers=1)
        status, answer = server.post("/api/v1/sync/push", body, token)
        assert status == 200, server.log_text()
        assert {r["status"] for r in answer["results"]} <= {"accepted", "duplicate"}
        expected += 1000
        assert _stored_count() == expected
        again = server.post("/api/v1/sync/push", body, token)[1]
        assert {r["status"] for r in again["results"]} == {"duplicate"}
    server.stop()
    settle_pairing()
    assert _stored_sessions() == _full_pairing()


def _post_or_error(server, body, token):
    try:
        return server.post("/api/v1/sync/push", body, token)
    except OSError as error:  # the connection dies with the server
        return error
