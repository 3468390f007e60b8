#!/usr/bin/env python3
"""Simulated devices against a server, checked against their own ledger.

    .venv/bin/python scripts/simulate_devices.py                 # own server: SQLite + demo admin
    .venv/bin/python scripts/simulate_devices.py --url http://127.0.0.1:5000 --token usr_...
        [--devices 20] [--people 8] [--days 5] [--seed 7]

Without --url it starts gunicorn on a fresh SQLite database (or
--database-url), creates an administrator, runs, and prints the comparison.
Exit status 1 when any difference is found.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync.simulation import Config, simulate  # noqa: E402


def _own_server(database_url: str | None):
    from benchlib import BENCH_CONFIG, _migrate
    from server import create_app
    from server.auth.services import create_user, issue_api_token
    from server.extensions import db
    from tests.live_server import LiveServer
    url = database_url or f"sqlite:///{tempfile.mkdtemp(prefix='sim-')}/sim.db"
    _migrate(url)
    app = create_app({"DATABASE_URL": url, **BENCH_CONFIG})
    with app.app_context():
        user = create_user("simulator", {"username": "simulator", "display_name": "模拟器",
                                         "password": "simulator-password",
                                         "grants": [{"role": "admin"}]})
        token, _ = issue_api_token(user)
        db.session.commit()
        db.engine.dispose()
    server = LiveServer(url, workers=2, threads=2, SECRET_KEY=BENCH_CONFIG["SECRET_KEY"],
                        PUBLIC_BASE_URL="http://simulated.example")
    return server.start(), token


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url")
    parser.add_argument("--token")
    parser.add_argument("--database-url")
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--people", type=int, default=8)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    server = None
    if args.url:
        url, token = args.url, args.token
    else:
        server, token = _own_server(args.database_url)
        url = server.url
    try:
        result = simulate(url, token, Config(devices=args.devices,
                                             people_per_device=args.people, days=args.days,
                                             seed=args.seed))
    finally:
        if server:
            server.stop()
    print(json.dumps({k: v for k, v in result.items() if k != "differences"},
                     ensure_ascii=False))
    for difference in result["differences"]:
        print("DIFFERENCE:", difference)
    print("no differences" if not result["differences"] else
          f"{len(result['differences'])} differences")
    return 1 if result["differences"] else 0


if __name__ == "__main__":
    sys.exit(main())
