#!/usr/bin/env python3
"""What linked scans cost: on the push path, and on a device's page.

    .venv/bin/python scripts/bench_chain.py --backend sqlite|postgresql
        [--events 100000] [--others 200000] [--rounds 6] [--push-only]

1. The push path, in-process as scripts/profile_push.py measures it:
   500-event batches, three variants alternating round by round (5 batches
   each): the schema before linked scans (checkin_event without its
   (device_id, seq) index, dropped for the round) with events that carry
   no prev; the index, no prev; the index and linked events (prev: 72 more
   bytes an event). Median milliseconds per batch of each.
2. A device's page: one device with ``--events`` linked scans, pushed in
   500-event batches between ``--others`` scans of four other devices (so
   its rows lie among others as on a busy server). Then, through
   ``GET /api/v1/devices/{code}`` in-process: the first reads of a device
   never checked (each stops after TIME_BUDGET_S), a read with nothing
   new, a read after a new scan, a read after a version arrived late in an
   early block, and ``flask --app server device-chain --from-scratch``'s
   check to the end; with the index's size.

PostgreSQL comes from BENCH_DATABASE_URL or a throwaway cluster, as in
scripts/benchlib.py. docs/benchmarks.md, "Scan chains", has the figures.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_push import make_events  # noqa: E402
from benchlib import BENCH_CONFIG, build_world, database  # noqa: E402

from sqlalchemy import select, text  # noqa: E402

from server import create_app  # noqa: E402
from server.extensions import db  # noqa: E402
from sync.protocol import content_hash  # noqa: E402

INDEX = "ix_checkin_event_device_seq"


def linked(events: list[dict]) -> list[dict]:
    for before, event in zip(events, events[1:]):
        event["prev"] = content_hash(before)
    return events


def body(events: list[dict]) -> bytes:
    return json.dumps({"batch_id": str(uuid.uuid4()),
                       "sent_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
                       "events": events}).encode()


class Bench:
    def __init__(self, url: str, world: dict, backend: str):
        self.backend = backend
        self.app = create_app({"DATABASE_URL": url, **BENCH_CONFIG})
        self.client = self.app.test_client()
        self.world = world
        self.seqs: dict[str, int] = {}
        #: Each device's last scan, which its next one names.
        self.last: dict[str, dict] = {}

    def push(self, token: str, events: list[dict]) -> float:
        started = time.perf_counter()
        answer = self.client.post("/api/v1/sync/push", data=body(events), buffered=True,
                                  headers={"Authorization": f"Bearer {token}",
                                           "Content-Type": "application/json"})
        spent = time.perf_counter() - started
        if answer.status_code != 200:
            raise SystemExit(f"HTTP {answer.status_code}: {answer.data[:200]}")
        return spent

    def events(self, token: str, count: int, rng: random.Random, link: bool) -> list[dict]:
        """``count`` new scans of the device, numbered on from its last."""
        made = make_events(self.world["people"], self.world["stations"], count, rng)
        first = self.seqs.get(token, 0)
        for event in made:
            event["seq"] += first
        self.seqs[token] = first + count
        if link:
            linked(([self.last[token]] if token in self.last else []) + made)
            self.last[token] = made[-1]
        else:
            self.last.pop(token, None)
        return made

    def scalar(self, statement: str):
        with self.app.app_context():
            with db.engine.connect() as connection:
                return connection.execute(text(statement)).scalar()

    def sql(self, statement: str) -> None:
        with self.app.app_context():
            if "CONCURRENTLY" in statement or "VACUUM" in statement:  # outside a transaction
                with db.engine.connect() as connection:
                    connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                        text(statement))
                return
            with db.engine.begin() as connection:
                connection.execute(text(statement))


def push_path(bench: Bench, rounds: int, rng: random.Random) -> dict[str, list[float]]:
    token = bench.world["tokens"][1]
    variants = {"before: no index, no prev": (False, False),
                "index, no prev": (True, False), "index, linked": (True, True)}
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, (index, link) in variants.items():
            bench.sql(f"DROP INDEX IF EXISTS {INDEX}")
            if index:
                bench.sql(f"CREATE INDEX {INDEX} ON checkin_event (device_id, seq)")
            for _ in range(5):
                times[name].append(bench.push(token, bench.events(token, 500, rng, link)))
    bench.sql(f"DROP INDEX IF EXISTS {INDEX}")
    bench.sql(f"CREATE INDEX {INDEX} ON checkin_event (device_id, seq)")
    return times


def load(bench: Bench, events: int, others: int, rng: random.Random) -> None:
    target, rest = bench.world["tokens"][0], bench.world["tokens"][1:]
    per_batch = max(1, round(others / max(1, events)))
    for n in range(events // 500):
        bench.push(target, bench.events(target, 500, rng, True))
        for k in range(per_batch):
            token = rest[(n * per_batch + k) % len(rest)]
            bench.push(token, bench.events(token, 500, rng, True))
        if n % 20 == 19:
            print(f"  loaded {(n + 1) * 500} of the device's scans", file=sys.stderr)


def page(bench: Bench, admin: str) -> dict:
    from server.devices.chain import verify_chain
    from server.devices.models import Device, DeviceChainCheck
    headers = {"Authorization": f"Bearer {admin}"}
    target = bench.world["tokens"][0]

    def read() -> tuple[float, dict]:
        started = time.perf_counter()
        answer = bench.client.get("/api/v1/devices/BENCH-TAB", headers=headers)
        return (time.perf_counter() - started) * 1000, answer.json["chain"]

    def chain_alone() -> float:
        """The check alone, as a GET runs it (its transaction only reads)."""
        with bench.app.test_request_context("/", method="GET"):
            device = db.session.scalar(select(Device).where(Device.code == "BENCH-TAB"))
            started = time.perf_counter()
            verify_chain(device)
            spent = time.perf_counter() - started
            db.session.rollback()
        return spent * 1000

    found = {}
    with bench.app.app_context():
        db.session.execute(DeviceChainCheck.__table__.delete())
        db.session.commit()
    first = []
    while True:
        ms, chain = read()
        first.append((round(ms), chain["verified_through_seq"]))
        if chain["complete"]:
            break
    found["first reads (ms, verified through)"] = first
    found["breaks"] = chain["break_count"]
    found["nothing new (ms)"] = statistics.median(read()[0] for _ in range(20))
    found["of which the chain (ms)"] = statistics.median(chain_alone() for _ in range(20))
    if bench.backend == "postgresql":
        # As autovacuum leaves an insert-mostly table: the count reads the
        # index alone once the visibility map says its pages are all visible.
        bench.sql("VACUUM ANALYZE checkin_event")
        found["after VACUUM: nothing new (ms)"] = statistics.median(read()[0] for _ in range(20))
        found["after VACUUM: of which the chain (ms)"] = statistics.median(
            chain_alone() for _ in range(20))
    rng = random.Random(2)
    after_push = []
    for _ in range(10):
        bench.push(target, bench.events(target, 1, rng, True))
        after_push.append(read()[0])
    found["after a new scan (ms)"] = statistics.median(after_push)
    late = []
    with bench.app.app_context():
        early = db.session.execute(text(
            "SELECT raw FROM checkin_event WHERE device_id = (SELECT id FROM device WHERE "
            "code = 'BENCH-TAB') AND seq IN (100, 2100, 4100, 6100, 8100)")).scalars().all()
    for raw in early:
        resent = dict(json.loads(raw), person=bench.world["people"][0], type="check_out")
        bench.push(target, [resent])  # a conflicting resend: kept aside, a fork
        late.append(read()[0])
    found["after a late version in an early block (ms)"] = statistics.median(late)
    with bench.app.app_context():
        device = db.session.scalar(select(Device).where(Device.code == "BENCH-TAB"))
        started = time.perf_counter()
        report = verify_chain(device, from_scratch=True, to_the_end=True)
        db.session.commit()
        found["from scratch, to the end (s)"] = round(time.perf_counter() - started, 2)
        found["verified through"] = report.verified_through_seq
        found["breaks at the end"] = [(b.seq, b.kind) for b in report.breaks]
    return found


def sizes(bench: Bench, url: str, backend: str) -> dict:
    """The index's size, and the time to build it on the stored events (as
    the migration does: CONCURRENTLY on PostgreSQL)."""
    rows = bench.scalar("SELECT count(*) FROM checkin_event")
    if backend == "postgresql":
        index = bench.scalar(f"SELECT pg_relation_size('{INDEX}')")
        bench.sql(f"DROP INDEX {INDEX}")
        started = time.perf_counter()
        bench.sql(f"CREATE INDEX CONCURRENTLY {INDEX} ON checkin_event (device_id, seq)")
        built = time.perf_counter() - started
    else:
        import sqlite3
        index = bench.scalar(f"SELECT sum(pgsize) FROM dbstat WHERE name = '{INDEX}'")
        connection = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        connection.execute(f"DROP INDEX {INDEX}")
        started = time.perf_counter()
        connection.execute(f"CREATE INDEX {INDEX} ON checkin_event (device_id, seq)")
        built = time.perf_counter() - started
        connection.close()
    return {"events stored": rows, "index bytes": index,
            "index bytes per event": round(index / rows, 1),
            "index built in (s)": round(built, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--others", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--push-only", action="store_true", help="only part 1")
    args = parser.parse_args()
    rng = random.Random(1)
    with database(args.backend) as url:
        world = build_world(url, 2000, stations=20, devices=5)
        bench = Bench(url, world, args.backend)
        with bench.app.app_context():
            from server.auth.models import User
            from server.auth.services import issue_api_token
            admin, _ = issue_api_token(db.session.scalar(select(User)))
            db.session.commit()
        times = push_path(bench, args.rounds, rng)
        print(f"{args.backend}: push of a 500-event batch, median of {5 * args.rounds}:")
        for name, spent in times.items():
            print(f"  {name}: {statistics.median(spent) * 1000:.1f} ms "
                  f"(quartiles {statistics.quantiles(spent, n=4)[0] * 1000:.1f}–"
                  f"{statistics.quantiles(spent, n=4)[2] * 1000:.1f})")
        if args.push_only:
            return
        load(bench, args.events, args.others, rng)
        for name, value in page(bench, admin).items():
            print(f"  {name}: {value}")
        for name, value in sizes(bench, url, args.backend).items():
            print(f"  {name}: {value}")


if __name__ == "__main__":
    main()
