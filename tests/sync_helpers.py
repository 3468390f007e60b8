"""Building push bodies in tests."""
from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta, timezone

from sync.timeutil import BUSINESS_TZ, format_rfc3339

_seq = itertools.count(1)


def at(text: str) -> datetime:
    """A business-time moment from ``YYYY-MM-DD HH:MM``."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=BUSINESS_TZ)


def recent(hours_ago: float) -> datetime:
    return datetime.now(timezone.utc) - timedelta(hours=hours_ago)


def scan(person: str, kind: str, when: datetime, station: str | None = "ST-BA-1",
         seq: int | None = None, **extra) -> dict:
    event = {"id": str(uuid.uuid4()), "seq": seq if seq is not None else next(_seq),
             "type": kind, "person": person, "occurred_at": format_rfc3339(when), **extra}
    if station is not None:
        event["station"] = station
    return event


def batch(events: list, sent_at: datetime | None = None, **extra) -> dict:
    return {"batch_id": str(uuid.uuid4()),
            "sent_at": format_rfc3339(sent_at or datetime.now(timezone.utc)),
            "events": events, **extra}


def push(client, token: str, body: dict):
    return client.post("/api/v1/sync/push", json=body,
                       headers={"Authorization": f"Bearer {token}"})


def settle_pairing(timeout_s: float = 30.0) -> None:
    """Wait until every push's re-pairing is done (live servers have their
    pairing worker), pairing what is held here too."""
    import time

    from server.extensions import db
    from server.pairing import queue as pairing_queue
    deadline = time.monotonic() + timeout_s
    while True:
        pairing_queue.drain(include_held=True)
        if pairing_queue.backlog()["rows"] == 0:
            db.session.rollback()
            return
        db.session.rollback()
        if time.monotonic() > deadline:
            raise AssertionError("pairing did not finish in time")
        time.sleep(0.05)
