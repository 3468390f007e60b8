"""``python3 scripts/run_demo.py`` on a port already taken: one line saying so
and how to choose another, before anything is installed, migrated or printed."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "run_demo.py"


@pytest.fixture
def taken_port():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.mark.parametrize("how", ["--port", "PORT"])
def test_a_taken_port_is_one_line_before_anything_else(taken_port, how):
    args, env = [sys.executable, str(SCRIPT)], dict(os.environ)
    if how == "--port":
        args += ["--port", str(taken_port)]
    else:
        env["PORT"] = str(taken_port)
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert f"Port {taken_port} on 127.0.0.1 is taken" in line
    assert f"--port {taken_port + 1}" in line and f"PORT={taken_port + 1}" in line
