#!/usr/bin/env python3
"""Benchmark the reports on a dataset from scripts/generate_city.py.

    .venv/bin/python scripts/bench_reports.py --database-url sqlite:////tmp/city.db [--runs 20]

In-process (Flask test client, the full request path), as the users who read
them: a district committee's monthly report with rollup; a branch's year by
person; one person's record for a year; a street's month as XLSX. Prints
p50 and p95 per report (goal: reports under 100 ms p95, the export under 5 s).
Then the console's pages as a district secretary and as the city's
administrator: dashboard, review queue (first and a later page), people,
devices.
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import re
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import BENCH_CONFIG  # noqa: E402

from server import create_app  # noqa: E402
from server.extensions import db  # noqa: E402


def user_for(organisation: str | None) -> tuple[str, str]:
    """A secretary of ``organisation`` (or an administrator): (user name, token)."""
    from server.auth.services import create_user, issue_api_token
    username = f"bench-{organisation or 'admin'}-{time.time_ns()}"
    grant = ({"role": "branch_secretary", "organisation": organisation} if organisation
             else {"role": "admin"})
    user = create_user("bench", {"username": username, "display_name": "bench",
                                 "password": "bench-password-1", "grants": [grant]})
    token, _ = issue_api_token(user)
    db.session.commit()
    return username, token


def token_for(organisation: str) -> str:
    return user_for(organisation)[1]


def timed(name: str, runs: int, request) -> None:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        response = request()
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code not in (200, 404):
            raise SystemExit(f"{name}: HTTP {response.status_code} {response.data[:200]}")
    timings.sort()
    p95 = timings[min(len(timings) - 1, int(round(0.95 * (len(timings) - 1))))]
    rows = len(response.json["rows"]) if response.is_json and "rows" in response.json else "-"
    print(f"{name:42s} p50 {statistics.median(timings):8.1f} ms   p95 {p95:8.1f} ms   "
          f"rows {rows}", flush=True)


def console_pages(app, runs: int) -> None:
    with app.app_context():
        secretary, _ = user_for("D0-DW")
        admin, _ = user_for(None)
    for who, username in (("district secretary", secretary), ("city administrator", admin)):
        client = app.test_client()
        form = client.get("/console/sign-in").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
        response = client.post("/console/sign-in", data={
            "username": username, "csrf_token": csrf, "password": "bench-password-1"})
        if response.status_code != 302:
            raise SystemExit(f"sign-in failed: HTTP {response.status_code}")
        for page, url in (("dashboard", "/console/"), ("review queue", "/console/review"),
                          ("review queue, page 50", "/console/review?page=50"),
                          ("people", "/console/people"), ("devices", "/console/devices")):
            timed(f"console {page} ({who})", runs, lambda: client.get(url))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--profile", metavar="REPORT",
                        help="cProfile the runs of the first report whose name contains this "
                             "(e.g. district), print where the time went, and stop")
    args = parser.parse_args()
    app = create_app({"DATABASE_URL": args.database_url, **BENCH_CONFIG,
                      "SESSION_COOKIE_SECURE": False})
    client = app.test_client()
    gc.freeze()  # as server/wsgi.py does after start-up
    with app.app_context():
        district, branch, street = token_for("D0-DW"), token_for("ZB0"), token_for("D0S0-DGW")
    month = (date.today().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    year = str(date.today().year - 1)
    cases = [
        ("district committee, month, rollup", district,
         f"/api/v1/reports/service-hours?group_by=branch&rollup=true&month={month}"),
        ("branch, year, by person", branch,
         f"/api/v1/reports/service-hours?group_by=person&year={year}"),
        ("one person's record, a year", branch,
         f"/api/v1/people/P0000000/record?from={year}-01-01&to={year}-12-31"),
        ("street, month, XLSX export", street,
         f"/api/v1/reports/service-hours?group_by=person&month={month}&format=xlsx"),
    ]
    if args.profile:
        name, token, url = next(case for case in cases if args.profile in case[0])
        profile(name, args.runs, lambda: client.get(
            url, headers={"Authorization": f"Bearer {token}"}))
        return
    for name, token, url in cases:
        timed(name, args.runs, lambda: client.get(
            url, headers={"Authorization": f"Bearer {token}"}))
    console_pages(app, args.runs)


def profile(name: str, runs: int, request) -> None:
    """One warm-up request, then ``runs`` under cProfile: the functions that
    took the time, by own time and by cumulative time."""
    request()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(runs):
        request()
    profiler.disable()
    print(f"{name}: {runs} runs under cProfile")
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
