#!/usr/bin/env python3
"""Benchmark the reports on a dataset from scripts/generate_city.py.

    .venv/bin/python scripts/bench_reports.py --database-url sqlite:////tmp/city.db [--runs 20]

In-process (Flask test client, the full request path), as the users who read
them: a district committee's monthly report with rollup; a branch's year by
person; one person's record for a year; a street's month as XLSX. Prints
p50 and p95 per report (goal: reports under 100 ms p95, the export under 5 s).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import BENCH_CONFIG  # noqa: E402

from server import create_app  # noqa: E402
from server.extensions import db  # noqa: E402


def token_for(role_scope: str) -> str:
    from server.auth.services import create_user, issue_api_token
    user = create_user("bench", {"username": f"bench-{role_scope}-{time.time_ns()}",
                                 "display_name": "bench", "password": "bench-password-1",
                                 "grants": [{"role": "branch_secretary",
                                             "organisation": role_scope}]})
    token, _ = issue_api_token(user)
    db.session.commit()
    return token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    app = create_app({"DATABASE_URL": args.database_url, **BENCH_CONFIG})
    client = app.test_client()
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
    for name, token, url in cases:
        timings = []
        for _ in range(args.runs):
            started = time.perf_counter()
            response = client.get(url, headers={"Authorization": f"Bearer {token}"})
            timings.append((time.perf_counter() - started) * 1000)
            if response.status_code not in (200, 404):
                raise SystemExit(f"{name}: HTTP {response.status_code} {response.data[:200]}")
        timings.sort()
        p95 = timings[min(len(timings) - 1, int(round(0.95 * (len(timings) - 1))))]
        rows = len(response.json["rows"]) if response.is_json and "rows" in response.json else "-"
        print(f"{name:38s} p50 {statistics.median(timings):8.1f} ms   p95 {p95:8.1f} ms   "
              f"rows {rows}")


if __name__ == "__main__":
    main()
