#!/usr/bin/env python3
"""Benchmark: the reference client's first pull of a city-sized scope, then a
20,000-scan backlog push, through gunicorn, on SQLite and PostgreSQL.

    .venv/bin/python scripts/bench_client.py [--backend sqlite|postgresql|both]
        [--people 50000] [--stations 3000] [--events 20000]

The client runs as its own process (``python -m sync.client ... sync``);
its wall time and peak resident memory (ru_maxrss of the child) are reported.
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import BENCH_CONFIG, ROOT, database  # noqa: E402

from tests.live_server import LiveServer  # noqa: E402


def build_city(url: str, people: int, stations: int) -> str:
    """Areas, 1 committee, a branch per 100 people, stations, people; returns an
    enrolment QR for a device serving the whole committee."""
    from server import create_app
    from server.auth.principal import Principal
    from server.auth.services import create_user
    from server.devices.services import create_device, enrolment_qr_text
    from server.extensions import db
    from server.org.models import Area, Membership, Organisation
    from server.people.models import Person
    from server.qr.keys import active_signing_key
    from server.stations.models import Station

    app = create_app({"DATABASE_URL": url, **BENCH_CONFIG, "PUBLIC_BASE_URL": "http://x"})
    with app.app_context():
        admin = create_user("bench", {"username": "bench", "display_name": "bench",
                                      "password": "bench-password",
                                      "grants": [{"role": "admin"}]})
        area = Area(code="SZ", name="深圳市", kind="city", path="/SZ/")
        root = Organisation(code="DW", name="市委", kind="committee", path="/DW/", area=area)
        db.session.add_all([area, root])
        branches = [Organisation(code=f"ZB{n}", name=f"第{n}支部", kind="branch", parent=root,
                                 area=area, path=f"/DW/ZB{n}/")
                    for n in range((people + 99) // 100)]
        db.session.add_all(branches)
        db.session.add_all(Station(code=f"ST-{n:05d}", name=f"站点{n}", kind="warm_bee",
                                   area=area, host_organisation=branches[n % len(branches)])
                           for n in range(stations))
        db.session.flush()
        for n in range(people):
            person = Person(code=f"P-{n:07d}", name=f"志愿者{n}", kind="volunteer")
            person.memberships.append(Membership(organisation=branches[n // 100],
                                                 started_on=date(2025, 1, 1)))
            db.session.add(person)
        active_signing_key()
        db.session.flush()
        _, token = create_device(Principal.of(admin), {
            "code": "BENCH-TAB", "name": "bench", "stations": [], "organisations": ["DW"]})
        db.session.commit()
        qr = enrolment_qr_text(token)
        db.engine.dispose()
    return qr


#: Runs the client's command line, then reports its own peak RSS (KiB) on stderr.
#: VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent.
_MEASURED_CLIENT = ("import sys\n"
                    "from sync.client.__main__ import main\n"
                    "code = main(sys.argv[1:])\n"
                    "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
                    "print('VmHWM', hwm.split()[1], file=sys.stderr)\n"
                    "sys.exit(code)\n")


def run_client(database_path: str, *args: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one client command in its own process."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _MEASURED_CLIENT, "--db", database_path, *args],
                          check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    peak_kib = int(done.stderr.strip().splitlines()[-1].split()[-1])
    return elapsed, peak_kib / 1024


def run(backend: str, args) -> None:
    with database(backend) as url, tempfile.TemporaryDirectory() as folder:
        qr = build_city(url, args.people, args.stations)
        server = LiveServer(url, workers=2, SECRET_KEY=BENCH_CONFIG["SECRET_KEY"],
                            PUSH_RATE_LIMIT="1000000 per minute").start()
        try:
            payload = json.loads(qr)
            payload["url"] = server.url + "/api/v1/devices/enrol"
            device_db = str(Path(folder) / "device.db")
            run_client(device_db, "enrol", json.dumps(payload))
            pull_s, pull_mib = run_client(device_db, "sync")

            from sync.client import LocalStore
            store = LocalStore(device_db)
            cached = store.cache_counts()
            rng = random.Random(5)
            now = datetime.now(timezone.utc)
            for n in range(args.events // 2):
                person = f"P-{rng.randrange(args.people):07d}"
                station = f"ST-{rng.randrange(args.stations):05d}"
                begins = now - timedelta(minutes=(args.events - n) * 2)
                store.record_scan("check_in", person, station=station, at=begins)
                store.record_scan("check_out", person, station=station,
                                  at=begins + timedelta(minutes=90))
            store.close()
            push_s, push_mib = run_client(device_db, "sync")
        finally:
            server.stop()
    print(f"\n== {backend} ==")
    print(f"first pull: {cached.get('person', 0)} people, {cached.get('station', 0)} stations "
          f"in {pull_s:.1f} s, client peak RSS {pull_mib:.0f} MiB")
    print(f"push of a {args.events}-scan backlog (then an empty pull): {push_s:.1f} s, "
          f"client peak RSS {push_mib:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", default="both", choices=["sqlite", "postgresql", "both"])
    parser.add_argument("--people", type=int, default=50000)
    parser.add_argument("--stations", type=int, default=3000)
    parser.add_argument("--events", type=int, default=20000)
    args = parser.parse_args()
    for backend in (("sqlite", "postgresql") if args.backend == "both" else (args.backend,)):
        run(backend, args)


if __name__ == "__main__":
    main()
