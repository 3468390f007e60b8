"""The push benchmark's raw floor is what docs/benchmarks.md says it is:
500 rows (here 50) and one commit per batch.

Until session 7 it was not on SQLite: the app's connect hook turns
sqlite3's implicit BEGIN off, the floor's bare driver connection sent none,
and every row was a transaction of its own, which made the floor four to
five times slower and every SQLite ratio look better than it was.
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

import sqlalchemy
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from bench_push import make_events, raw_insert_rate  # noqa: E402
from benchlib import build_world, database  # noqa: E402


def test_the_sqlite_floor_commits_once_per_batch(monkeypatch):
    statements: list[str] = []
    real_create_engine = sqlalchemy.create_engine

    def traced(*args, **kwargs):
        engine = real_create_engine(*args, **kwargs)
        event.listen(engine, "connect",
                     lambda dbapi, record: dbapi.set_trace_callback(statements.append))
        return engine

    with database("sqlite") as url:
        world = build_world(url, 10, stations=2)
        events = make_events(world["people"], world["stations"], 120, random.Random(1))
        monkeypatch.setattr(sqlalchemy, "create_engine", traced)
        for per_row in (True, False):
            statements.clear()
            raw_insert_rate(url, events, 50, per_row)
            words = [s.split(None, 1)[0].upper() for s in statements]
            # 120 rows in batches of 50, 50 and 20, each inside its own
            # transaction; then the clean-up.
            batches, rows_in_batch, open_transaction = [], 0, False
            for word in words:
                if word == "BEGIN":
                    assert not open_transaction
                    open_transaction, rows_in_batch = True, 0
                elif word == "INSERT":
                    assert open_transaction, "a floor row outside a transaction"
                    rows_in_batch += 1
                elif word == "COMMIT" and open_transaction:
                    batches.append(rows_in_batch)
                    open_transaction = False
                elif word == "ROLLBACK":  # the look-up of people and stations
                    open_transaction = False
            assert batches == [50, 50, 20]
