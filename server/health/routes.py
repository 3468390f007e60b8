"""Liveness and readiness for load balancers and orchestrators."""
from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from server.api import problem_response
from server.extensions import db

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz():
    """The process answers (it does not look at the database)."""
    return jsonify(status="ok")


@blp.get("/readyz")
def readyz():
    """The database answers; 503 while it does not."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return problem_response(503, "database_unavailable", "The database does not answer.")
    return jsonify(status="ready")
