#!/usr/bin/env python3
"""Install, migrate, load the demo data (once) and serve on localhost.

    python3 scripts/run_demo.py [--port 5000] [--host 127.0.0.1]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bootstrap import ROOT, ensure_venv  # noqa: E402


def main() -> None:
    ensure_venv()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    base = f"http://{args.host}:{args.port}"
    env = {**os.environ, "FLASK_APP": "server", "PUBLIC_BASE_URL":
           os.environ.get("PUBLIC_BASE_URL", base), "SESSION_COOKIE_SECURE": "0"}
    flask = [sys.executable, "-m", "flask"]
    subprocess.run([*flask, "db", "upgrade"], check=True, cwd=ROOT, env=env)
    credentials = ROOT / "instance" / "demo-credentials.txt"
    if not credentials.exists():
        subprocess.run([*flask, "seed-demo"], check=True, cwd=ROOT, env=env)
    print(f"""
Station sync server with demo data
  Console ............ {base}/console/   (sign in as secretary, baoan, manager or admin)
  Check-in page ...... {base}/q/BA-XA-HC-0001   (a phone binds with an invitation code)
  API docs (try it) .. {base}/api/docs   (POST /api/v1/auth/token with a demo user first)
  OpenAPI ............ {base}/api/openapi.json
  Posters (PDF) ...... {base}/api/v1/posters.pdf?area=SZ-BA   (with a bearer token)
  Health ............. {base}/readyz
  Demo users ......... {credentials}
""", flush=True)
    os.execv(sys.executable, [sys.executable, "-m", "gunicorn", "--chdir", str(ROOT),
                              "--bind", f"{args.host}:{args.port}", "--workers", "2",
                              "--access-logfile", "-", "server.wsgi:app"])


if __name__ == "__main__":
    main()
