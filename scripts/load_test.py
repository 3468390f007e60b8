#!/usr/bin/env python3
"""Load test: many simulated devices pushing and pulling through gunicorn on
PostgreSQL, with a burst where they all come back online within 10 s, then
the simulator's ledger check (nothing lost, nothing counted twice).

    .venv/bin/python scripts/load_test.py [--devices 500] [--minutes 5] [--workers 3]
        [--restart-database-at SECONDS ...]

Phase 1 (most of the time): every device records a few scans now and then
and syncs each time. Phase 2 (the last minute): every device is offline and
queues its scans. Burst: all devices sync, their starts spread over 10 s.
Reported: requests, error rate (non-200 answers and network failures before
retry), p50/p99 push latency, events per second, and the ledger differences.

With --restart-database-at, the throwaway PostgreSQL cluster is restarted
(pg_ctl restart -m fast) at those seconds into the run: a drill that the
devices ride out (503 + Retry-After, their queues kept) and that the ledger
check afterwards finds nothing lost or doubled.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchlib import BENCH_CONFIG, postgres_database  # noqa: E402

from sync.client.transport import HttpTransport, TransportError  # noqa: E402
from sync.simulation import Config, _Api, _setup, compare_with_ledger  # noqa: E402
from sync.timeutil import BUSINESS_TZ  # noqa: E402
from tests.live_server import LiveServer  # noqa: E402

_lock = threading.Lock()
LATENCIES: list[float] = []
OUTCOMES = {"ok": 0, "http_error": 0, "network_error": 0}
EVENTS = [0]
#: (second into the run, seconds the restart took)
RESTARTS: list[tuple[int, float]] = []
#: Error answers by status and code, e.g. "503 database_unavailable".
ERRORS: dict[str, int] = {}


class TimedTransport(HttpTransport):
    def post_json(self, path, body):
        started = time.perf_counter()
        try:
            answer = super().post_json(path, body)
        except TransportError:
            with _lock:
                OUTCOMES["network_error"] += 1
            raise
        with _lock:
            LATENCIES.append(time.perf_counter() - started)
            OUTCOMES["ok" if answer.status == 200 else "http_error"] += 1
            if answer.status != 200:
                key = f"{answer.status} {(answer.body or {}).get('code', '')}".strip()
                ERRORS[key] = ERRORS.get(key, 0) + 1
            if answer.status == 200:
                EVENTS[0] += len(answer.body.get("results", []))
        return answer


def _admin_token(url: str) -> str:
    from server import create_app
    from server.auth.services import create_user, issue_api_token
    from server.extensions import db
    app = create_app({"DATABASE_URL": url, **BENCH_CONFIG})
    with app.app_context():
        user = create_user("load", {"username": "load-admin", "display_name": "load",
                                    "password": "load-password-1", "grants": [{"role": "admin"}]})
        token, _ = issue_api_token(user)
        db.session.commit()
        db.engine.dispose()
    return token


def device_life(device, rng: random.Random, offline_at: float, burst_at: float) -> None:
    person_state = {p: None for p in device.people}
    while time.monotonic() < burst_at:
        for person in rng.sample(device.people, k=1):
            kind = "check_out" if person_state[person] == "in" else "check_in"
            event = device.client.store.record_scan(kind, person, station=device.station)
            device.truth.append({"id": event["id"], "type": kind, "person": person,
                                 "at": datetime.fromisoformat(event["occurred_at"])})
            person_state[person] = "in" if kind == "check_in" else "out"
        if time.monotonic() < offline_at:
            try:
                device.client.push()
                if rng.random() < 0.2:
                    device.client.pull()
            except Exception:  # counted by the transport; the queue keeps the scans
                pass
        time.sleep(rng.uniform(2, 8))
    time.sleep(rng.uniform(0, 10))  # all come back within 10 s
    device.client.sync()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--restart-database-at", type=float, nargs="*", default=[],
                        metavar="SECONDS")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with postgres_database() as (url, cluster), tempfile.TemporaryDirectory() as folder:
        token = _admin_token(url)
        server = LiveServer(url, workers=args.workers, threads=4,
                            SECRET_KEY=BENCH_CONFIG["SECRET_KEY"],
                            PUSH_RATE_LIMIT="100000 per minute",
                            ENROL_RATE_LIMIT="100000 per minute").start()
        try:
            api = _Api(server.url, token)
            run = f"LOAD{rng.randrange(16**5):05x}"
            config = Config(devices=args.devices, people_per_device=2, skewed_devices=0)
            devices = _setup(api, run, config, rng, Path(folder))
            for device in devices:
                device.client.transport = TimedTransport(server.url,
                                                         device.client.store.get("token"))
                device.client.max_attempts = 12
                device.client.sleep = time.sleep
            begun = time.monotonic()
            burst_at = begun + args.minutes * 60
            offline_at = burst_at - min(60, args.minutes * 60 / 3)
            threads = [threading.Thread(target=device_life, args=(
                d, random.Random(rng.random()), offline_at, burst_at)) for d in devices]
            for thread in threads:
                thread.start()
            for at in sorted(args.restart_database_at):
                time.sleep(max(0.0, begun + at - time.monotonic()))
                started = time.monotonic()
                cluster.restart()
                RESTARTS.append((round(at), round(time.monotonic() - started, 1)))
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - begun
            today = datetime.now(BUSINESS_TZ).date()
            differences = compare_with_ledger(api, run, devices, today - timedelta(days=1), today)
        finally:
            server.stop()
    requests = sum(OUTCOMES.values())
    latencies = sorted(LATENCIES)
    print(f"devices {args.devices}, {elapsed:.0f} s, gunicorn {args.workers} workers x 4 threads")
    print(f"push requests {requests}: {OUTCOMES['ok']} ok, {OUTCOMES['http_error']} HTTP errors, "
          f"{OUTCOMES['network_error']} network errors "
          f"(error rate {(requests - OUTCOMES['ok']) / max(requests, 1):.2%}, all retried)")
    if ERRORS:
        print("error answers: " + ", ".join(f"{k} x{n}" for k, n in sorted(ERRORS.items())))
    if RESTARTS:
        print("database restarts (at s, took s): " + ", ".join(map(str, RESTARTS)))
    print(f"push latency p50 {statistics.median(latencies) * 1000:.0f} ms, "
          f"p99 {latencies[int(0.99 * (len(latencies) - 1))] * 1000:.0f} ms; "
          f"{EVENTS[0] / elapsed:.1f} events/s answered")
    print(f"scans recorded {sum(len(d.truth) for d in devices)}; ledger differences: "
          f"{len(differences)}")
    for difference in differences[:20]:
        print("DIFFERENCE:", difference)
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
