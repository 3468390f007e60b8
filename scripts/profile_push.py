#!/usr/bin/env python3
"""Where a push batch's time goes: SQL statement by statement, in-process.

    .venv/bin/python scripts/profile_push.py --backend sqlite|postgresql [--no-triggers]

Pushes 10,000 events (20 batches of 500; the first four warm up) through
the Flask test client into a fresh database, and prints the milliseconds
per batch and the statements that took them (SQLAlchemy's and the driver-
level ones: psycopg execute/executemany/COPY). ``--no-triggers`` removes
the service-total triggers first, to see what they cost. PostgreSQL comes
from BENCH_DATABASE_URL or a throwaway cluster, as in scripts/benchlib.py.
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
from benchlib import BENCH_CONFIG, build_world, database  # noqa: E402

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
    args = parser.parse_args()
    with database(args.backend) as url:
        world = build_world(url, 2000, stations=20)
        if args.no_triggers:
            from server.reports import totals_sql
            engine = create_engine(url)
            with engine.begin() as connection:
                totals_sql.uninstall(connection)
            engine.dispose()
        app = create_app({"DATABASE_URL": url, **BENCH_CONFIG})
        # Buffered: the response's close hook (pairing after the answer) runs
        # before post() returns, as gunicorn runs it after sending.
        client = app.test_client()
        bodies = batches_of(make_events(world["people"], world["stations"], 10_000,
                                        random.Random(1)), 500,
                            report_queue=args.store_only)
        headers = {"Authorization": f"Bearer {world['token']}",
                   "Content-Type": "application/json"}
        for body in bodies[:4]:
            client.post("/api/v1/sync/push", data=body, headers=headers, buffered=True)
        STATS.clear()
        _time_driver_calls()
        # As server/wsgi.py does in each worker: without it a full collection
        # scans the world this script built, ~8 ms a batch the server never pays.
        gc.freeze()
        profiler = cProfile.Profile() if args.cprofile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        for body in bodies[4:]:
            answer = client.post("/api/v1/sync/push", data=body, headers=headers, buffered=True)
            if answer.status_code != 200:
                raise SystemExit(f"HTTP {answer.status_code}: {answer.data[:200]}")
        if profiler:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        batches = len(bodies) - 4
        print(f"{args.backend}{' without triggers' if args.no_triggers else ''}: "
              f"{(time.perf_counter() - started) / batches * 1000:.0f} ms per 500-event batch")
        for statement, (count, seconds) in sorted(STATS.items(), key=lambda kv: -kv[1][1])[:20]:
            print(f"{seconds / batches * 1000:7.1f} ms {count / batches:5.1f}x  {statement}")


if __name__ == "__main__":
    main()
