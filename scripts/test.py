#!/usr/bin/env python3
"""Install what the tests need and run them.

    python3 scripts/test.py [pytest arguments]

Installs the project with its ``test`` extra into ``.venv``; when run as root
on Debian, also installs the PostgreSQL server binaries (unless
TEST_DATABASE_URL is set), CJK fonts and poppler for the PDF checks,
Chromium for the browser tests and redis-server for the shared rate-limit
store, if they are missing.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bootstrap import ROOT, ensure_venv  # noqa: E402

#: Debian packages and the file that shows each is present.
SYSTEM_NEEDS = {
    "postgresql": lambda: os.environ.get("TEST_DATABASE_URL") or glob.glob(
        "/usr/lib/postgresql/*/bin/initdb"),
    "fonts-wqy-microhei": lambda: glob.glob("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    "poppler-utils": lambda: shutil.which("pdftoppm"),
    # Browser tests drive Debian's Chromium; no browser is downloaded.
    "chromium": lambda: shutil.which("chromium"),
    # The shared rate-limit store of the documented deployment (test_rate_limits.py).
    "redis-server": lambda: shutil.which("redis-server"),
}


def install_system_packages() -> None:
    missing = [name for name, present in SYSTEM_NEEDS.items() if not present()]
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print(f"Not installing {missing}: needs root and apt-get; those tests will skip.",
              flush=True)
        return
    print(f"Installing Debian packages: {' '.join(missing)} ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
                   check=True, env=env, stdout=subprocess.DEVNULL)


def main() -> None:
    ensure_venv("[test]")
    install_system_packages()
    args = sys.argv[1:] or ["-n", "2", "--dist", "loadfile"]
    os.chdir(ROOT)
    result = subprocess.run([sys.executable, "-m", "pytest", *args])
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
