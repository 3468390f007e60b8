"""A thread-safe version of the limits library's in-memory rate-limit store.

limits 5.8's ``MemoryStorage`` restarts its expiry timer without a lock, so
two threads of one worker can both try to start the same new timer and one
request fails with "threads can only be started once" (a 500 the restart
drill saw under gunicorn's threaded workers; fixed upstream in limits PR
#352, not yet released), and its expiry pass can trip over a key a request
thread has just removed. This store locks the first and tolerates the second.
Selected by ``RATELIMIT_STORAGE_URI=thread-safe-memory://`` (the default),
for one process: several workers or app servers count in one Redis instead
(``redis://``, docs/deploy.md), or each lets the whole limit through.
"""
from __future__ import annotations

import bisect
import threading
import time

from limits.storage import MemoryStorage


class ThreadSafeMemoryStorage(MemoryStorage):
    STORAGE_SCHEME = ["thread-safe-memory"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        self._expiry_lock = threading.Lock()
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    # MemoryStorage calls ``self.__schedule_expiry()``, which Python spells
    # ``_MemoryStorage__schedule_expiry``: defining that name here replaces it.
    def _MemoryStorage__schedule_expiry(self) -> None:
        with self._expiry_lock:
            if not self.timer.is_alive():
                self.timer = threading.Timer(0.01, self._MemoryStorage__expire_events)
                self.timer.daemon = True
                self.timer.start()

    def _MemoryStorage__expire_events(self) -> None:
        self._expire_window_events()
        for key in list(self.expirations):
            # A request thread may have removed the key meanwhile (``get``).
            if self.expirations.get(key, float("inf")) <= time.time():
                self.storage.pop(key, None)
                self.expirations.pop(key, None)
                self.locks.pop(key, None)

    def _expire_window_events(self) -> None:
        """The moving-window half of the parent's expiry pass, unchanged."""
        for key in list(self.events):
            with self.locks[key]:
                if events := self.events.get(key, []):
                    oldest = bisect.bisect_left(events, -time.time(),
                                                key=lambda event: -event.expiry)
                    self.events[key] = self.events[key][:oldest]
                if not self.events.get(key, None):
                    self.locks.pop(key, None)
