"""Warm a fresh worker before it takes traffic (deploy/gunicorn.conf.py's
``post_worker_init``).

A worker's first report paid for what later ones find ready: its database
connection, SQLAlchemy compiling each statement once (a cache per
process), the PostgreSQL backend loading its catalogue, lazy imports. The
first twenty reports after a start had p95 182 ms against 71–95 ms warm
(docs/benchmarks.md, "Reports through gunicorn"). This runs the district
and city reports' statements once per worker, as an administrator and as a
secretary of the first top-level organisation would (for a month without
service, so it costs little whatever the data), and the API's request path
once (unauthenticated: answered 401). It only reads, as no user:
nothing is written, audited or logged beyond one line with its duration.
"""
from __future__ import annotations

import logging
import time
from datetime import date

import orjson
from flask import Flask
from sqlalchemy import select

from server.auth.principal import Principal
from server.extensions import db
from server.org.models import Organisation
from server.reports.services import service_hours, sync_completeness

log = logging.getLogger(__name__)


#: A month without service: the statements are those of any month's
#: report (compiled, planned, the catalogue read), without adding up a
#: city's figures in every worker at every start.
WARM_UP_MONTH = (date(2000, 1, 1), date(2000, 1, 31))


def _principals() -> list[Principal]:
    """An administrator's scope and a committee secretary's, without users."""
    scopes = [Principal(user=None, is_admin=True)]
    top = db.session.scalar(select(Organisation.path).where(Organisation.parent_id.is_(None))
                            .order_by(Organisation.id).limit(1))
    if top is not None:
        scopes.append(Principal(user=None, organisation_paths=[top]))
    return scopes


def warm_up(app: Flask) -> float | None:
    """Run the representative reports once; seconds taken, or None when it
    could not (a database not up yet): the worker starts all the same."""
    from server.reports.routes import completeness_document
    started = time.perf_counter()
    start, end = WARM_UP_MONTH
    with app.app_context():
        try:
            app.test_client().get(
                f"/api/v1/reports/service-hours?group_by=branch&rollup=true&month={start:%Y-%m}",
                headers={"Authorization": "Bearer warm-up"})
            for principal in _principals():
                rows = service_hours(principal, "branch", start, end, rollup=True)
                completeness = completeness_document(
                    sync_completeness(principal, start, end))
                orjson.dumps({"rows": rows, "completeness": completeness})
        except Exception as error:  # noqa: BLE001 - a warm-up never stops a worker
            log.warning("report warm-up skipped: %s", type(error).__name__)
            return None
        finally:
            db.session.rollback()
            db.session.remove()
    elapsed = time.perf_counter() - started
    log.info("report warm-up took %.0f ms", elapsed * 1000)
    return elapsed
