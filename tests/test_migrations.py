"""The schema comes from migrations, and the migrations equal the models."""
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
        downgrade(revision="base")
        tables = set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
        upgrade()
        assert "checkin_event" in sa.inspect(db.engine).get_table_names()
        db.engine.dispose()
