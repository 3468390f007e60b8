#!/usr/bin/env python3
"""Benchmark: push through gunicorn over HTTP, beside a bare insert loop, per database.

    .venv/bin/python scripts/bench_push.py [--backend sqlite|postgresql|both]
                                           [--events 20000] [--batch 500] [--people 2000]
                                           [--database-url URL] [--pairing-workers 1]

For each database, in one run:
1. raw: ``INSERT ... ON CONFLICT (event_id) DO NOTHING`` of the rows a push
   stores into checkin_event, 500 rows and a commit per batch, two ways: a
   loop of one ``execute`` per row (the issue's "bare loop") and the
   driver's ``executemany`` (psycopg pipelines it on PostgreSQL: the
   fastest a client can send single-row statements, the stricter floor).
   On SQLite each batch is one explicit transaction: the app's connect hook
   turns sqlite3's implicit BEGIN off, and until session 7 this floor ran
   with a commit per row (docs/benchmarks.md, "Correction");
2. backlog: one device pushes ``--events`` events in ``--batch``-event
   batches, one after another, through gunicorn (2 workers), each batch
   saying how many scans the device still holds (as the reference client
   does); timed to the last answer ("uploaded") and to the moment the last
   session is paired ("paired": the full pipeline of validation,
   de-duplication, storage, flags and pairing). The rate is of the latter;
3. parallel: four other devices push another ``--events`` events at once,
   a quarter each from a client of its own (until session 8 the four
   clients shared the backlog device's token, so their pushes queued on
   that device's row lock), with no backlog report (each batch paired as
   it comes), timed to "paired".
Latency is per batch, measured by the client.

With --history N, the fresh database first gets N events of history for
the same people and stations, spread over the two years before the pushed
ones, paired into sessions by the server's own pairing: what a push costs
when each person already has hundreds of sessions (the question behind
partitioning the event table by month).

With --database-url, the run goes into that existing database instead of a
fresh one: the devices are enrolled for 20 of its stations and --people of
its people, at random. Pointed at the city dataset of scripts/generate_city.py
(two years, 20 million sessions) this measures what history costs a push.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (BENCH_CONFIG, attach_device, build_world,  # noqa: E402
                      cpu_seconds_by_program, database)

from tests.live_server import LiveServer  # noqa: E402

BUSINESS_OFFSET = timezone(timedelta(hours=8))


#: Devices that push at once after the backlog, each from its own client.
PARALLEL_DEVICES = 4


def make_events(people: list[str], stations: list[str], count: int,
                rng: random.Random) -> list[dict]:
    """Check-in/check-out pairs over the last two weeks, queued in time order
    as a device records them, seq from 1 as a fresh device numbers them."""
    pairs = []
    now = datetime.now(timezone.utc)
    while len(pairs) < count:
        person = rng.choice(people)
        station = rng.choice(stations)
        begins = now - timedelta(minutes=rng.randint(180, 14 * 24 * 60))
        pairs.append((begins, "check_in", person, station))
        pairs.append((begins + timedelta(minutes=rng.choice((60, 90, 120))), "check_out",
                      person, station))
    pairs.sort()
    return [{"id": str(uuid.uuid4()), "seq": 1 + n, "type": kind, "person": person,
             "station": station,
             "occurred_at": at.astimezone(BUSINESS_OFFSET).isoformat(timespec="seconds")}
            for n, (at, kind, person, station) in enumerate(pairs[:count])]


def batches_of(events: list[dict], size: int, report_queue: bool = False) -> list[bytes]:
    """Push bodies; ``report_queue``: each says how many scans the device
    holds (this batch and the rest), as a device working off a backlog does."""
    bodies = []
    for i in range(0, len(events), size):
        body = {"batch_id": str(uuid.uuid4()),
                "sent_at": datetime.now(BUSINESS_OFFSET).isoformat(timespec="seconds"),
                "events": events[i:i + size]}
        if report_queue:
            body["device"] = {"app_version": "bench/1", "queue_length": len(events) - i}
        bodies.append(json.dumps(body).encode())
    return bodies


def wait_until_paired(url: str) -> None:
    """Until no re-pairing is queued (the server pairs after answering).
    EXISTS, not count(*): the poll shares the cores with what it measures."""
    import sqlalchemy as sa
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            while connection.execute(sa.text(
                    "SELECT EXISTS (SELECT 1 FROM pairing_due)")).scalar():
                connection.rollback()
                time.sleep(0.005)
    finally:
        engine.dispose()


def post(url: str, token: str, body: bytes) -> float:
    request = urllib.request.Request(url + "/api/v1/sync/push", data=body, method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {token}"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        answer = json.loads(response.read())
    elapsed = time.perf_counter() - started
    bad = [r for r in answer["results"] if r["status"] != "accepted"]
    if bad:
        raise SystemExit(f"unexpected results: {bad[:3]}")
    return elapsed


def begin_batch(cursor, postgres: bool) -> None:
    """Start a transaction on a bare driver connection. psycopg does it by
    itself; sqlite3 does not here, because the app's connect hook turns its
    implicit BEGIN off (SQLAlchemy emits BEGIN itself), and without this
    every row would be a transaction of its own."""
    if not postgres:
        cursor.execute("BEGIN")


def write_history(url: str, world: dict, count: int, rng: random.Random) -> float:
    """``count`` events (check-in/check-out pairs) of the world's people at its
    stations, 15 days to two years old, stored as a push stores them and then
    paired by the server's pairing; returns the seconds it took."""
    import sqlalchemy as sa

    from server import create_app
    from server.pairing import queue as pairing_queue
    started = time.perf_counter()
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        device = connection.execute(sa.text("SELECT id FROM device LIMIT 1")).scalar()
        people = [r[0] for r in connection.execute(sa.text("SELECT id FROM person"))]
        stations = [r[0] for r in connection.execute(sa.text("SELECT id FROM station"))]
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    columns = ("event_id", "device_id", "batch_id", "seq", "type", "person_id", "station_id",
               "occurred_at", "effective_at", "received_at", "clock_offset_s", "flags",
               "content_hash", "raw")
    postgres = engine.dialect.name == "postgresql"
    marks = ", ".join(["%s" if postgres else "?"] * len(columns))
    statement = f"INSERT INTO checkin_event ({', '.join(columns)}) VALUES ({marks})"
    earliest: dict[int, datetime] = {}
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for start in range(0, count, 50_000):
            rows = []
            for n in range(start, min(count, start + 50_000), 2):
                person, station = rng.choice(people), rng.choice(stations)
                begins = now - timedelta(days=15, minutes=rng.randint(0, 2 * 365 * 24 * 60))
                ends = begins + timedelta(minutes=rng.choice((60, 90, 120)))
                earliest[person] = min(begins, earliest.get(person, begins))
                for kind, at in (("check_in", begins), ("check_out", ends)):
                    value = at if postgres else at.isoformat(" ", "microseconds")
                    rows.append((str(uuid.uuid4()), device, "history", None, kind, person,
                                 station, value, value, value, 0.0, "", "0" * 64, "{}"))
            begin_batch(cursor, postgres)
            cursor.executemany(statement, rows)
            raw.commit()
        # Queue every person for pairing, as the pushes would have.
        mark = "%s" if postgres else "?"
        begin_batch(cursor, postgres)
        cursor.executemany(
            "INSERT INTO pairing_due (person_id, since_at, device_id, queued_at, ready_at) "
            f"VALUES ({mark}, {mark}, NULL, {mark}, {mark})",
            [(person, at if postgres else at.isoformat(" ", "microseconds"),
              now if postgres else now.isoformat(" ", "microseconds"),
              now if postgres else now.isoformat(" ", "microseconds"))
             for person, at in earliest.items()])
        raw.commit()
    finally:
        raw.close()
    app = create_app({"DATABASE_URL": url, **BENCH_CONFIG})
    with app.app_context():
        pairing_queue.drain(budget_s=float("inf"), include_held=True)
    # Settle the load before measuring: on PostgreSQL autovacuum and the
    # checkpoint after a million new rows otherwise run during the pushes.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if postgres:
            connection.execute(sa.text("VACUUM (ANALYZE)"))
            connection.execute(sa.text("CHECKPOINT"))
        else:
            connection.execute(sa.text("ANALYZE"))
    engine.dispose()
    return time.perf_counter() - started


def raw_insert_rate(url: str, events: list[dict], batch: int, per_row: bool) -> float:
    """Rows per second of a bare ON CONFLICT DO NOTHING loop into checkin_event:
    one ``execute`` per row when ``per_row``, else ``executemany`` per batch.

    The rows are the ones a push of ``events`` stores (people, stations,
    times, the event's canonical JSON and its hash), under fresh ids, so the
    floor pays for the same row sizes and the same index positions as the
    pipeline; they are deleted afterwards.
    """
    import sqlalchemy as sa

    from sync.protocol import canonical_json, hash_text
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        device = connection.execute(sa.text("SELECT id FROM device ORDER BY id DESC LIMIT 1")
                                    ).scalar()
        people = dict(connection.execute(sa.text("SELECT code, id FROM person")).all())
        stations = dict(connection.execute(sa.text("SELECT code, id FROM station")).all())
    postgres = engine.dialect.name == "postgresql"
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    columns = ("event_id", "device_id", "batch_id", "seq", "type", "person_id", "station_id",
               "occurred_at", "effective_at", "received_at", "clock_offset_s", "flags",
               "content_hash", "raw")
    rows = []
    for event in events:
        event = {**event, "id": str(uuid.uuid4())}
        text = canonical_json(event)
        at = datetime.fromisoformat(event["occurred_at"]).astimezone(timezone.utc) \
            .replace(tzinfo=None)
        times = (at, at, now) if postgres else tuple(t.isoformat(" ", "microseconds")
                                                     for t in (at, at, now))
        rows.append((event["id"], device, "raw", event["seq"], event["type"],
                     people[event["person"]], stations[event["station"]], *times, 0.0, "",
                     hash_text(text), text))
    marks = ", ".join(["%s" if postgres else "?"] * len(columns))
    statement = (f"INSERT INTO checkin_event ({', '.join(columns)}) VALUES ({marks}) "
                 "ON CONFLICT (event_id) DO NOTHING")
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        started = time.perf_counter()
        for start in range(0, len(rows), batch):
            begin_batch(cursor, postgres)
            if per_row:
                for row in rows[start:start + batch]:
                    cursor.execute(statement, row)
            else:
                cursor.executemany(statement, rows[start:start + batch])
            raw.commit()
        elapsed = time.perf_counter() - started
        cursor.execute("DELETE FROM checkin_event WHERE batch_id = 'raw'")
        raw.commit()
    finally:
        raw.close()
        engine.dispose()
    return len(rows) / elapsed


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


@contextmanager
def _existing(url: str):
    yield url


def run(backend: str, args) -> None:
    rng = random.Random(42)
    with (_existing(args.database_url) if args.database_url else database(backend)) as url:
        # One device for the backlog, one per client pushing at once, one
        # to warm the server up.
        devices = 1 + PARALLEL_DEVICES + 1
        world = (attach_device(url, args.people, devices=devices) if args.database_url
                 else build_world(url, args.people, stations=20, devices=devices))
        if args.history:
            seconds = write_history(url, world, args.history, rng)
            print(f"history: {args.history:,} events written and paired in {seconds:.0f} s")
        backlog_events = make_events(world["people"], world["stations"], args.events, rng)
        # Each device's own scans, in its own seq order, a quarter each.
        per_device = [make_events(world["people"], world["stations"],
                                  args.events // PARALLEL_DEVICES, rng)
                      for _ in range(PARALLEL_DEVICES)]
        parallel_events = [event for events in per_device for event in events]
        raw_before = {per_row: raw_insert_rate(url, backlog_events, args.batch, per_row)
                      for per_row in (False, True)}
        server = LiveServer(url, workers=2, pairing_workers=args.pairing_workers,
                            PUSH_RATE_LIMIT="1000000 per minute",
                            **{k: v for k, v in BENCH_CONFIG.items() if k == "SECRET_KEY"})
        server.start()
        try:
            if args.warm_up:
                # A server that has been up a while: each web worker has
                # served pushes (imports, compiled statements, caches), as
                # any that a device's backlog reaches in service.
                warm = make_events(world["people"], world["stations"],
                                   args.warm_up * args.batch, rng)
                for body in batches_of(warm, args.batch):
                    post(server.url, world["tokens"][-1], body)
                wait_until_paired(url)
            backlog = batches_of(backlog_events, args.batch, report_queue=True)
            cpu_before = cpu_seconds_by_program(database_url=url)
            started = time.perf_counter()
            latencies = [post(server.url, world["token"], body) for body in backlog]
            uploaded_s = time.perf_counter() - started
            wait_until_paired(url)
            backlog_s = time.perf_counter() - started
            cpu = cpu_seconds_by_program(since=cpu_before, database_url=url)

            # Round robin: at any moment each client sends its own device's batch.
            bodies_by_device = [batches_of(events, args.batch) for events in per_device]
            parallel = [(token, body) for round_ in zip(*bodies_by_device)
                        for token, body in zip(world["tokens"][1:1 + PARALLEL_DEVICES], round_)]
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=PARALLEL_DEVICES) as pool:
                parallel_latencies = list(pool.map(
                    lambda push: post(server.url, *push), parallel))
            wait_until_paired(url)
            parallel_s = time.perf_counter() - started
        finally:
            server.stop()
        # The floor again, after the pushes: on a shared machine it moves
        # between runs minutes apart, so the ratio uses the mean of both.
        raw_after = {per_row: raw_insert_rate(url, parallel_events, args.batch, per_row)
                     for per_row in (False, True)}
    raw_rate = {k: (raw_before[k] + raw_after[k]) / 2 for k in raw_before}
    rate = args.events / backlog_s
    print(f"\n== {backend}, {args.pairing_workers} pairing worker"
          f"{'s' if args.pairing_workers > 1 else ''} ==")
    for per_row, label in ((True, "raw loop, one execute per row "),
                           (False, "raw executemany per batch     ")):
        print(f"{label} : {raw_rate[per_row]:9,.0f} events/s  "
              f"(before {raw_before[per_row]:,.0f}, after {raw_after[per_row]:,.0f})")
    print(f"push, one device, sequential   : {rate:9,.0f} events/s  "
          f"({rate / raw_rate[True]:.2f} x the loop, {rate / raw_rate[False]:.2f} x executemany)"
          f"  p50 {statistics.median(latencies) * 1000:.0f} ms  "
          f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms per {args.batch}-event batch")
    print(f"  {args.events}-event backlog uploaded in {uploaded_s:.2f} s, "
          f"paired in {backlog_s:.2f} s")
    if cpu:
        print("  CPU seconds while it ran: " + ", ".join(
            f"{program} {seconds:.2f}" for program, seconds in sorted(cpu.items())))
    prate = len(parallel_events) / parallel_s
    print(f"push, {PARALLEL_DEVICES} devices at once       : {prate:9,.0f} events/s  "
          f"({prate / raw_rate[True]:.2f} x the loop, {prate / raw_rate[False]:.2f} x "
          "executemany)  p50 "
          f"{statistics.median(parallel_latencies) * 1000:.0f} ms  "
          f"p99 {percentile(parallel_latencies, 0.99) * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", default="both", choices=["sqlite", "postgresql", "both"])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--warm-up", type=int, default=0, metavar="BATCHES",
                        help="batches pushed (from another device) and paired before the "
                             "backlog, so that it meets warm web workers")
    parser.add_argument("--pairing-workers", type=int, default=1,
                        help="pairing worker processes beside gunicorn (docs/deploy.md)")
    parser.add_argument("--history", type=int, default=0,
                        help="events of history to store and pair before the run")
    parser.add_argument("--database-url", default=None,
                        help="an existing dataset (e.g. the generated city) instead of a "
                             "fresh database")
    args = parser.parse_args()
    if args.database_url:
        run(args.database_url.split(":")[0].split("+")[0], args)
        return
    for backend in (("sqlite", "postgresql") if args.backend == "both" else (args.backend,)):
        run(backend, args)


if __name__ == "__main__":
    main()
