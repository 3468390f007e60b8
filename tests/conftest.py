"""Fixtures: the app on SQLite and on a real PostgreSQL, clients, and factories."""
from __future__ import annotations

import os
import uuid
from datetime import date

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from flask_migrate import upgrade

from server import create_app
from server.extensions import db
from tests.pg_cluster import Cluster, find_pg_bin

IN_CI = bool(os.environ.get("CI"))
BACKENDS = ("sqlite", "postgresql")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI a skipped PostgreSQL or browser test is a failure, not a skip."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which counts as a failure: {report.longrepr}"


@pytest.fixture(scope="session")
def postgres_server_url():
    """A PostgreSQL server URL: TEST_DATABASE_URL, or a throwaway cluster."""
    if os.environ.get("TEST_DATABASE_URL"):
        yield os.environ["TEST_DATABASE_URL"]
        return
    bin_dir = find_pg_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL binaries (install postgresql or set TEST_DATABASE_URL)")
    cluster = Cluster(bin_dir)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


def _fresh_postgres_database(server_url: str, name: str) -> str:
    from server.config import normalise_database_url
    server_url = normalise_database_url(server_url)
    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return sa.engine.make_url(server_url).set(database=name).render_as_string(
        hide_password=False)


@pytest.fixture(scope="session")
def database_urls(request, tmp_path_factory):
    """Lazily created, migrated databases, one per backend, for this test session."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    urls = {}

    def get(backend: str) -> str:
        if backend not in urls:
            if backend == "sqlite":
                url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
            else:
                server = request.getfixturevalue("postgres_server_url")
                url = _fresh_postgres_database(server, f"test_{worker}")
            app = create_app({"DATABASE_URL": url, "TESTING": True})
            with app.app_context():
                upgrade()
                db.engine.dispose()
            urls[backend] = url
        return urls[backend]

    return get


def config_for_tests(url: str, **overrides) -> dict:
    return {"DATABASE_URL": url, "TESTING": True, "RATELIMIT_ENABLED": False,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "PUBLIC_BASE_URL": "https://stations.example.test", "WTF_CSRF_ENABLED": True,
            "SESSION_COOKIE_SECURE": False,
            # A cheap hash keeps the suite fast; production uses scrypt.
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", **overrides}


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def app_config():
    """Override to change settings for one test module."""
    return {}


class PairingWorkerClient(FlaskClient):
    """After each request, pairs what it queued and is ready, as the pairing
    worker (``flask pairing worker``, another process) does within a poll:
    the same drain, run here so a test reads the sessions it expects."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("buffered", True)
        response = super().open(*args, **kwargs)
        from server.pairing import queue
        with self.application.app_context():
            queue.drain()
        return response


@pytest.fixture
def app(backend, database_urls, app_config):
    app = create_app(config_for_tests(database_urls(backend), **app_config))
    app.test_client_class = PairingWorkerClient
    with app.app_context():
        yield app
        db.session.remove()
        _check_service_totals()
        _empty_all_tables()
        db.engine.dispose()


def _check_service_totals() -> None:
    """Whatever a test did to sessions, the trigger-kept totals must still
    equal a fresh computation from them."""
    from server.totals.triggers import differences
    with db.engine.connect() as connection:
        found = differences(connection)
    assert not any(found.values()), f"service totals drifted from the sessions: {found}"


def _empty_all_tables() -> None:
    tables = [t.name for t in db.metadata.sorted_tables]
    with db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables)
                                       + " RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(tables):
                connection.execute(sa.text(f'DELETE FROM "{table}"'))


@pytest.fixture
def client(app):
    return app.test_client()


# -- factories -------------------------------------------------------------------------

@pytest.fixture
def world(app):
    """A small city: two districts, their committees and branches, stations, people.

    Shenzhen (SZ) > Bao'an (SZ-BA) > Xin'an (SZ-BA-XA); Nanshan (SZ-NS).
    BA-DW > BA-ZB1, BA-ZB2 (in SZ-BA-XA); NS-DW > NS-ZB1 (in SZ-NS).
    Stations ST-BA-1 (hosted by BA-ZB1, in SZ-BA-XA) and ST-NS-1 (NS-ZB1, SZ-NS).
    People P-BA-1, P-BA-2 in BA-ZB1; P-BA-3 in BA-ZB2; P-NS-1 in NS-ZB1.
    """
    from server.auth.principal import Principal
    from server.auth.services import create_user
    from server.org.services import create_area, create_organisation
    from server.people.services import create_person
    from server.stations.services import create_station

    admin = create_user("test", {"username": "root", "display_name": "Root",
                                 "password": "root-password-1", "grants": [{"role": "admin"}]})
    db.session.flush()
    root = Principal.of(admin)
    for code, kind, parent in (("SZ", "city", None), ("SZ-BA", "district", "SZ"),
                               ("SZ-BA-XA", "street", "SZ-BA"), ("SZ-NS", "district", "SZ")):
        create_area(root, {"code": code, "name": code, "kind": kind, "parent": parent})
    for code, kind, parent, area in (("BA-DW", "committee", None, "SZ-BA"),
                                     ("BA-ZB1", "branch", "BA-DW", "SZ-BA-XA"),
                                     ("BA-ZB2", "branch", "BA-DW", "SZ-BA-XA"),
                                     ("NS-DW", "committee", None, "SZ-NS"),
                                     ("NS-ZB1", "branch", "NS-DW", "SZ-NS")):
        create_organisation(root, {"code": code, "name": code, "kind": kind, "parent": parent,
                                   "area": area})
    for code, area, host, lat, lng in (("ST-BA-1", "SZ-BA-XA", "BA-ZB1", 22.5562, 113.8890),
                                       ("ST-NS-1", "SZ-NS", "NS-ZB1", 22.5417, 113.9146)):
        create_station(root, {"code": code, "name": f"站点{code}", "kind": "party_mass_centre",
                              "area": area, "host_organisation": host, "latitude": lat,
                              "longitude": lng, "geofence_radius_m": 200, "address": "深圳"})
    for code, branch in (("P-BA-1", "BA-ZB1"), ("P-BA-2", "BA-ZB1"), ("P-BA-3", "BA-ZB2"),
                         ("P-NS-1", "NS-ZB1")):
        create_person(root, {"code": code, "name": f"人{code}", "kind": "volunteer",
                             "branch": branch, "branch_since": date(2025, 1, 1)})
    db.session.commit()
    return root


@pytest.fixture
def make_user(app):
    """``make_user(role, scope_code=None)`` -> bearer token of a new user with that grant."""
    from server.auth.models import ROLE_SCOPES
    from server.auth.services import create_user, issue_api_token

    def make(role: str, scope: str | None = None) -> str:
        grant = {"role": role}
        if ROLE_SCOPES[role]:
            grant[ROLE_SCOPES[role]] = scope
        user = create_user("test", {"username": f"u-{uuid.uuid4().hex[:8]}",
                                    "display_name": "Tester", "password": "password-123",
                                    "grants": [grant]})
        token, _ = issue_api_token(user)
        db.session.commit()
        return token

    return make


@pytest.fixture
def make_phone(app, world):
    """``make_phone(person="P-BA-1")`` -> bearer token of that person's own phone."""
    from server.common.lookup import by_code
    from server.devices.services import create_personal_device
    from server.people.models import Person

    def make(person: str = "P-BA-1") -> str:
        _, token = create_personal_device(by_code(Person, person),
                                          f"PHONE-{uuid.uuid4().hex[:8]}", "test")
        db.session.commit()
        return token

    return make


@pytest.fixture
def admin_token(make_user):
    return make_user("admin")


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def make_device(app, world):
    """``make_device(stations=[...], organisations=[...])`` -> (code, bearer token)."""
    from server.devices.services import create_device, enrol_device

    def make(stations=("ST-BA-1",), organisations=()) -> tuple[str, str]:
        code = f"DEV-{uuid.uuid4().hex[:8]}"
        _, enrolment = create_device(world, {"code": code, "name": "tablet",
                                             "stations": list(stations),
                                             "organisations": list(organisations)})
        _, token = enrol_device(enrolment, "test")
        db.session.commit()
        return code, token

    return make


@pytest.fixture
def live(app, database_urls, backend):
    """``live(**options)`` starts a gunicorn on this test's database; all stop at the end,
    before the app's teardown empties the tables (their workers pair and sweep)."""
    from tests.live_server import LiveServer
    servers = []

    def start(**kwargs):
        server = LiveServer(database_urls(backend), **kwargs).start()
        servers.append(server)
        return server

    yield start
    # A transaction the test left open would hold SQLite's write lock, and
    # the pairing worker, waiting for it in C, would not see its SIGTERM.
    db.session.rollback()
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium, one per test process (defined once: Playwright's
    sync API allows one running instance per thread)."""
    from tests.browser import launch_browser
    yield from launch_browser()
