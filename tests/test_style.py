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


def test_api_schemas_declare_times_with_the_business_time_field():
    """marshmallow's own datetime fields answer in the value's zone (UTC from
    the database); ``server.common.schemas.Timestamp`` answers ``+08:00``."""
    import re
    own = re.compile(r"\bfields\.(Aware|Naive)?DateTime\(")
    found = [f"{path.relative_to(ROOT)}:{n}" for path in (ROOT / "server").rglob("*.py")
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if own.search(line)]
    assert not found, f"use server.common.schemas.Timestamp: {found}"
