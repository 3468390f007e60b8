#!/usr/bin/env python3
"""Install, migrate, load the demo data (once) and serve on localhost: the
web server (gunicorn) and, beside it, the pairing worker that turns stored
scans into sessions. Ctrl-C stops both.

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
    serve(env, args.host, args.port)


def serve(env: dict, host: str, port: int) -> None:
    """gunicorn and the pairing worker until either ends or Ctrl-C; then both stop."""
    import signal
    import time
    processes = [
        subprocess.Popen([sys.executable, "-m", "flask", "pairing", "worker"], cwd=ROOT,
                         env=env),
        subprocess.Popen([sys.executable, "-m", "gunicorn", "--chdir", str(ROOT),
                          "--bind", f"{host}:{port}", "--workers", "2",
                          "--access-logfile", "-", "server.wsgi:app"], cwd=ROOT, env=env),
    ]
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
    sys.exit(max(p.returncode or 0 for p in processes))


if __name__ == "__main__":
    main()
