#!/usr/bin/env python3
"""Generate a city-scale dataset for report benchmarks (derived sessions only).

    .venv/bin/python scripts/generate_city.py --database-url sqlite:////tmp/city.db \
        [--people 1000000] [--organisations 30000] [--stations 3000] \
        [--sessions 20000000] [--years 2] [--seed 1]

Writes straight into the tables (the push pipeline would take days for 20M
sessions): 10 districts, 74 streets, 700 communities; a committee per
district, street and community and branches under the communities; people
with a branch (5% moved branch halfway, so history matters); stations in
communities, each with a device (some silent for days); sessions in time
order over the period, 90% ok; of the flagged rest, those older than 60 days
were reviewed (approved, a quarter rejected) and the recent ones wait in the
review queue. Each session is credited to its person's branch on its date.

Sessions are made by one INSERT ... SELECT per million inside the database
(20 million in minutes, not the hours a Python loop takes), from a hash of
the row number, so both databases get the same sessions. The service-total
triggers are lifted for the load and the totals rebuilt once afterwards.
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

from sqlalchemy import text  # noqa: E402

STATUSES = ["ok"] * 90 + ["needs_review"] * 3 + ["too_long"] * 2 + ["missing_checkout"] * 3 \
    + ["approved"] * 2


def _write(connection, table, rows, columns):
    from server.common.rawsql import write_rows
    write_rows(connection, table, [dict(zip(columns, r)) for r in rows])


#: Per dialect: the row numbers lo..hi, an epoch as a stored time, as a local date.
_DIALECT = {
    "sqlite": {
        "numbers": "WITH RECURSIVE seq(n) AS (SELECT {lo} UNION ALL SELECT n + 1 FROM seq "
                   "WHERE n < {hi})",
        "time": "strftime('%Y-%m-%d %H:%M:%S.000000', {x}, 'unixepoch')",
        "date": "date({x} + 28800, 'unixepoch')",
        "key": "'g' || printf('%012d', n)",
    },
    "postgresql": {
        "numbers": "WITH seq(n) AS (SELECT generate_series({lo}::bigint, {hi}::bigint))",
        "time": "(to_timestamp({x}) AT TIME ZONE 'UTC')",
        "date": "(to_timestamp({x} + 28800) AT TIME ZONE 'UTC')::date",
        "key": "'g' || lpad(n::text, 12, '0')",
    },
}


def _hash(n: str, multiplier: int, modulo) -> str:
    """A well-spread pseudo-random pick from the row number (Knuth's
    multiplicative hash), the same on both databases."""
    return f"(({n} * {multiplier}) % 4294967296 / 16 % {modulo})"


def _generate_sessions(args, start_day: date) -> None:
    from server.totals import triggers as totals_sql
    connection = db.session.connection()
    dialect = connection.dialect.name
    sql = _DIALECT[dialect]
    t0 = int(datetime.combine(start_day, day_time(0), timezone.utc).timestamp())
    span = 365 * args.years * 86400
    review_cutoff = t0 + span - 60 * 86400

    def t(x):
        return sql["time"].format(x=x)

    totals_sql.uninstall(connection)
    db.session.commit()
    connection = db.session.connection()
    # The generated rows refer only to rows made above, so the per-row
    # foreign-key checks are lifted for the load (on PostgreSQL this needs a
    # superuser, as the throwaway benchmark cluster is). Index pages of 20
    # million rows, inserted in person order on some indexes, thrash
    # SQLite's small default cache.
    if dialect == "sqlite":
        from sqlalchemy import event

        @event.listens_for(db.engine, "connect")
        def _bulk_load_pragmas(dbapi_connection, _):
            dbapi_connection.execute("PRAGMA foreign_keys=OFF")
            dbapi_connection.execute("PRAGMA cache_size=-4000000")

        db.session.close()
        db.engine.dispose()
        connection = db.session.connection()
    else:
        connection.exec_driver_sql("SET session_replication_role = replica")
    begun = time.monotonic()
    chunk = 1_000_000
    for lo in range(0, args.sessions, chunk):
        hi = min(lo + chunk, args.sessions) - 1
        statement = f"""
{sql["numbers"].format(lo=lo, hi=hi)},
picked AS (
  SELECT n, {_hash("n", 2654435761, args.people)} + 1 AS person,
         {_hash("n", 2246822519, args.stations)} + 1 AS station,
         {_hash("n", 3266489917, 4)} AS length_pick, {_hash("n", 668265263, 100)} AS status_pick,
         {t0} + n * {span} / {args.sessions} AS epoch
  FROM seq),
judged AS (
  SELECT picked.*, CASE length_pick WHEN 0 THEN 3600 WHEN 1 THEN 5400 WHEN 2 THEN 7200
                   ELSE 10800 END AS length,
         CASE WHEN status_pick < 90 THEN 'ok' WHEN status_pick < 93 THEN 'needs_review'
              WHEN status_pick < 95 THEN 'too_long' WHEN status_pick < 98 THEN 'missing_checkout'
              ELSE 'approved' END AS derived,
         {sql["date"].format(x="epoch")} AS day
  FROM picked),
reviewed AS (
  SELECT judged.*, CASE WHEN derived IN ('ok', 'approved') OR epoch >= {review_cutoff}
                        THEN derived WHEN status_pick % 4 = 0 THEN 'rejected'
                        ELSE 'approved' END AS status
  FROM judged)
INSERT INTO service_session (key_event_id, key_at, person_id, station_id, checkin_event_id,
  derived_status, derived_start_at, derived_end_at, status, start_at, end_at, flags,
  review_stale, credited_seconds, pending_seconds, local_date, branch_id, updated_at)
SELECT {sql["key"]}, {t("epoch")}, person, station, {sql["key"]}, derived, {t("epoch")},
  CASE WHEN derived = 'missing_checkout' THEN NULL ELSE {t("epoch + length")} END,
  status, {t("epoch")},
  CASE WHEN derived = 'missing_checkout' AND status = derived THEN NULL
       ELSE {t("epoch + length")} END,
  CASE WHEN derived = 'ok' THEN '' ELSE derived END, false,
  CASE WHEN status IN ('ok', 'approved') THEN length ELSE 0 END,
  CASE WHEN status IN ('needs_review', 'too_long') THEN length ELSE 0 END,
  day,
  (SELECT m.organisation_id FROM membership m WHERE m.person_id = reviewed.person
     AND m.started_on <= day AND (m.ended_on IS NULL OR m.ended_on >= day)),
  {t("epoch")}
FROM reviewed"""
        if dialect == "postgresql":
            statement = statement.replace("%", "%%")  # psycopg's placeholder character
        connection.exec_driver_sql(statement)
        db.session.commit()
        connection = db.session.connection()
        print(f"sessions: {hi + 1:,} ({time.monotonic() - begun:.0f} s)", flush=True)
    totals_sql.rebuild(connection)
    totals_sql.install(connection)
    db.session.commit()
    print(f"service totals rebuilt ({time.monotonic() - begun:.0f} s)", flush=True)


def _add_devices(rng, stations: int, now: datetime) -> None:
    """A tablet per station; one in twenty silent for a week or more."""
    from server.devices.models import Device, device_station
    devices = [(n, f"DV{n:05d}", f"平板{n}", now - timedelta(
        days=rng.randint(7, 30) if rng.random() < 0.05 else 0, hours=rng.randint(0, 20)),
        True, now) for n in range(1, stations + 1)]
    _write(db.session.connection(), Device.__table__, devices,
           ("id", "code", "name", "last_push_at", "can_push", "created_at"))
    _write(db.session.connection(), device_station, [(n, n) for n in range(1, stations + 1)],
           ("device_id", "station_id"))


def generate(url: str, args) -> str:
    rng = random.Random(args.seed)
    _migrate(url)
    app = create_app({"DATABASE_URL": url, **BENCH_CONFIG})
    with app.app_context():
        from server.auth.services import create_user, issue_api_token
        from server.models import Area, Membership, Organisation, Person, Station
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

        _add_devices(rng, args.stations, now)
        if db.engine.dialect.name == "postgresql":
            # Rows were written with their ids: move the sequences past them,
            # or the next device, person or station made by the app collides.
            for table in ("area", "organisation", "station", "person", "device"):
                db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', "
                                        f"'id'), (SELECT max(id) FROM {table}))"))
        db.session.commit()
        _generate_sessions(args, start_day)
        user = create_user("generator", {"username": "city-admin", "display_name": "管理员",
                                         "password": "city-admin-password",
                                         "grants": [{"role": "admin"}]})
        token, _ = issue_api_token(user)
        db.session.commit()
        # Planner statistics, as a running system has them (autovacuum on
        # PostgreSQL; `PRAGMA optimize` on SQLite); VACUUM also lets
        # PostgreSQL answer from covering indexes without reading rows.
        raw = db.engine.raw_connection()  # outside a transaction, as VACUUM must be
        if db.engine.dialect.name == "postgresql":
            raw.driver_connection.autocommit = True
            raw.driver_connection.execute("VACUUM ANALYZE")
        else:
            raw.driver_connection.execute("ANALYZE")
        raw.close()
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
