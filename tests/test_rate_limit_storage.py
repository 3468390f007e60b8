"""The default rate-limit store under many threads (gunicorn's threaded
workers): no request may fail on the store's own expiry timer."""
from __future__ import annotations

import sys
import threading

from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from server.common.rate_limit_storage import ThreadSafeMemoryStorage


def test_the_default_scheme_is_the_thread_safe_store(app):
    assert app.config["RATELIMIT_STORAGE_URI"] == "thread-safe-memory://"
    assert isinstance(storage_from_string("thread-safe-memory://"), ThreadSafeMemoryStorage)


def test_threads_hitting_as_the_expiry_timer_restarts_all_get_an_answer():
    """Against limits 5.8's own MemoryStorage this failed 4 runs out of 6
    ("threads can only be started once", or a KeyError in the expiry pass)."""
    store = ThreadSafeMemoryStorage()
    limiter = FixedWindowRateLimiter(store)
    limit = RateLimitItemPerSecond(1_000_000)
    failures = []

    def hit(start: threading.Barrier, name: int):
        start.wait()
        try:
            for n in range(200):
                limiter.hit(limit, f"device-{name}-{n % 7}")
        except Exception as error:  # noqa: BLE001 - what the race raised
            failures.append(error)

    # Switch threads as often as the interpreter can, so the few bytecodes
    # between "the timer is dead" and "start the new one" interleave.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(20):
            # Each round starts when the previous timer has run out, so every
            # thread finds it dead and tries to start a new one at once.
            store.timer.join()
            start = threading.Barrier(16)
            threads = [threading.Thread(target=hit, args=(start, i)) for i in range(16)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == []
