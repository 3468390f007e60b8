#!/usr/bin/env python3
"""Online backup of the SQLite database, safe while the server runs.

    .venv/bin/python scripts/backup_sqlite.py instance/stations.db backups/stations-$(date +%F).db

Uses SQLite's backup API (a consistent snapshot even with writers), then
checks the copy with ``PRAGMA integrity_check``. Restore: stop the server,
copy the backup over the database file (and remove its -wal and -shm), start.
"""
from __future__ import annotations

import sqlite3
import sys
from pathlib import Path


def backup(source: str, target: str) -> None:
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source, timeout=30) as src, sqlite3.connect(target) as dst:
        src.backup(dst, pages=1024)
    with sqlite3.connect(target) as check:
        result = check.execute("PRAGMA integrity_check").fetchone()[0]
    if result != "ok":
        raise SystemExit(f"backup failed its integrity check: {result}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    backup(sys.argv[1], sys.argv[2])
    print(f"backed up {sys.argv[1]} to {sys.argv[2]}")
