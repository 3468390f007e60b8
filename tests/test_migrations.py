"""The schema comes from migrations, and the migrations equal the models,
triggers included; nothing in migrations/ imports the application."""
from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from server import create_app
from server.db_types import include_object_for
from server.extensions import db
from tests.conftest import _fresh_postgres_database, config_for_tests


def _fresh_url(backend, tmp_path, request):
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    return _fresh_postgres_database(request.getfixturevalue("postgres_server_url"),
                                    "test_migrations")


def test_upgrade_gives_the_models_schema_and_downgrade_empties(backend, tmp_path, request):
    app = create_app(config_for_tests(_fresh_url(backend, tmp_path, request)))
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={
                "compare_type": True,
                "include_object": include_object_for(connection.dialect.name)})
            differences = compare_metadata(context, db.metadata)
        assert differences == []
        assert _triggers_as_migrated_equal_the_apps(db.engine)
        downgrade(revision="base")
        tables = set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
        upgrade()
        assert "checkin_event" in sa.inspect(db.engine).get_table_names()
        db.engine.dispose()


def _trigger_definitions(connection) -> dict[str, str]:
    """Every trigger on the database as the database itself renders it (and,
    on PostgreSQL, the function it runs)."""
    if connection.dialect.name == "sqlite":
        return dict(connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").all())
    return dict(connection.exec_driver_sql(
        "SELECT t.tgname, pg_get_triggerdef(t.oid) || ' ' || pg_get_functiondef(t.tgfoid) "
        "FROM pg_trigger t WHERE NOT t.tgisinternal").all())


def _triggers_as_migrated_equal_the_apps(engine) -> bool:
    """The triggers the revisions left are those the application's code
    installs today (read, then put back in a transaction rolled back): a
    change to the totals' SQL without a revision fails here, and so does a
    revision whose batch copy of a table dropped its triggers."""
    from server.totals import triggers as totals_sql
    from server.totals.rules import TRIGGER_NAMES
    with engine.connect() as connection:
        migrated = _trigger_definitions(connection)
        totals_sql.uninstall(connection)
        totals_sql.install(connection)
        installed = _trigger_definitions(connection)
        connection.rollback()
    assert set(migrated) == set(TRIGGER_NAMES)
    assert migrated == installed
    return True


def test_no_migration_imports_the_application():
    """A revision runs the SQL it carries, not today's code (docs/migrations.md)."""
    import ast
    from pathlib import Path
    folder = Path(__file__).resolve().parent.parent / "migrations"
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n == "server" or n.startswith(("server.", "sync"))
                           for n in names), f"{path.name} imports {names}"


def test_the_audit_chain_revision_chains_existing_entries_as_the_app_does(
        backend, tmp_path, request):
    """Revision d0db9f0ff2d5 hashes with its own copy of the code: what it
    wrote must verify with the application's, and new entries follow it."""
    from server.audit.services import record_audit
    app = create_app(config_for_tests(_fresh_url(backend, tmp_path, request)))
    with app.app_context():
        upgrade(revision="e7a1c5d9b3f0")
        entries = [
            ("2026-11-30 01:02:03.000000", "user:admin", "update_station", "station", "ST-1",
             None, '{"latitude": [22.5, 22.5562], "name": ["旧站", "新站"]}'),
            ("2026-11-30 01:02:03.000001", "device:DEV-1", "enrol_device", "device", "DEV-1",
             None, None),
            ("2026-12-01 23:59:59.999999", "user:secretary", "review_session_rejected",
             "session", "0b1e-4", '未实际服务 "退回"\n第二行', 'null'),
            ("2026-12-02 08:00:00.500000", "user:admin", "update_device", "device", "DEV-1",
             None, '{"stations": [["ST-1"], ["ST-1", "ST-2"]], "nested": {"b": 1, "a": [true, '
             'null, -0.5, 1e-07, 12345678901234567890]}}'),
        ]
        with db.engine.begin() as connection:
            for row in entries:
                connection.execute(sa.text(
                    "INSERT INTO audit_entry (at, actor, action, object_type, object_code, "
                    "reason, changes) VALUES (:at, :actor, :action, :type, :code, :reason, "
                    ":changes)"), dict(zip(("at", "actor", "action", "type", "code", "reason",
                                            "changes"), row)))
        upgrade()
        runner = app.test_cli_runner()
        verified = runner.invoke(args=["audit", "verify"])
        assert (verified.exit_code, verified.output) == (0, "4 entries, chain intact\n")
        record_audit("system", "after_upgrade", "test", "T-1")
        db.session.commit()
        verified = runner.invoke(args=["audit", "verify"])
        assert (verified.exit_code, verified.output) == (0, "5 entries, chain intact\n")
        seqs = db.session.execute(sa.text("SELECT seq FROM audit_entry ORDER BY id")).scalars()
        assert list(seqs) == [1, 2, 3, 4, 5]
        db.session.remove()
        db.engine.dispose()
