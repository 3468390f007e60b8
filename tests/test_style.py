"""The code follows the project's style rules (flake8, settings in setup.cfg)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_flake8_finds_nothing():
    found = subprocess.run([sys.executable, "-m", "flake8", "server", "sync", "scripts", "tests"],
                           cwd=ROOT, capture_output=True, text=True)
    assert found.returncode == 0, found.stdout + found.stderr
