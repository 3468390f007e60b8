"""The request boundary: who is calling, and one commit per request.

Views and services never commit; a request that ends in an error rolls back
all it wrote, so nothing is half-written.
"""
from __future__ import annotations

from flask import Flask, g, request
from sqlalchemy import select

from server.auth.models import ApiToken
from server.auth.principal import Principal
from server.auth.tokens import bearer_token, hash_token
from server.db_types import utcnow
from server.database_faults import driver_error_classes, handle_database_error
from server.errors import Forbidden, Unauthorized
from server.extensions import db


def install_request_boundary(app: Flask) -> None:
    @app.before_request
    def forget_previous_caller():
        # ``g`` outlives a request when an app context was pushed around it.
        g.pop("principal", None)
        g.pop("device", None)
        g.pop("_flask_babel", None)  # flask-babel's cached locale
        g.pop("csrf_token", None)  # Flask-WTF's, read from the caller's own session
        g.pop("_login_user", None)  # Flask-Login's, loaded from the caller's own cookie

    @app.before_request
    def authenticate_api_caller():
        """Who calls, before any argument is read: a caller without a valid
        token hears 401 whatever its input (server/common/blueprint.py)."""
        if not request.path.startswith("/api/v1/") or request.endpoint is None \
                or request.method == "OPTIONS":
            return
        from server.common.blueprint import DEVICE, USER, USER_OR_DEVICE, credential_of
        from server.devices.services import current_device
        needed = credential_of(app.view_functions[request.endpoint], request.method)
        if needed == USER:
            current_principal()
        elif needed == DEVICE:
            current_device()
        elif needed == USER_OR_DEVICE:
            try:
                current_principal()
            except Unauthorized:
                current_device()

    @app.after_request
    def commit_or_roll_back(response):
        if response.status_code >= 400:
            _roll_back_quietly()
            return response
        try:
            db.session.commit()
        except tuple(driver_error_classes()) as error:
            # The database went away at the commit (a restart, a full disk):
            # nothing was written, and the client hears it like any other
            # passing fault. The answer is rewritten in place so it keeps the
            # headers the other after-request hooks already set.
            _roll_back_quietly()
            failure = handle_database_error(error)
            response.status_code = failure.status_code
            response.set_data(failure.get_data())
            response.headers["Content-Type"] = failure.headers["Content-Type"]
            for name in ("Retry-After",):
                if name in failure.headers:
                    response.headers[name] = failure.headers[name]
        return response

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "geolocation=(self), camera=(self)")
        # The interactive API docs (swagger-ui) start from an inline script.
        scripts = "'self' 'unsafe-inline'" if request.path == "/api/docs" else "'self'"
        headers.setdefault("Content-Security-Policy",
                           f"default-src 'self'; script-src {scripts}; "
                           "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                           "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
                           "form-action 'self'")
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response


def _roll_back_quietly() -> None:
    """Roll back; when the connection is already lost (the 503 being sent is
    about that), there is nothing to undo and the pool discards it."""
    try:
        db.session.rollback()
    except tuple(driver_error_classes()):
        pass


def current_principal() -> Principal:
    """The signed-in user of this API request.

    :raise Unauthorized: no token, an unknown one, or an expired or revoked one.
    """
    if "principal" in g:
        return g.principal
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        raise Unauthorized()
    api_token = db.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if (api_token is None or api_token.revoked_at is not None
            or api_token.expires_at <= utcnow() or not api_token.user.active):
        raise Unauthorized("invalid_token", "The token is unknown, expired or revoked.")
    g.principal = Principal.of(api_token.user)
    return g.principal


def require_admin() -> Principal:
    principal = current_principal()
    if not principal.is_admin:
        raise Forbidden("Only administrators may do this.")
    return principal
