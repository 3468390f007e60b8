"""The Flask application: one factory assembles it."""
from __future__ import annotations

import logging
from pathlib import Path

import swagger_ui_bundle
from flask import Flask, send_from_directory
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from server.config import load_config

__all__ = ["create_app"]


def create_app(config: dict | None = None) -> Flask:
    """Create the app; ``config`` overrides settings from the environment."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(load_config(app.instance_path))
    _openapi_settings(app)
    if config:
        if "DATABASE_URL" in config:
            from server.config import normalise_database_url
            config = {**config,
                      "SQLALCHEMY_DATABASE_URI": normalise_database_url(config["DATABASE_URL"])}
        app.config.update(config)

    require_sqlite_features(app.config["SQLALCHEMY_DATABASE_URI"])
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # A file in this process cannot have gone away: the ping before
        # each checkout (for a database server that restarted) would be a
        # statement of every request for nothing.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            **app.config["SQLALCHEMY_ENGINE_OPTIONS"], "pool_pre_ping": False}
    _trust_proxies(app)

    from server import models  # noqa: F401  (registers every table)
    from server.sync_feed import tracking  # noqa: F401  (records changes for pull)
    from server.extensions import api, babel, csrf, db, limiter, migrate
    from server.i18n import DEFAULT, compile_catalogues, select_locale
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = compile_catalogues(app)
    babel.init_app(app, locale_selector=select_locale)
    from flask_babel import get_locale
    app.jinja_env.globals["get_locale"] = get_locale
    db.init_app(app)
    from sqlalchemy.engine import make_url

    from server.db_types import include_object_for
    # Indexes the models create on PostgreSQL only are not missing on SQLite.
    migrate.init_app(app, db, directory=str(Path(__file__).parent.parent / "migrations"),
                     include_object=include_object_for(
                         make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name()))
    limiter.init_app(app)
    csrf.init_app(app)
    api.init_app(app)

    _register_blueprints(app, api)
    from server.public.routes import blp as public_blp
    app.register_blueprint(public_blp)
    from server.health.routes import blp as health_blp
    app.register_blueprint(health_blp)
    from server.console.login import init_console_login
    # Importing them adds their pages to the console blueprint.
    from server.console import (corrections, devices, displays, pages, person,  # noqa: F401
                                quarantine, retroactive, suspects)
    from server.console.routes import blp as console_blp
    init_console_login(app)
    app.register_blueprint(console_blp)
    _serve_api_docs_assets(app)

    from server.auth.boundary import install_request_boundary
    install_request_boundary(app)
    from server.cli import register_cli
    register_cli(app)
    logging.getLogger("server").setLevel(app.config.get("LOG_LEVEL", "INFO"))
    return app


def _trust_proxies(app: Flask) -> None:
    """Read the client's address from X-Forwarded-For only behind configured
    proxies: the rightmost ``PROXY_FIX_X_FOR`` entries, which they appended.
    Rate limits count per address; a header the client wrote is ignored, or
    anyone could pose as a new address on every try."""
    proxies = int(app.config.get("PROXY_FIX_X_FOR") or 0)
    if proxies < 0:
        raise ValueError(f"PROXY_FIX_X_FOR must be 0 or more, not {proxies}")
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=0, x_host=0,
                                x_port=0, x_prefix=0)


def _openapi_settings(app: Flask) -> None:
    app.config.update(
        API_TITLE="Station check-in and sync API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        # Served by this server so the docs work on a closed network.
        OPENAPI_SWAGGER_UI_URL="/api/docs/assets/",
        API_SPEC_OPTIONS={
            "info": {"description": "Offline-first sync and administration API "
                                    "for community service stations. See docs/sync-protocol.md."},
            "components": {"securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "A user's token (POST /api/v1/auth/token)"},
                "device": {"type": "http", "scheme": "bearer",
                           "description": "A device's token: a station tablet's "
                                          "(POST /api/v1/devices/enrol) or a volunteer's "
                                          "own phone's (POST /api/v1/volunteer/enrol)"}}},
            "security": [{"bearer": []}],
        },
    )


def _register_blueprints(app: Flask, api) -> None:
    from server.activities.routes import blp as activities_blp
    from server.auth.routes import blp as auth_blp
    from server.auth.routes import users_blp
    from server.checkins.routes import blp as sync_blp
    from server.checkins.routes import quarantine_blp
    from server.corrections.routes import blp as corrections_blp
    from server.devices.routes import blp as devices_blp
    from server.displays.routes import blp as displays_blp
    from server.imports.routes import blp as imports_blp
    from server.org.routes import areas_blp, organisations_blp
    from server.people.routes import blp as people_blp
    from server.qr.routes import blp as qr_blp
    from server.reports.routes import blp as reports_blp
    from server.service_sessions.routes import blp as sessions_blp
    from server.sync_feed.routes import blp as sync_pull_blp
    from server.stations.routes import blp as stations_blp
    from server.volunteer.routes import blp as volunteer_blp

    for blueprint in (auth_blp, users_blp, areas_blp, organisations_blp, people_blp,
                      stations_blp, activities_blp, devices_blp, imports_blp, sync_blp,
                      quarantine_blp, qr_blp, sync_pull_blp, sessions_blp, reports_blp,
                      volunteer_blp, corrections_blp, displays_blp):
        api.register_blueprint(blueprint, url_prefix=f"/api/v1{blueprint.url_prefix or ''}")


def _serve_api_docs_assets(app: Flask) -> None:
    assets = Path(swagger_ui_bundle.swagger_ui_path)

    @app.get("/api/docs/assets/<path:filename>")
    def api_docs_assets(filename: str):
        return send_from_directory(assets, filename, max_age=86400)


#: The oldest SQLite the app runs on: pairing uses ``->>`` (3.38) and
#: ``UPDATE ... FROM`` (3.33).
MIN_SQLITE = (3, 38, 0)


def require_sqlite_features(database_uri: str) -> None:
    """Refuse to start on a SQLite too old for the app's SQL, saying what to
    do, rather than store pushes that then fail to pair on every try."""
    import sqlite3
    if database_uri.startswith("sqlite") and sqlite3.sqlite_version_info < MIN_SQLITE:
        needed = ".".join(map(str, MIN_SQLITE))
        raise RuntimeError(
            f"SQLite {needed} or newer is needed; this Python uses SQLite "
            f"{sqlite3.sqlite_version}. Run it with a Python built against a newer "
            "SQLite, or set DATABASE_URL to a PostgreSQL database.")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """WAL and a busy timeout make SQLite a sound embedded default.

    The driver's own transaction handling is switched off so that SQLAlchemy
    emits BEGIN itself (savepoints work, see ``_sqlite_begin``).
    """
    import sqlite3
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        # SQLite's default page cache is 2 MiB, which a city's indexes
        # outgrow at once; memory-mapped reads share the OS page cache
        # between connections and processes.
        cursor.execute("PRAGMA cache_size=-32768")
        cursor.execute("PRAGMA mmap_size=1073741824")
        cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection):
    """Writers take SQLite's write lock up front (BEGIN IMMEDIATE).

    A deferred transaction that reads and then writes fails at once with
    "database is locked" when another writer committed in between; taking
    the lock at BEGIN makes writers queue on the busy timeout instead.
    Only transactions that never write begin deferred
    (server/common/transactions.py).
    """
    if connection.dialect.name != "sqlite":
        return
    from server.common.transactions import only_reads
    connection.exec_driver_sql("BEGIN" if only_reads() else "BEGIN IMMEDIATE")


@event.listens_for(Session, "before_commit")
def _fold_service_totals(session: Session) -> None:
    """SQLite: fold the sessions this transaction changed into the service
    totals before it commits (server/totals/triggers.py). Read-only
    requests skip it: their deferred transaction may not write."""
    if not session.in_transaction() or session.get_bind().dialect.name != "sqlite":
        return
    from server.common.transactions import only_reads
    if only_reads():
        return
    from server.totals import triggers as totals_sql
    session.flush()
    totals_sql.fold(session.connection())
