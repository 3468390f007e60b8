#!/usr/bin/env python3
"""Phones push one scan at a time: what a scan costs the server, and what a
district's volunteer-day morning feels like.

    .venv/bin/python scripts/bench_one_scan.py --backend sqlite|postgresql|both
        [--mode cost|burst|both] [--scans 2000] [--rate 100] [--seconds 60]
        [--devices 2000] [--web-workers 2] [--pairing-workers 1]

Through gunicorn (``--web-workers`` sync workers) with ``--pairing-workers``
pairing workers beside it (when the checkout has one), on a fresh database:

- ``cost``: ``--scans`` one-scan pushes from 1 client, then from 4 clients
  at once (4 devices); the server's CPU per scan, counted from /proc for the
  gunicorn processes, the pairing worker and PostgreSQL's processes (the
  app and the database, pairing included: the figures are read once every
  scan is paired), and scans per second.
- ``burst``: ``--rate`` scans a second for ``--seconds`` seconds, one scan
  per push, each from one of ``--devices`` devices, sent at their planned
  times by a light client (a thread pool; its CPU is reported): the time
  from the planned scan to its answer (p50, p99, max), errors, and the time
  from the last answer until every session is paired.

Self-contained (it starts gunicorn and the worker itself), so the same file
copied into an older checkout measures that checkout: the A/B in
docs/benchmarks.md, "One scan per push", ran it in both.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import BENCH_CONFIG, ROOT, build_world, database  # noqa: E402

BUSINESS_OFFSET = timezone(timedelta(hours=8))
#: The checkout has a pairing worker of its own (else its web workers pair).
HAS_WORKER = (ROOT / "server" / "pairing" / "worker.py").exists()


def cpu_seconds(server: "Server", postmaster: int | None) -> dict[str, float]:
    """CPU seconds (user + system) of this benchmark's gunicorn, its pairing
    worker, its PostgreSQL cluster and this client, from /proc: each is a
    process and its children (other work on the machine is not counted)."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents, seconds = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        parents[int(entry.name)] = int(fields[1])
        seconds[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    roots = {server.processes[0].pid: "gunicorn", os.getpid(): "client"}
    for worker in server.processes[1:]:
        roots[worker.pid] = "pairing worker"
    if postmaster:
        roots[postmaster] = "postgres"
    totals = {"gunicorn": 0.0, "pairing worker": 0.0, "postgres": 0.0, "client": 0.0}
    for pid, spent in seconds.items():
        if pid in roots:
            totals[roots[pid]] += spent
        elif roots.get(parents.get(pid)) not in (None, "client"):
            totals[roots[parents[pid]]] += spent
    return totals


def postmaster_of(url: str) -> int | None:
    """The PostgreSQL server process of ``url``'s cluster (None on SQLite)."""
    if url.startswith("sqlite"):
        return None
    import sqlalchemy as sa
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        data = connection.execute(sa.text("SHOW data_directory")).scalar()
    engine.dispose()
    return int(Path(data, "postmaster.pid").read_text().split()[0])


class Server:
    """gunicorn, and the pairing workers when the checkout has them."""

    def __init__(self, url: str, web_workers: int, pairing_workers: int = 1):
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="bench-one-scan-", suffix=".log",
                                               delete=False)
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": BENCH_CONFIG["SECRET_KEY"],
               "PUBLIC_BASE_URL": "https://stations.example.test",
               "PUSH_RATE_LIMIT": "1000000 per minute"}
        self.processes = [subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(web_workers), "--timeout", "120", "--backlog", "4096",
             "server.wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
            stderr=self.log, start_new_session=True)]
        for _ in range(pairing_workers if HAS_WORKER else 0):
            self.processes.append(subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "server", "pairing", "worker"],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=self.log,
                start_new_session=True))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.base + "/readyz", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("gunicorn did not start: " + Path(self.log.name).read_text()[-2000:])

    def stop(self) -> None:
        for process in self.processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            process.wait(timeout=30)


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_scan_bodies(people: list[str], stations: list[str], count: int,
                    start_seq: int = 1) -> list[bytes]:
    """``count`` one-scan pushes of one device: people checking in and out
    over the last hours, in time order, seq from ``start_seq``."""
    now = datetime.now(timezone.utc)
    bodies = []
    for n in range(count):
        person = people[(n // 2) % len(people)]
        kind = "check_in" if n % 2 == 0 else "check_out"
        at = now - timedelta(minutes=(count - n) * 0.1 + 5)
        event = {"id": str(uuid.uuid4()), "seq": start_seq + n, "type": kind, "person": person,
                 "station": stations[(n // 2) % len(stations)],
                 "occurred_at": at.astimezone(BUSINESS_OFFSET).isoformat(timespec="seconds")}
        bodies.append(json.dumps({
            "batch_id": str(uuid.uuid4()),
            "sent_at": datetime.now(BUSINESS_OFFSET).isoformat(timespec="seconds"),
            "events": [event]}).encode())
    return bodies


def push(base: str, token: str, body: bytes) -> tuple[float, str | None]:
    """(seconds, error or None)"""
    request = urllib.request.Request(base + "/api/v1/sync/push", data=body, method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {token}"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
    except (urllib.error.URLError, OSError) as error:
        return time.perf_counter() - started, repr(error)[:120]
    elapsed = time.perf_counter() - started
    status = answer["results"][0]["status"]
    return elapsed, None if status == "accepted" else f"result {status}"


def wait_until_paired(url: str, timeout_s: float = 600) -> float:
    """Seconds until nothing waits in the pairing queue."""
    import sqlalchemy as sa
    started = time.perf_counter()
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            while connection.execute(sa.text(
                    "SELECT EXISTS (SELECT 1 FROM pairing_due)")).scalar():
                connection.rollback()
                if time.perf_counter() - started > timeout_s:
                    raise SystemExit("pairing did not finish")
                time.sleep(0.01)
    finally:
        engine.dispose()
    return time.perf_counter() - started


def _minus(after: dict, before: dict) -> dict:
    return {k: after[k] - before[k] for k in after}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def cost(backend: str, args) -> None:
    with database(backend) as url:
        world = build_world(url, 2000, stations=20, devices=5)
        server = Server(url, args.web_workers, args.pairing_workers)
        postmaster = postmaster_of(url)
        try:
            for clients in (1, 4):
                tokens = world["tokens"][1:1 + clients] if clients > 1 else world["tokens"][:1]
                per_client = args.scans // clients
                seq = 1 + (0 if clients == 1 else args.scans + 100)
                bodies = [one_scan_bodies(world["people"], world["stations"], per_client, seq)
                          for _ in tokens]
                warm = [one_scan_bodies(world["people"][::7], world["stations"], 50, 10**6)
                        for _ in tokens]
                for token, mine in zip(tokens, warm):
                    for body in mine:
                        push(server.base, token, body)
                wait_until_paired(url)
                before = cpu_seconds(server, postmaster)
                started = time.perf_counter()
                with ThreadPoolExecutor(max_workers=clients) as pool:
                    results = list(pool.map(
                        lambda pair: [push(server.base, pair[0], b) for b in pair[1]],
                        zip(tokens, bodies)))
                answered = time.perf_counter() - started
                paired_after = wait_until_paired(url)
                cpu = _minus(cpu_seconds(server, postmaster), before)
                latencies = [seconds for mine in results for seconds, _ in mine]
                errors = sum(1 for mine in results for _, error in mine if error)
                scans = per_client * clients
                server_cpu = cpu["gunicorn"] + cpu["pairing worker"] + cpu["postgres"]
                print(f"{backend}, {clients} client{'s' if clients > 1 else ''}: "
                      f"{scans / answered:,.0f} scans/s, p50 "
                      f"{statistics.median(latencies) * 1000:.1f} ms, p99 "
                      f"{percentile(latencies, 0.99) * 1000:.1f} ms, errors {errors}; "
                      f"server CPU {server_cpu / scans * 1000:.2f} ms/scan (gunicorn "
                      f"{cpu['gunicorn'] / scans * 1000:.2f}, pairing worker "
                      f"{cpu['pairing worker'] / scans * 1000:.2f}, postgres "
                      f"{cpu['postgres'] / scans * 1000:.2f}); client "
                      f"{cpu['client'] / scans * 1000:.2f} ms/scan; paired "
                      f"{paired_after:.2f} s after the last answer", flush=True)
        finally:
            server.stop()


def burst(backend: str, args) -> None:
    with database(backend) as url:
        world = build_world(url, 2000, stations=20, devices=args.devices)
        server = Server(url, args.web_workers, args.pairing_workers)
        postmaster = postmaster_of(url)
        try:
            total = args.rate * args.seconds
            per_device = max(1, total // args.devices)
            # Each device checks its people in and out: its scans in its seq order.
            queues = [one_scan_bodies(world["people"][d % 2000::args.devices] or
                                      world["people"][:1], world["stations"], per_device)
                      for d in range(args.devices)]
            plan = []
            for n in range(per_device):
                for d in range(args.devices):
                    plan.append((d, queues[d][n]))
            plan = plan[:total]
            step = 1.0 / args.rate
            latencies: list[float] = []
            errors: list[str] = []
            lock = threading.Lock()
            before = cpu_seconds(server, postmaster)
            origin = time.perf_counter() + 1.0

            def send(index: int, device: int, body: bytes) -> None:
                due = origin + index * step
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                _, error = push(server.base, world["tokens"][device], body)
                # From the planned scan to its answer: a client thread that
                # was late to send counts against the server too.
                waited = time.perf_counter() - due
                with lock:
                    latencies.append(waited)
                    if error:
                        errors.append(error)

            with ThreadPoolExecutor(max_workers=args.threads) as pool:
                for index, (device, body) in enumerate(plan):
                    pool.submit(send, index, device, body)
            last_answer = time.perf_counter()
            paired_after = wait_until_paired(url)
            cpu = _minus(cpu_seconds(server, postmaster), before)
            span = last_answer - origin
            print(f"{backend}, burst: {len(plan)} scans from {args.devices} devices at "
                  f"{args.rate}/s planned, {len(plan) / span:,.0f}/s done; planned scan to "
                  f"answer p50 {statistics.median(latencies) * 1000:.0f} ms, p99 "
                  f"{percentile(latencies, 0.99) * 1000:.0f} ms, max "
                  f"{max(latencies) * 1000:.0f} ms; errors {len(errors)}"
                  f"{' ' + str(errors[:3]) if errors else ''}; every session paired "
                  f"{paired_after:.2f} s after the last answer; CPU s: " + ", ".join(
                      f"{k} {v:.1f}" for k, v in cpu.items()), flush=True)
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="both", choices=["sqlite", "postgresql", "both"])
    parser.add_argument("--mode", default="both", choices=["cost", "burst", "both"])
    parser.add_argument("--scans", type=int, default=2000)
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=64,
                        help="client threads of the burst (enough that none waits to send)")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--pairing-workers", type=int, default=1,
                        help="pairing worker processes (docs/deploy.md)")
    args = parser.parse_args()
    for backend in (("sqlite", "postgresql") if args.backend == "both" else (args.backend,)):
        if args.mode in ("cost", "both"):
            cost(backend, args)
        if args.mode in ("burst", "both"):
            burst(backend, args)


if __name__ == "__main__":
    main()
