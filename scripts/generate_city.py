#!/usr/bin/env python3
"""Generate a city-scale dataset for report benchmarks (derived sessions only).

    .venv/bin/python scripts/generate_city.py --database-url sqlite:////tmp/city.db \
        [--people 1000000] [--organisations 30000] [--stations 3000] \
        [--sessions 20000000] [--years 2] [--seed 1]

Writes straight into the tables (the push pipeline would take days for 20M
sessions): 10 districts, 74 streets, 700 communities; a committee per
district, street and community and branches under the communities; people
with a branch (5% moved branch halfway, so history matters); stations in
communities; sessions in time order over the period, 90% ok and the rest in
the review states, each credited to its person's branch on its date.
Prints an admin bearer token for scripts/bench_reports.py.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import date, datetime, time as day_time, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import BENCH_CONFIG, _migrate  # noqa: E402

from server import create_app  # noqa: E402
from server.extensions import db  # noqa: E402

STATUSES = ["ok"] * 90 + ["needs_review"] * 3 + ["too_long"] * 2 + ["missing_checkout"] * 3 \
    + ["approved"] * 2


def _write(connection, table, rows, columns):
    from server.common.rawsql import write_rows
    write_rows(connection, table, [dict(zip(columns, r)) for r in rows])


def generate(url: str, args) -> str:
    rng = random.Random(args.seed)
    _migrate(url)
    app = create_app({"DATABASE_URL": url, **BENCH_CONFIG})
    with app.app_context():
        from server.auth.services import create_user, issue_api_token
        from server.models import Area, Membership, Organisation, Person, ServiceSession, Station
        connection = db.session.connection()
        now = datetime.now(timezone.utc)
        areas, orgs = [], []
        area_id = org_id = 0

        def area(code, name, kind, parent, path):
            nonlocal area_id
            area_id += 1
            areas.append((area_id, code, name, kind, parent, path, now, now))
            return area_id, path

        def org(code, name, kind, parent, area_ref, path):
            nonlocal org_id
            org_id += 1
            orgs.append((org_id, code, name, kind, parent, area_ref, path, now, now))
            return org_id, path

        city, city_path = area("SZ", "深圳市", "city", None, "/SZ/")
        communities = []
        streets_left = 74
        for d in range(10):
            dist, dist_path = area(f"D{d}", f"第{d}区", "district", city, f"{city_path}D{d}/")
            dist_org, dist_org_path = org(f"D{d}-DW", f"第{d}区委", "committee", None, dist,
                                          f"/D{d}-DW/")
            for s in range(8 if d < 4 else 7):
                if streets_left == 0:
                    break
                streets_left -= 1
                code = f"D{d}S{s}"
                street, street_path = area(code, f"{code}街道", "street", dist,
                                           f"{dist_path}{code}/")
                street_org, street_org_path = org(f"{code}-DGW", f"{code}党工委", "committee",
                                                  dist_org, street, f"{dist_org_path}{code}-DGW/")
                for c in range(10 if len(communities) < 700 else 0):
                    ccode = f"{code}C{c}"
                    community, cpath = area(ccode, f"{ccode}社区", "community", street,
                                            f"{street_path}{ccode}/")
                    corg, corg_path = org(f"{ccode}-DW", f"{ccode}社区党委", "committee",
                                          street_org, community, f"{street_org_path}{ccode}-DW/")
                    communities.append((community, corg, corg_path))
        branches = []
        while org_id < args.organisations:
            community, corg, corg_path = communities[len(branches) % len(communities)]
            code = f"ZB{len(branches)}"
            branch, _ = org(code, f"第{len(branches)}支部", "branch", corg, community,
                            f"{corg_path}{code}/")
            branches.append(branch)
        _write(connection, Area.__table__, areas,
               ("id", "code", "name", "kind", "parent_id", "path", "created_at", "updated_at"))
        _write(connection, Organisation.__table__, orgs,
               ("id", "code", "name", "kind", "parent_id", "area_id", "path", "created_at",
                "updated_at"))
        stations = [(n + 1, f"ST{n:05d}", f"站点{n}", "party_mass_centre",
                     communities[n % len(communities)][0], communities[n % len(communities)][1],
                     200, 1, "active", now, now) for n in range(args.stations)]
        _write(connection, Station.__table__, stations,
               ("id", "code", "name", "kind", "area_id", "host_organisation_id",
                "geofence_radius_m", "qr_version", "status", "created_at", "updated_at"))
        start_day = date.today() - timedelta(days=365 * args.years)
        middle = start_day + timedelta(days=365 * args.years // 2)
        branch_of, moved = {}, {}
        for chunk in range(0, args.people, 50_000):
            people, memberships = [], []
            for n in range(chunk, min(chunk + 50_000, args.people)):
                branch = rng.choice(branches)
                branch_of[n + 1] = branch
                people.append((n + 1, f"P{n:07d}", f"志愿者{n}", "volunteer", True, now, now))
                if rng.random() < 0.05:
                    moved[n + 1] = rng.choice(branches)
                    memberships.append((n + 1, branch, start_day, middle - timedelta(days=1)))
                    memberships.append((n + 1, moved[n + 1], middle, None))
                else:
                    memberships.append((n + 1, branch, start_day, None))
            _write(db.session.connection(), Person.__table__, people,
                   ("id", "code", "name", "kind", "active", "created_at", "updated_at"))
            _write(db.session.connection(), Membership.__table__, memberships,
                   ("person_id", "organisation_id", "started_on", "ended_on"))
        db.session.commit()
        print(f"tree: {len(areas)} areas, {len(orgs)} organisations, {len(stations)} stations, "
              f"{args.people} people", flush=True)

        # Sessions in time order (as they arrive), 100,000 at a time.
        span = (365 * args.years) * 86400
        written, begun = 0, time.monotonic()
        step = span / args.sessions
        while written < args.sessions:
            rows = []
            for n in range(written, min(written + 100_000, args.sessions)):
                at = datetime.combine(start_day, day_time(0), timezone.utc) + timedelta(
                    seconds=n * step)
                person = rng.randint(1, args.people)
                length = rng.choice((3600, 5400, 7200, 10800))
                status = rng.choice(STATUSES)
                end = None if status == "missing_checkout" else at + timedelta(seconds=length)
                local = (at + timedelta(hours=8)).date()
                branch = moved[person] if person in moved and local >= middle else branch_of[person]
                credited = length if status in ("ok", "approved") else 0
                pending = length if status in ("needs_review", "too_long") else 0
                rows.append((f"g{n:012d}", at, person, rng.randint(1, args.stations),
                             f"g{n:012d}", status, at, end, status, at, end, "", False, credited,
                             pending, local, branch, at))
            _write(db.session.connection(), ServiceSession.__table__, rows,
                   ("key_event_id", "key_at", "person_id", "station_id", "checkin_event_id",
                    "derived_status", "derived_start_at", "derived_end_at", "status", "start_at",
                    "end_at", "flags", "review_stale", "credited_seconds", "pending_seconds",
                    "local_date", "branch_id", "updated_at"))
            db.session.commit()
            written += len(rows)
            if written % 1_000_000 == 0 or written == args.sessions:
                print(f"sessions: {written:,} ({time.monotonic() - begun:.0f} s)", flush=True)
        user = create_user("generator", {"username": "city-admin", "display_name": "管理员",
                                         "password": "city-admin-password",
                                         "grants": [{"role": "admin"}]})
        token, _ = issue_api_token(user)
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as c:
                c.exec_driver_sql("ANALYZE")
        db.engine.dispose()
    return token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--organisations", type=int, default=30_000)
    parser.add_argument("--stations", type=int, default=3_000)
    parser.add_argument("--sessions", type=int, default=20_000_000)
    parser.add_argument("--years", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    token = generate(args.database_url, args)
    print(f"admin token: {token}")


if __name__ == "__main__":
    main()
