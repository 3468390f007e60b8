"""A gunicorn worker runs the reports once before it takes traffic
(deploy/gunicorn.conf.py, server/reports/warmup.py), on both databases."""
from __future__ import annotations

import runpy
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import event, func, select
from sqlalchemy.engine.default import CACHE_MISS

from server.audit.models import AuditEntry
from server.extensions import db
from tests.conftest import auth
from tests.sync_helpers import batch, push, recent, scan

CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "gunicorn.conf.py"


def _statements_compiled_afresh(request) -> list[str]:
    """The SQL of each statement ``request()`` ran that SQLAlchemy had not
    compiled before in this process."""
    fresh = []

    def note(conn, cursor, statement, parameters, context, executemany):
        if context is not None and context.cache_hit is CACHE_MISS:
            fresh.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        request()
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    return fresh


def test_a_worker_compiles_the_reports_before_its_first_request(
        app, client, make_device, make_user, admin_token, monkeypatch):
    # The configuration refuses several workers on a per-process rate-limit
    # store (docs/deploy.md); one worker is what this test loads it for.
    monkeypatch.setenv("WEB_CONCURRENCY", "1")
    _, token = make_device()
    push(client, token, batch([scan("P-BA-1", "check_in", recent(50)),
                               scan("P-BA-1", "check_out", recent(48))]))
    audit_before = db.session.scalar(select(func.count()).select_from(AuditEntry))
    db.session.remove()
    db.engine.dispose()
    hooks = runpy.run_path(str(CONFIG))
    hooks["post_worker_init"](SimpleNamespace(wsgi=app))
    assert db.engine.pool.checkedin() >= 1  # its connection is open
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == audit_before
    secretary = make_user("branch_secretary", "NS-DW")
    month = recent(24 * 31).strftime("%Y-%m")
    for who in (admin_token, secretary):
        url = f"/api/v1/reports/service-hours?group_by=branch&rollup=true&month={month}"
        fresh = _statements_compiled_afresh(
            lambda: client.get(url, headers=auth(who)).status_code)
        report_tables = [sql for sql in fresh
                         if "branch_period_total" in sql or "device_station" in sql]
        assert report_tables == []


def test_a_warm_up_that_cannot_reach_the_database_lets_the_worker_start():
    from server import create_app
    from server.reports.warmup import warm_up
    from tests.conftest import config_for_tests
    from tests.live_server import free_port
    nowhere = create_app(config_for_tests(
        f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none"))
    assert warm_up(nowhere) is None
