#!/usr/bin/env python3
"""What pairing a late upload costs, by how old its scans are.

    .venv/bin/python scripts/bench_late_upload.py [--backend sqlite|postgresql|both]

A station tablet that was offline uploads scans days after they were made,
while the same people's later days are already stored and paired. In a
fresh database, 250 people each get a session a day (09:00-11:00) for the
last 60 days, pushed and paired as a device's backlog. Then, for each age,
batches of 500 scans (each person in at 14:00, out at 15:00 on the day that
many days ago; one batch per hour slot) are pushed and their pairing is timed
on its own (``pairing_queue.drain``), in-process through the Flask test
client. Before re-pairing stopped where the new pairing meets the stored one,
each batch re-paired every day of each person since its scans, so the cost
grew with the age; now it should not. PostgreSQL comes from
BENCH_DATABASE_URL or a throwaway cluster, as in scripts/benchlib.py.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_push import BUSINESS_OFFSET  # noqa: E402
from benchlib import BENCH_CONFIG, build_world, database  # noqa: E402

from server import create_app  # noqa: E402
from server.extensions import db  # noqa: E402
from server.pairing import queue as pairing_queue  # noqa: E402

PEOPLE = 250
HISTORY_DAYS = 60
AGES = (1, 7, 30, 60)
#: Batches per age: the scans of each go in another afternoon hour.
REPEATS = 3


def _scan(person: str, station: str, kind: str, at: datetime) -> dict:
    return {"id": str(uuid.uuid4()), "type": kind, "person": person, "station": station,
            "occurred_at": at.isoformat(timespec="seconds")}


def _day(days_ago: int, hour: int) -> datetime:
    today = datetime.now(BUSINESS_OFFSET).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days_ago) + timedelta(hours=hour)


def _body(events: list[dict], held: bool) -> bytes:
    body = {"batch_id": str(uuid.uuid4()),
            "sent_at": datetime.now(BUSINESS_OFFSET).isoformat(timespec="seconds"),
            "events": events}
    if held:  # the device says more is queued: the server holds pairing
        body["device"] = {"app_version": "bench/1", "queue_length": len(events) + 1}
    return json.dumps(body).encode()


def run(backend: str) -> dict[int, float]:
    with database(backend) as url:
        world = build_world(url, PEOPLE, stations=1)
        station = world["stations"][0]
        app = create_app({"DATABASE_URL": url, **BENCH_CONFIG})
        client = app.test_client()
        headers = {"Authorization": f"Bearer {world['token']}",
                   "Content-Type": "application/json"}

        def push(events: list[dict]) -> None:
            answer = client.post("/api/v1/sync/push", data=_body(events, held=True),
                                 headers=headers, buffered=True)
            if answer.status_code != 200:
                raise SystemExit(f"HTTP {answer.status_code}: {answer.data[:200]}")

        history = [_scan(p, station, kind, _day(days_ago, hour))
                   for days_ago in range(HISTORY_DAYS, 0, -1)
                   for p in world["people"]
                   for kind, hour in (("check_in", 9), ("check_out", 11))]
        for start in range(0, len(history), 500):
            push(history[start:start + 500])
        with app.app_context():
            pairing_queue.drain(budget_s=float("inf"), include_held=True)

        per_age: dict[int, float] = {}
        for age in AGES:
            timings = []
            for repeat in range(REPEATS):
                hour = 14 + 2 * repeat
                push([_scan(p, station, kind, _day(age, hour + offset))
                      for p in world["people"]
                      for kind, offset in (("check_in", 0), ("check_out", 1))])
                with app.app_context():
                    started = time.perf_counter()
                    pairing_queue.drain(budget_s=float("inf"), include_held=True)
                    timings.append(time.perf_counter() - started)
            per_age[age] = statistics.median(timings) * 1000
            print(f"{backend}: scans {age:2d} days old: pairing a 500-scan batch "
                  f"{per_age[age]:6.1f} ms (median of {REPEATS}: "
                  + ", ".join(f"{t * 1000:.1f}" for t in timings) + ")")
        # The repair docs/deploy.md asks for after some upgrades: everyone's
        # whole history (here 30,000 events and more) queued and paired.
        with app.app_context():
            started = time.perf_counter()
            people = pairing_queue.requeue_everyone()
            db.session.commit()
            pairing_queue.drain(budget_s=float("inf"), include_held=True)
            elapsed = time.perf_counter() - started
        print(f"{backend}: requeue-all of {people} people's whole history: {elapsed:.2f} s")
    return per_age


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="both", choices=["sqlite", "postgresql", "both"])
    args = parser.parse_args()
    for backend in (("sqlite", "postgresql") if args.backend == "both" else (args.backend,)):
        run(backend)


if __name__ == "__main__":
    main()
