#!/usr/bin/env python3
"""Install, migrate, load the demo data (once) and serve on localhost: the
web server (gunicorn) and, beside it, the pairing worker that turns stored
scans into sessions. Ctrl-C stops both.

    python3 scripts/run_demo.py [--port 5000] [--host 127.0.0.1]

The port can also come from the environment: ``PORT=5001 python3 scripts/run_demo.py``.
A port already taken is said at once, before anything is installed or printed.
"""
from __future__ import annotations

import argparse
import errno
import os
import socket
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bootstrap import ROOT, ensure_venv  # noqa: E402


def port_problem(host: str, port: int) -> str | None:
    """Why the server could not listen on ``host:port``, or None if it can.

    Binds as gunicorn does (SO_REUSEADDR), so a port only in TIME_WAIT is free.
    """
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            return f"Port {port} on {host} is taken (is the demo already running?)"
        return f"Cannot listen on {host}:{port}: {error.strerror or error}"
    return None


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 5000),
                        help="default: $PORT, else 5000")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    problem = port_problem(args.host, args.port)
    if problem:
        sys.exit(f"{problem}; choose another: python3 scripts/run_demo.py --port "
                 f"{args.port + 1} (or PORT={args.port + 1}).")
    ensure_venv()
    from server.demo.data import DEMO_STATION
    base = f"http://{args.host}:{args.port}"
    env = {**os.environ, "FLASK_APP": "server", "PUBLIC_BASE_URL":
           os.environ.get("PUBLIC_BASE_URL", base), "SESSION_COOKIE_SECURE": "0"}
    flask = [sys.executable, "-m", "flask"]
    subprocess.run([*flask, "db", "upgrade"], check=True, cwd=ROOT, env=env)
    credentials = ROOT / "instance" / "demo-credentials.txt"
    if not credentials.exists():
        subprocess.run([*flask, "seed-demo"], check=True, cwd=ROOT, env=env)
    # The signed address, as the station's poster has it: /q/<station> alone
    # would show "this code could not be verified".
    checkin = subprocess.run([*flask, "station-url", DEMO_STATION], check=True, cwd=ROOT,
                             env=env, capture_output=True, text=True).stdout.strip()
    print(f"""
Station sync server with demo data
  Console ............ {base}/console/   (sign in as secretary, baoan, manager or admin)
  Check-in page ...... {checkin}
                       (a demo station's QR code; a phone binds with an invitation code)
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
