#!/usr/bin/env python3
"""Benchmark the audit log's hash chain (docs/audit.md).

    .venv/bin/python scripts/bench_audit.py [--entries 200000] [--reviews 200]
        [--backend sqlite|postgresql|both]

For each database:

1. **Chaining and verifying.** A database at the revision before the chain
   gets ``--entries`` audit entries (the mix of actors, actions, reasons and
   changes that real use writes); ``flask db upgrade`` chains them (timed);
   then ``flask --app server audit verify`` runs as its own process: wall
   time and peak memory (it streams), and the walk alone in-process.
2. **The cost on a path that audits.** ``--reviews`` reviews through the API
   (Flask test client: the whole request path: the person lock, re-pairing,
   the entry), every other one with the chain's step at commit replaced by
   a plain insert of the entry (what ``record_audit`` cost before the
   chain): median per review of each, and the chain's step alone.
3. **Audited commits from 4 threads at once**, chained and plain: commits
   per second (on PostgreSQL the chain lock makes audit commits take turns
   for the end of their commit; SQLite has one writer anyway).

PostgreSQL comes from BENCH_DATABASE_URL (a server URL) or a throwaway local
cluster with fsync on (scripts/benchlib.py). The database is thrown away.
"""
from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import BENCH_CONFIG, ROOT, build_world, postgres_database  # noqa: E402

import sqlalchemy as sa  # noqa: E402
from flask_migrate import downgrade, upgrade  # noqa: E402
from sqlalchemy import event, insert, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from server import create_app  # noqa: E402
from server.audit import chain as audit_chain  # noqa: E402
from server.extensions import db  # noqa: E402

BEFORE_CHAIN = "b5e1d0c3a7f2"

_ACTIONS = [("review_session_approved", "session", None, "负责人已核实"),
            ("review_session_rejected", "session", None, "未实际服务，退回"),
            ("update_person", "person", {"name": ["王小明", "王晓明"],
                                         "phone_masked": ["138****5678", "139****1234"]}, None),
            ("update_station", "station", {"latitude": [22.5562, 22.5571]}, None),
            ("create_device", "device", None, None),
            ("enter_retroactive", "session", None, "手机没电，补录"),
            ("update_device", "device", {"stations": [["ST-0001"], ["ST-0001", "ST-0002"]]},
             None)]


@contextmanager
def database(backend: str):
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/bench.db"
            app = create_app({"DATABASE_URL": url, **BENCH_CONFIG})
            with app.app_context():
                upgrade()
                db.engine.dispose()
            yield url
        return
    with postgres_database() as (url, _):
        yield url


def app_for(url: str):
    return create_app({"DATABASE_URL": url, **BENCH_CONFIG})


# -- 1. chaining and verifying ---------------------------------------------------------

def fill_before_the_chain(url: str, entries: int) -> None:
    app = app_for(url)
    with app.app_context():
        downgrade(revision=BEFORE_CHAIN)
        table = sa.table("audit_entry", *(sa.column(name) for name in (
            "at", "actor", "action", "object_type", "object_code", "reason")),
            sa.column("changes", sa.JSON()))
        start = datetime(2026, 1, 1)
        rows = []
        with db.engine.begin() as connection:
            for n in range(entries):
                action, kind, changes, reason = _ACTIONS[n % len(_ACTIONS)]
                rows.append({"at": (start + timedelta(seconds=37 * n, microseconds=n % 997)),
                             "actor": f"user:secretary-{n % 400}", "action": action,
                             "object_type": kind, "object_code": f"{kind[:2].upper()}-{n:08d}",
                             "reason": reason, "changes": changes})
                if len(rows) == 10_000:
                    connection.execute(insert(table), rows)
                    rows.clear()
            if rows:
                connection.execute(insert(table), rows)
        db.engine.dispose()


def chain_by_upgrade(url: str) -> float:
    app = app_for(url)
    with app.app_context():
        started = time.perf_counter()
        upgrade()
        elapsed = time.perf_counter() - started
        if db.engine.dialect.name == "postgresql":
            # What autovacuum does soon after: the figures below are for a
            # table in its usual state, not one just rewritten.
            with db.engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE audit_entry")
        db.engine.dispose()
    return elapsed


def verify_as_a_process(url: str) -> tuple[float, float, str]:
    """(wall seconds, peak resident MiB, last line) of ``flask audit verify``."""
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": BENCH_CONFIG["SECRET_KEY"]}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "server", "audit",
                                "verify"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"verify failed: {output[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024, output.strip().splitlines()[-1]


def walk_in_process(url: str) -> tuple[float, int]:
    from sync.chain import ChainCheck
    app = app_for(url)
    with app.app_context():
        check = ChainCheck()
        started = time.perf_counter()
        with db.engine.connect() as connection:
            for link in audit_chain.links(connection):
                assert not check.add(link)
        assert not check.end()
        elapsed = time.perf_counter() - started
        db.engine.dispose()
    return elapsed, check.count


# -- 2, 3. the cost where the app audits ----------------------------------------------

#: Plain entries take seqs below zero: the chain goes on among the others.
_PLAIN_SEQ = itertools.count(-1, -1)


class SealModes:
    """Switches the step that writes a transaction's entries at commit
    between the chain's (``_seal``) and a plain insert, and times it."""

    def __init__(self):
        self.mode = "chained"
        self.seal_seconds: list[float] = []
        event.remove(Session, "before_commit", audit_chain._seal)
        event.listen(Session, "before_commit", self._write)

    def restore(self):
        event.remove(Session, "before_commit", self._write)
        event.listen(Session, "before_commit", audit_chain._seal)

    def _write(self, session):
        if session.in_nested_transaction() or not session.info.get(audit_chain._PENDING):
            return
        started = time.perf_counter()
        if self.mode == "chained":
            audit_chain._seal(session)
        else:
            self._plain(session)
        self.seal_seconds.append(time.perf_counter() - started)

    def _plain(self, session):
        rows = [row for _, row in session.info.pop(audit_chain._PENDING)]
        session.flush()
        for row in rows:
            row.update(seq=next(_PLAIN_SEQ), prev_hash=None, entry_hash="-")
        session.connection().execute(insert(audit_chain._TABLE), rows)


def reviews(url: str, count: int) -> dict[str, float]:
    from server.auth.services import create_user, issue_api_token
    from server.pairing import queue
    from server.service_sessions.models import ServiceSession
    from sync.timeutil import format_rfc3339
    world = build_world(url, people=count)
    app = app_for(url)
    client = app.test_client()
    start = datetime.now(timezone.utc) - timedelta(days=2)
    events = []
    for n, person in enumerate(world["people"]):
        for kind, at in (("check_in", start), ("check_out", start + timedelta(hours=13))):
            events.append({"id": f"00000000-0000-4000-8000-{len(events):012d}",
                           "seq": len(events) + 1, "type": kind, "person": person,
                           "station": world["stations"][0], "occurred_at": format_rfc3339(at)})
    for first in range(0, len(events), 500):
        answer = client.post("/api/v1/sync/push", headers={
            "Authorization": f"Bearer {world['token']}"}, json={
            "batch_id": f"00000000-0000-4000-9000-{first:012d}",
            "sent_at": format_rfc3339(datetime.now(timezone.utc)),
            "events": events[first:first + 500]})
        assert answer.status_code == 200, answer.data[:300]
    with app.app_context():
        queue.drain(include_held=True)
        keys = list(db.session.scalars(select(ServiceSession.key_event_id)
                                       .where(ServiceSession.status == "too_long")))
        user = create_user("bench", {"username": "bench-reviewer", "display_name": "bench",
                                     "password": "bench-password-1",
                                     "grants": [{"role": "admin"}]})
        token, _ = issue_api_token(user)
        db.session.commit()
    assert len(keys) == count, (len(keys), count)
    modes = SealModes()
    timings = {"chained": [], "plain": []}
    seals = {"chained": [], "plain": []}
    try:
        for n, key in enumerate(keys):
            modes.mode = ("chained", "plain")[n % 2]
            before = len(modes.seal_seconds)
            started = time.perf_counter()
            answer = client.post(f"/api/v1/sessions/{key}/review",
                                 headers={"Authorization": f"Bearer {token}"},
                                 json={"decision": "rejected", "reason": "未实际服务，退回"})
            timings[modes.mode].append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.data[:300]
            seals[modes.mode].extend(modes.seal_seconds[before:])
    finally:
        modes.restore()
    with app.app_context():
        db.engine.dispose()
    return {f"{what}_{mode}": statistics.median(values) * 1000
            for what, table in (("review", timings), ("seal", seals))
            for mode, values in table.items()}


def parallel_commits(url: str, threads: int = 4, each: int = 150) -> dict[str, float]:
    app = app_for(url)
    from server.audit.services import record_audit
    result = {}
    modes = SealModes()
    try:
        for mode in ("chained", "plain"):
            modes.mode = mode
            gate = threading.Barrier(threads + 1)

            def work(worker):
                with app.app_context():
                    gate.wait()
                    for n in range(each):
                        record_audit(f"user:w{worker}", "bench_commit", "test", f"{worker}-{n}")
                        db.session.commit()

            running = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
            for thread in running:
                thread.start()
            gate.wait()
            started = time.perf_counter()
            for thread in running:
                thread.join()
            result[mode] = threads * each / (time.perf_counter() - started)
    finally:
        modes.restore()
    with app.app_context():
        db.engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--reviews", type=int, default=200)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    for backend in (("sqlite", "postgresql") if args.backend == "both" else (args.backend,)):
        with database(backend) as url:
            fill_before_the_chain(url, args.entries)
            upgraded = chain_by_upgrade(url)
            wall, rss, line = verify_as_a_process(url)
            walk, count = walk_in_process(url)
            print(f"[{backend}] {args.entries} entries: chained by the upgrade in "
                  f"{upgraded:.1f} s; "
                  f"`audit verify`: {wall:.1f} s wall, {rss:.0f} MiB peak ({line!r}); "
                  f"the walk alone {walk:.1f} s ({count / walk:,.0f} entries/s)", flush=True)
            cost = reviews(url, args.reviews)
            print(f"[{backend}] review through the API, median of {args.reviews // 2} each: "
                  f"{cost['review_chained']:.2f} ms chained, {cost['review_plain']:.2f} ms "
                  f"plain; the step at commit: {cost['seal_chained']:.3f} ms chained, "
                  f"{cost['seal_plain']:.3f} ms plain", flush=True)
            rates = parallel_commits(url)
            print(f"[{backend}] audited commits, 4 threads: {rates['chained']:.0f}/s chained, "
                  f"{rates['plain']:.0f}/s plain", flush=True)


if __name__ == "__main__":
    main()
