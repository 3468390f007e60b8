"""Set-up shared by the two README commands: a virtualenv with the project in it.

Needs nothing but Python 3.11+. Creates ``.venv`` beside the project (or
reuses it), installs the project (and extras), and re-runs the caller inside it.
"""
from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"


def ensure_venv(extras: str = "") -> None:
    """Create the venv and install the project; re-exec the current script inside it."""
    if sys.version_info < (3, 11):
        sys.exit("Python 3.11 or newer is required.")
    if not PYTHON.exists():
        print("Creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".installed{extras}"
    setup_cfg = ROOT / "setup.cfg"
    if not stamp.exists() or stamp.stat().st_mtime < setup_cfg.stat().st_mtime:
        print(f"Installing the project{extras} into .venv ...", flush=True)
        subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
                       check=True)
        subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "-e",
                        f"{ROOT}{extras}"], check=True)
        stamp.touch()
    if Path(sys.prefix).resolve() != VENV.resolve():
        os.execv(str(PYTHON), [str(PYTHON), *sys.argv])
