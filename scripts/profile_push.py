#!/usr/bin/env python3
"""Where a push batch's time goes: SQL statement by statement, in-process.

    .venv/bin/python scripts/profile_push.py --backend sqlite|postgresql [--no-triggers]
        [--batch-size 500] [--events 10000] [--cprofile]

Pushes events (20 batches of 500 by default; the first fifth warm up)
through the Flask test client into a fresh database, then pairs what they
queued as the pairing worker does, and prints the milliseconds per batch of
each phase and the statements that took them (SQLAlchemy's and the driver-
level ones: psycopg execute/executemany/COPY). ``--batch-size 1 --events
2000`` is a phone's one scan per push. ``--no-triggers`` removes the
service-total triggers first, to see what they cost. PostgreSQL comes from
BENCH_DATABASE_URL or a throwaway cluster, as in scripts/benchlib.py.
"""
from __future__ import annotations

import argparse
import collections
import cProfile
import contextlib
import gc
import pstats
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_push import batches_of, make_events  # noqa: E402
from benchlib import BENCH_CONFIG, build_world, cpu_seconds_by_program, database  # noqa: E402

from sqlalchemy import create_engine, event  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from server import create_app  # noqa: E402

#: statement (shortened) -> [count, seconds]
STATS: dict[str, list] = collections.defaultdict(lambda: [0, 0.0])


def _record(kind: str, statement, started: float) -> None:
    key = f"{kind} " + " ".join(str(statement).split())[:100]
    STATS[key][0] += 1
    STATS[key][1] += time.perf_counter() - started


@event.listens_for(Engine, "before_cursor_execute")
def _before(conn, cursor, statement, params, context, executemany):
    conn.info["started"] = time.perf_counter()


@event.listens_for(Engine, "after_cursor_execute")
def _after(conn, cursor, statement, params, context, executemany):
    _record("SQL", statement, conn.info["started"])


def _time_driver_calls() -> None:
    """psycopg calls made below SQLAlchemy (server.common.rawsql)."""
    try:
        import psycopg
    except ImportError:
        return
    execute, executemany, copy = (psycopg.Cursor.execute, psycopg.Cursor.executemany,
                                  psycopg.Cursor.copy)

    def timed_execute(self, query, params=None, **kwargs):
        started = time.perf_counter()
        try:
            return execute(self, query, params, **kwargs)
        finally:
            _record("RAW", query, started)

    def timed_executemany(self, query, params_seq, **kwargs):
        started = time.perf_counter()
        try:
            return executemany(self, query, params_seq, **kwargs)
        finally:
            _record("MANY", query, started)

    @contextlib.contextmanager
    def timed_copy(self, statement, *args, **kwargs):
        started = time.perf_counter()
        with copy(self, statement, *args, **kwargs) as stream:
            yield stream
        _record("COPY", statement, started)

    psycopg.Cursor.execute = timed_execute
    psycopg.Cursor.executemany = timed_executemany
    psycopg.Cursor.copy = timed_copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--no-triggers", action="store_true")
    parser.add_argument("--cprofile", action="store_true",
                        help="also print the functions that took the time (cProfile)")
    parser.add_argument("--store-only", action="store_true",
                        help="batches report the scans still queued, so the server holds "
                             "pairing until the last one: what storing alone costs")
    parser.add_argument("--claim-people", type=int, default=None,
                        help="pair in claims of this many people (PostgreSQL), as the "
                             "worker does when scans trickle in one a push")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--events", type=int, default=10_000)
    args = parser.parse_args()
    with database(args.backend) as url:
        world = build_world(url, 2000, stations=20)
        if args.no_triggers:
            from server.totals import triggers as totals_sql
            engine = create_engine(url)
            with engine.begin() as connection:
                totals_sql.uninstall(connection)
            engine.dispose()
        app = create_app({"DATABASE_URL": url, **BENCH_CONFIG})
        client = app.test_client()
        bodies = batches_of(make_events(world["people"], world["stations"], args.events,
                                        random.Random(1)), args.batch_size,
                            report_queue=args.store_only)
        headers = {"Authorization": f"Bearer {world['token']}",
                   "Content-Type": "application/json"}
        warm = len(bodies) // 5
        for body in bodies[:warm]:
            client.post("/api/v1/sync/push", data=body, headers=headers, buffered=True)
        _pair(app, args.claim_people)
        STATS.clear()
        _time_driver_calls()
        # As server/wsgi.py does in each worker: without it a full collection
        # scans the world this script built, ~8 ms a batch the server never pays.
        gc.freeze()
        profiler = cProfile.Profile() if args.cprofile else None
        # CPU seconds of this process (the app, in-process) and of the
        # PostgreSQL server, per phase: on a shared machine, steadier than
        # the clock. Each phase's own, not the look-ups between them.
        cpu, database_cpu = [], []
        database_cpu.append(cpu_seconds_by_program(database_url=url).get("postgres", 0.0))
        cpu.append(time.process_time())
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        for body in bodies[warm:]:
            answer = client.post("/api/v1/sync/push", data=body, headers=headers, buffered=True)
            if answer.status_code != 200:
                raise SystemExit(f"HTTP {answer.status_code}: {answer.data[:200]}")
        stored = time.perf_counter()
        cpu.append(time.process_time())
        database_cpu.append(cpu_seconds_by_program(database_url=url).get("postgres", 0.0))
        store_stats = dict(STATS)
        STATS.clear()
        cpu.append(time.process_time())
        pairing_started = time.perf_counter()
        _pair(app, args.claim_people)
        paired = time.perf_counter()
        cpu.append(time.process_time())
        database_cpu.append(cpu_seconds_by_program(database_url=url).get("postgres", 0.0))
        if profiler:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
            pstats.Stats(profiler).sort_stats("cumulative").print_callees(
                "rewrite|_rewrite_chunk|drain|current_device|authenticate_api_caller")
        batches = len(bodies) - warm
        name = f"{args.backend}{' without triggers' if args.no_triggers else ''}"
        for n, (phase, seconds, stats) in enumerate((
                ("push", stored - started, store_stats),
                ("pairing", paired - pairing_started, STATS))):
            in_process = (cpu[2 * n + 1] - cpu[2 * n]) / batches * 1000
            in_database = (database_cpu[n + 1] - database_cpu[n]) / batches * 1000
            print(f"{name}, {phase}: {seconds / batches * 1000:.2f} ms per "
                  f"{args.batch_size}-event batch (CPU: {in_process:.2f} ms in-process"
                  + (f", {in_database:.2f} ms PostgreSQL" if args.backend == "postgresql"
                     else "") + ")")
            for statement, (count, spent) in sorted(stats.items(),
                                                    key=lambda kv: -kv[1][1])[:15]:
                print(f"{spent / batches * 1000:7.2f} ms {count / batches:5.1f}x  {statement}")


def _pair(app, claim_people: int | None = None) -> None:
    """What the pairing worker does: drain the queue (in claims of
    ``claim_people``: a worker woken every few scans claims that many)."""
    from server.pairing import queue
    if claim_people:
        queue.CLAIM_PEOPLE = claim_people
        queue.SQLITE_CLAIM_ROWS = claim_people
    with app.app_context():
        queue.drain(include_held=True)


if __name__ == "__main__":
    main()
