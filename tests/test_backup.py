"""Backups restore to the same data: SQLite's online backup, PostgreSQL's pg_dump."""
from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from server.extensions import db
from tests.pg_cluster import find_pg_bin
from tests.sync_helpers import batch, push, recent, scan

TABLES = ("person", "station", "checkin_event", "service_session", "audit_entry", "sync_change")


def _counts(engine) -> dict:
    with engine.connect() as connection:
        return {t: connection.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
                for t in TABLES}


def _load_backup_script():
    path = Path(__file__).parent.parent / "scripts" / "backup_sqlite.py"
    spec = importlib.util.spec_from_file_location("backup_sqlite", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def some_data(client, make_device):
    _, token = make_device()
    push(client, token, batch([scan("P-BA-1", "check_in", recent(3)),
                               scan("P-BA-1", "check_out", recent(1))]))
    db.session.commit()


def test_backup_and_restore(app, backend, some_data, tmp_path, database_urls, request):
    original = _counts(db.engine)
    assert original["checkin_event"] == 2
    if backend == "sqlite":
        source = db.engine.url.database
        target = tmp_path / "backup.db"
        _load_backup_script().backup(source, str(target))
        restored = sa.create_engine(f"sqlite:///{target}")
    else:
        bin_dir = find_pg_bin()
        url = sa.engine.make_url(database_urls("postgresql"))
        dump = tmp_path / "backup.dump"
        plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
        subprocess.run([str(bin_dir / "pg_dump"), "-Fc", "-f", str(dump), plain], check=True)
        from tests.conftest import _fresh_postgres_database
        restored_url = _fresh_postgres_database(request.getfixturevalue("postgres_server_url"),
                                                "restored")
        target = sa.engine.make_url(restored_url).set(drivername="postgresql")
        subprocess.run([str(bin_dir / "pg_restore"), "--no-owner", "-d",
                        target.render_as_string(hide_password=False), str(dump)], check=True)
        restored = sa.create_engine(restored_url)
    assert _counts(restored) == original
    restored.dispose()
