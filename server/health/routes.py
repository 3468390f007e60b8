"""Liveness and readiness for load balancers and orchestrators."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from server.api import problem_response
from server.extensions import db
from server.pairing.worker import status
from sync.timeutil import format_rfc3339

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz():
    """The process answers (it does not look at the database)."""
    return jsonify(status="ok")


@blp.get("/health/pairing")
def pairing():
    """Whether the pairing worker runs and how far behind it is: 200, or 503
    when no worker is alive or ready scans have waited longer than
    ``PAIRING_LAG_ALERT_S`` (scans are stored, but not counted yet)."""
    try:
        state = status()
    except SQLAlchemyError:
        db.session.rollback()
        return problem_response(503, "database_unavailable", "The database does not answer.")
    healthy = state["running"] and state["behind_s"] <= current_app.config["PAIRING_LAG_ALERT_S"]
    body = {"status": "ok" if healthy else ("stopped" if not state["running"] else "behind"),
            "workers": state["workers"], "behind_s": state["behind_s"],
            "waiting": {"rows": state["rows"], "people": state["people"]},
            "last_beat_at": _iso(state["last_beat_at"]),
            "oldest_queued_at": _iso(state["oldest_queued_at"])}
    return jsonify(body), 200 if healthy else 503


def _iso(value):
    return format_rfc3339(value) if value is not None else None


@blp.get("/readyz")
def readyz():
    """The database answers; 503 while it does not."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return problem_response(503, "database_unavailable", "The database does not answer.")
    return jsonify(status="ready")
