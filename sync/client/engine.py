"""The sync loop: push the outbox, pull reference data, recover from anything.

Push: batches of the oldest queued scans; an event leaves the outbox only on
a final status. Network errors, 5xx and 429 back off exponentially with full
jitter (429 and 503 wait at least ``Retry-After``); 413 halves the batch.
Pull: pages applied with their cursor in one local transaction, so a cut-off
pull resumes where it stopped.
"""
from __future__ import annotations

import json
import random
import time
import uuid
from datetime import datetime, timezone

from sync.client.store import LocalStore
from sync.client.transport import HttpTransport, TransportError
from sync.timeutil import format_rfc3339


class SyncError(Exception):
    """Sync stopped and needs a person: ``code`` says why (e.g. ``unauthorized``)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class SyncClient:
    def __init__(self, store: LocalStore, transport: HttpTransport | None = None, *,
                 batch_size: int = 500, max_attempts: int = 8, base_delay: float = 0.5,
                 max_delay: float = 60.0, sleep=time.sleep, rng: random.Random | None = None,
                 clock=None):
        self.store = store
        self.transport = transport or HttpTransport(store.get("base_url") or "",
                                                    store.get("token"))
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.base_delay, self.max_delay = base_delay, max_delay
        self.sleep = sleep
        self.rng = rng or random.Random()
        #: The device's clock (a simulator gives wrong ones).
        self.clock = clock or (lambda: datetime.now(timezone.utc))

    # -- enrolment --------------------------------------------------------------------
    @classmethod
    def enrol(cls, store: LocalStore, enrolment_qr: str, app_version: str = "ref-client/1"):
        """Exchange an enrolment QR (``{"v":1,"url":...,"token":...}``) for a token.

        :raise SyncError: ``invalid_enrolment`` and the like.
        """
        payload = json.loads(enrolment_qr)
        url = payload["url"]
        base_url = url.split("/api/v1/")[0]
        answer = HttpTransport(base_url).post_json(
            "/api/v1/devices/enrol", {"token": payload["token"], "app_version": app_version})
        if answer.status != 200:
            raise SyncError(answer.body.get("code", "enrol_failed"),
                            answer.body.get("detail", f"HTTP {answer.status}"))
        store.set("base_url", base_url)
        store.set("token", answer.body["token"])
        store.set("device_code", answer.body["device"])
        return cls(store)

    # -- push -------------------------------------------------------------------------
    def push(self) -> dict:
        """Send everything queued; return counts by status.

        :raise SyncError: the server refuses the device (401/403) or the batch
            (400), or the network stayed down for ``max_attempts`` tries.
        """
        counts: dict[str, int] = {}
        size = self.batch_size
        while True:
            events = self.store.pending(size)
            if not events:
                break
            body = {"batch_id": str(uuid.uuid4()),
                    "sent_at": format_rfc3339(self.clock()),
                    "device": self._health(events), "events": events}
            answer = self._with_retries(lambda: self.transport.post_json(
                "/api/v1/sync/push", body), allow_413=True)
            if answer.status == 413:
                if size == 1:
                    raise SyncError("event_too_large", "one queued event exceeds the limits")
                size = max(1, size // 2)
                continue
            results = answer.body.get("results", [])
            self.store.settle(results, answer.body.get("server_time", ""))
            for result in results:
                counts[result["status"]] = counts.get(result["status"], 0) + 1
            self.store.set("clock_offset_s", str(answer.body.get("clock_offset_s")))
            self.store.set("missing_seq", json.dumps(answer.body.get("missing_seq", [])))
            self.store.set("last_push_ok_at", format_rfc3339(datetime.now(timezone.utc)))
        self.store.set("last_error", None)
        return counts

    def _health(self, events: list[dict]) -> dict:
        """The queue as the request is built, this batch included, and (the
        optional fields, docs/sync-protocol.md "Device health") what stays
        queued once the server answers it: the outbox after the batch's
        last ``seq`` (batches are taken in ``seq`` order)."""
        status = self.store.status()
        left, oldest_left = self.store.queued_after(max(e["seq"] for e in events))
        return {"app_version": "ref-client/1", "queue_length": status["queue_length"],
                "oldest_queued_at": status["oldest_queued_at"],
                "queue_length_after": left, "oldest_queued_after_at": oldest_left}

    # -- pull -------------------------------------------------------------------------
    def pull(self, limit: int | None = 1000, max_pages: int | None = None) -> int:
        """Pull pages until there are no more (or ``max_pages``); return pages applied."""
        pages = 0
        while max_pages is None or pages < max_pages:
            cursor = self.store.get("pull_cursor")
            answer = self._with_retries(lambda: self.transport.get_json(
                "/api/v1/sync/pull", {"cursor": cursor, "limit": limit}))
            self.store.apply_page(answer.body)
            pages += 1
            if not answer.body.get("has_more"):
                self.store.set("last_pull_ok_at", format_rfc3339(datetime.now(timezone.utc)))
                break
        return pages

    def sync(self) -> dict:
        counts = self.push()
        pages = self.pull()
        return {"pushed": counts, "pulled_pages": pages}

    # -- retries ----------------------------------------------------------------------
    def _with_retries(self, call, allow_413: bool = False):
        for attempt in range(self.max_attempts):
            try:
                answer = call()
            except TransportError as error:
                self._note_error(f"network: {error}")
                self.sleep(self._backoff(attempt))
                continue
            if answer.status == 200 or (allow_413 and answer.status == 413):
                return answer
            if answer.status in (429, 503) or answer.status >= 500:
                self._note_error(f"HTTP {answer.status}")
                self.sleep(max(self._backoff(attempt), _retry_after(answer.headers)))
                continue
            code = answer.body.get("code", f"http_{answer.status}")
            self._note_error(code)
            raise SyncError(code, answer.body.get("detail", f"HTTP {answer.status}"))
        raise SyncError("unreachable", f"gave up after {self.max_attempts} attempts")

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        return self.rng.uniform(0, min(self.max_delay, self.base_delay * 2 ** attempt))

    def _note_error(self, text: str) -> None:
        self.store.set("last_error", f"{format_rfc3339(datetime.now(timezone.utc))} {text}")


def _retry_after(headers: dict) -> float:
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return float(value)
            except ValueError:
                return 1.0
    return 0.0
