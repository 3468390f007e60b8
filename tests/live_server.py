"""A real gunicorn serving the app on a free loopback port, against a test
database, with the pairing worker beside it as in production."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, database_url: str, workers: int = 2, threads: int = 1,
                 port: int | None = None, pairing_worker: bool = True,
                 pairing_workers: int = 1, **env):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url
        self.workers, self.threads = workers, threads
        self.env = {k: str(v) for k, v in env.items()}
        self.process: subprocess.Popen | None = None
        #: ``flask pairing worker`` processes (as many as a deployment runs),
        #: none when the test plays their part itself.
        self.pairing_workers = pairing_workers if pairing_worker else 0
        self.pairing: list[subprocess.Popen] = []

    def start(self) -> LiveServer:
        import tempfile
        self._log = tempfile.NamedTemporaryFile(prefix="gunicorn-", suffix=".log", delete=False)
        env = {**os.environ, "DATABASE_URL": self.database_url,
               "SECRET_KEY": "test-secret-key-not-for-production",
               "PUBLIC_BASE_URL": "https://stations.example.test",
               "PUSH_RATE_LIMIT": "100000 per minute", **self.env}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(self.workers), "--threads", str(self.threads),
             "--graceful-timeout", "1", "--timeout", "60", "server.wsgi:app"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=self._log,
            start_new_session=True)
        self.pairing = [start_pairing_worker(env, self._log)
                        for _ in range(self.pairing_workers)]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=2) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("gunicorn did not become ready: " + self.log_text())

    def log_text(self) -> str:
        return Path(self._log.name).read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        """SIGKILL the whole process group, and the pairing worker: no clean-up."""
        for process in (self.process, *self.pairing):
            if process and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self._log.close()

    def stop(self) -> None:
        for process in (self.process, *self.pairing):
            if process and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        self._log.close()

    def post(self, path: str, body, token: str | None = None, timeout: float = 60):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method="POST",
                                         headers={"Content-Type": "application/json"})
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")


def start_pairing_worker(env: dict, log) -> subprocess.Popen:
    """``flask --app server pairing worker`` in a process group of its own."""
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "server", "pairing",
                             "worker"], cwd=ROOT, env={**env, "PAIRING_POLL_S": "0.05"},
                            stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
