"""A throwaway Redis for the test session, from Debian's redis-server: the
shared rate-limit store of the documented deployment (docs/deploy.md)."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.live_server import free_port


class RedisServer:
    """redis-server on a free loopback port, in memory only; ``stop()`` ends it."""

    def __init__(self, binary: str):
        self.binary = binary
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="redistest-"))
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.root)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.05)

    def flush(self) -> None:
        import redis
        redis.Redis.from_url(self.url).flushdb()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def find_redis_server() -> str | None:
    return shutil.which("redis-server")
