"""Shared set-up for the benchmark scripts: databases, a small world, a live server."""
from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402

from server import create_app  # noqa: E402
from server.extensions import db  # noqa: E402

BENCH_CONFIG = {"SECRET_KEY": "bench-secret-key", "RATELIMIT_ENABLED": False,
                "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"}


@contextmanager
def database(backend: str):
    """A fresh, migrated database URL for ``backend`` (sqlite | postgresql).

    PostgreSQL comes from BENCH_DATABASE_URL (a server URL; a database is
    created in it) or a throwaway cluster from the local binaries.
    """
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/bench.db"
            _migrate(url)
            yield url
        return
    with postgres_database() as (url, _):
        yield url


@contextmanager
def postgres_database():
    """(URL of a fresh migrated database, the throwaway Cluster or None when
    BENCH_DATABASE_URL names a server)."""
    from tests.conftest import _fresh_postgres_database
    from tests.pg_cluster import Cluster, find_pg_bin
    server_url = os.environ.get("BENCH_DATABASE_URL")
    cluster = None
    if not server_url:
        bin_dir = find_pg_bin()
        if bin_dir is None:
            raise SystemExit("no PostgreSQL binaries; set BENCH_DATABASE_URL")
        cluster = Cluster(bin_dir, durable=True)
        server_url = cluster.start()
    try:
        url = _fresh_postgres_database(server_url, "bench")
        _migrate(url)
        yield url, cluster
    finally:
        if cluster:
            cluster.stop()


def _migrate(url: str) -> None:
    app = create_app({"DATABASE_URL": url, **BENCH_CONFIG})
    with app.app_context():
        upgrade()
        db.engine.dispose()


def build_world(url: str, people: int, stations: int = 1, devices: int = 1) -> dict:
    """A district with one branch per 100 people, ``stations`` stations and
    ``devices`` enrolled devices covering them; returns codes and the
    devices' tokens (``token``: the first one's)."""
    from server.auth.principal import Principal
    from server.auth.services import create_user
    from server.org.services import create_area, create_organisation
    from server.people.services import create_person
    from server.stations.services import create_station

    app = create_app({"DATABASE_URL": url, **BENCH_CONFIG})
    with app.app_context():
        admin = create_user("bench", {"username": "bench", "display_name": "bench",
                                      "password": "bench-password",
                                      "grants": [{"role": "admin"}]})
        db.session.flush()
        root = Principal.of(admin)
        create_area(root, {"code": "SZ", "name": "深圳市", "kind": "city", "parent": None})
        create_organisation(root, {"code": "DW", "name": "区委", "kind": "committee",
                                   "parent": None, "area": "SZ"})
        for branch in range((people + 99) // 100):
            create_organisation(root, {"code": f"ZB{branch}", "name": f"第{branch}支部",
                                       "kind": "branch", "parent": "DW", "area": "SZ"})
        station_codes = [f"ST-{n:04d}" for n in range(stations)]
        for n, code in enumerate(station_codes):
            # On a grid about 2 km apart across the city, as the judging of
            # impossible travel (server/pairing/travel.py) reads them.
            create_station(root, {"code": code, "name": f"站点{code}", "kind": "warm_bee",
                                  "area": "SZ", "host_organisation": "DW",
                                  "latitude": 22.50 + 0.02 * (n // 5),
                                  "longitude": 113.90 + 0.02 * (n % 5)})
        person_codes = [f"P-{n:07d}" for n in range(people)]
        for n, code in enumerate(person_codes):
            create_person(root, {"code": code, "name": f"志愿者{n}", "kind": "volunteer",
                                 "branch": f"ZB{n // 100}", "branch_since": date(2025, 1, 1)})
        tokens = _enrol_devices(root, "BENCH-TAB", station_codes, devices)
        db.session.commit()
        db.engine.dispose()
    return {"people": person_codes, "stations": station_codes, "token": tokens[0],
            "tokens": tokens}


def _enrol_devices(principal, code: str, station_codes: list[str], count: int) -> list[str]:
    """``count`` enrolled devices covering the stations; their bearer tokens."""
    from server.devices.services import create_device, enrol_device
    tokens = []
    for n in range(count):
        _, enrolment = create_device(principal, {
            "code": code if n == 0 else f"{code}-{n + 1}", "name": "bench",
            "stations": station_codes, "organisations": []})
        tokens.append(enrol_device(enrolment, "bench")[1])
    return tokens


def attach_device(url: str, people: int, stations: int = 20, seed: int = 1,
                  devices: int = 1) -> dict:
    """Enrolled devices in an existing dataset (scripts/generate_city.py):
    ``stations`` of its stations and ``people`` of its people, at random;
    returns the same shape as ``build_world``."""
    import random
    import time

    from sqlalchemy import select

    from server.auth.principal import Principal
    from server.auth.services import create_user
    from server.people.models import Person
    from server.stations.models import Station

    rng = random.Random(seed)
    app = create_app({"DATABASE_URL": url, **BENCH_CONFIG})
    with app.app_context():
        tag = time.time_ns()
        admin = create_user("bench", {"username": f"bench-{tag}", "display_name": "bench",
                                      "password": "bench-password",
                                      "grants": [{"role": "admin"}]})
        db.session.flush()
        last_person = db.session.scalar(select(Person.id).order_by(Person.id.desc()).limit(1))
        chosen = rng.sample(range(1, last_person + 1), people)
        person_codes = list(db.session.scalars(select(Person.code).where(Person.id.in_(chosen))))
        station_codes = list(db.session.scalars(select(Station.code).order_by(Station.id)
                                                .limit(stations)))
        tokens = _enrol_devices(Principal.of(admin), f"BENCH-{tag}", station_codes, devices)
        db.session.commit()
        db.engine.dispose()
    return {"people": person_codes, "stations": station_codes, "token": tokens[0],
            "tokens": tokens}


def cpu_seconds_by_program(since: dict | None = None,
                           database_url: str | None = None) -> dict[str, float]:
    """CPU seconds (user + system) of this benchmark, the processes it
    started (gunicorn, the pairing worker), and the PostgreSQL server of
    ``database_url`` (its postmaster, found by its port, and the backends
    it forked); with ``since`` (an earlier result) the difference. Empty
    where there is no /proc (not Linux).

    Where the time of a run goes when the two cores are shared between the
    database, the server and the client. Only this run's processes count,
    so other work on a shared machine is not charged to the run.
    """
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return {}
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}  # pid: (parent pid, seconds, command line)
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue  # ended meanwhile
        # Fields after the command name in parentheses: ppid is the 2nd,
        # utime and stime the 12th and 13th.
        fields = stat[stat.rindex(")") + 2:].split()
        found[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks,
                                  command)
    port = _postgres_port(database_url)
    postmasters = {pid for pid, (_, _, command) in found.items()
                   if port and b"postgres" in command and f"-p {port} ".encode() in command}
    totals: dict[str, float] = {"postgres": 0.0, "gunicorn": 0.0, "pairing worker": 0.0,
                                "benchmark": 0.0}
    me = os.getpid()
    for pid, (parent, seconds, command) in found.items():
        if pid in postmasters or parent in postmasters:
            totals["postgres"] += seconds
        elif pid == me:
            totals["benchmark"] += seconds
        elif _descends_from(pid, me, found):
            program = ("gunicorn" if b"gunicorn" in command
                       else "pairing worker" if b"pairing worker" in command else "benchmark")
            totals[program] += seconds
    if since is not None:
        return {name: totals[name] - since.get(name, 0.0) for name in totals}
    return totals


def _postgres_port(url: str | None) -> int | None:
    if not url or not url.startswith("postgresql"):
        return None
    from sqlalchemy.engine import make_url
    return make_url(url).port


def _descends_from(pid: int, ancestor: int, found: dict) -> bool:
    seen = set()
    while pid in found and pid not in seen:
        seen.add(pid)
        pid = found[pid][0]
        if pid == ancestor:
            return True
    return False
