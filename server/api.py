"""The flask-smorest ``Api`` with one error shape: RFC 9457 problem documents."""
from __future__ import annotations

import logging

import marshmallow as ma
from apispec import BasePlugin
from flask import current_app, json
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from server.database_faults import driver_error_classes, handle_database_error
from server.errors import AppError

PROBLEM_MIMETYPE = "application/problem+json"
log = logging.getLogger(__name__)

#: Stable codes for the HTTP errors the framework raises itself.
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
    500: "internal_error",
}


class ProblemSchema(ma.Schema):
    """An RFC 9457 problem document; ``code`` is the stable machine reason.
    Some problems add members of their own (``limits``, ``session``...)."""

    class Meta:
        unknown = ma.INCLUDE

    type = ma.fields.String()
    title = ma.fields.String()
    status = ma.fields.Integer()
    detail = ma.fields.String()
    code = ma.fields.String(metadata={"description": "Stable machine-readable reason"})
    errors = ma.fields.Raw(metadata={"description": "Where the input was wrong"})


def problem_response(status: int, code: str, detail: str, headers: dict | None = None,
                     **extra):
    body = {"type": "about:blank", "title": _title(status), "status": status,
            "code": code, "detail": detail, **extra}
    response = current_app.response_class(
        json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_MIMETYPE
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _title(status: int) -> str:
    from http import HTTPStatus
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class ProblemDocuments(BasePlugin):
    """apispec plugin: the error responses flask-smorest registers for every
    status (422 of arguments, ``default``) are described as what is sent,
    ``application/problem+json``, not JSON. (An operation's own error
    responses say so through server/common/blueprint.py.)"""

    def response_helper(self, response, **kwargs):
        content = response.get("content") or {}
        described = content.get("application/json")
        if described is not None and _is_problem_schema(described.get("schema")):
            content[PROBLEM_MIMETYPE] = content.pop("application/json")
        return response


def lenient2properties(self, field, ret: dict, **kwargs) -> dict:
    """apispec attribute function: a field with ``metadata={"lenient": True}``
    is described as ``anyOf: [<its schema>, {}]``: the server reads it when
    it fits the schema and takes anything in its place (the push: a
    malformed event is quarantined, a bad health field ignored, never the
    batch refused). A fuzzer then sends no "invalid" value expecting a 4xx."""
    if not field.metadata.get("lenient"):
        return {}
    described = dict(ret)
    ret.clear()
    description = described.pop("description", "")
    if list(described) == ["allOf"] and len(described["allOf"]) == 1:
        described = described["allOf"][0]  # a nested schema's bare $ref
    return {"description": description, "anyOf": [described, {}]}


def _is_problem_schema(schema) -> bool:
    if isinstance(schema, dict):
        return schema.get("$ref", "").rsplit("/", 1)[-1] == "Problem"
    return schema is ProblemSchema or isinstance(schema, ProblemSchema)


class ProblemApi(Api):
    ERROR_SCHEMA = ProblemSchema

    def __init__(self, *args, **kwargs):
        from server.common.routing import ExceptConverter, except_schema
        super().__init__(*args, spec_kwargs={"extra_plugins": [ProblemDocuments()]}, **kwargs)
        self.register_converter(ExceptConverter, except_schema)

    def init_app(self, app, **kwargs):
        from server.common.routing import ExceptConverter, truthful_allow
        app.url_map.converters["except"] = ExceptConverter
        app.after_request(truthful_allow)
        super().init_app(app, **kwargs)
        self.ma_plugin.converter.add_attribute_function(lenient2properties)

    def register_blueprint(self, blp, *, parameters=None, **options):
        """Only the API's own Blueprint (server/common/blueprint.py), which
        checks credentials, bodies and text the same way everywhere."""
        from server.common.blueprint import Blueprint
        if not isinstance(blp, Blueprint):
            raise TypeError(f"{blp.name}: API blueprints are server.common.blueprint.Blueprint")
        super().register_blueprint(blp, parameters=parameters, **options)

    def _register_error_handlers(self):
        self._app.register_error_handler(HTTPException, self.handle_http_exception)
        self._app.register_error_handler(AppError, self.handle_app_error)
        for error_class in driver_error_classes():
            self._app.register_error_handler(error_class, handle_database_error)

    def handle_app_error(self, error: AppError):
        return problem_response(error.status, error.code, error.detail, error.headers,
                                **error.extra)

    def handle_http_exception(self, error: HTTPException):
        status = error.code or 500
        data = getattr(error, "data", None) or {}
        extra = {}
        detail = data.get("message") or error.description or _title(status)
        errors = data.get("errors") or data.get("messages")
        code = _HTTP_CODES.get(status, "error")
        if errors is not None:
            extra["errors"] = errors
            code = "invalid_input"
            detail = "The request does not fit the documented schema; see errors."
            if _is_unparseable_json(errors):
                status, code, detail = 400, "malformed_json", "The body is not valid JSON."
        if status == 413:
            detail = (f"The body is larger than {current_app.config['MAX_CONTENT_LENGTH']} "
                      "bytes.")
        if status >= 500:
            log.exception("unhandled error")
        headers = dict(data.get("headers") or {})
        # Those werkzeug sets itself: Allow on a 405, WWW-Authenticate on a 401.
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                headers.setdefault(name, value)
        if status == 429:
            headers.setdefault("Retry-After", str(_retry_after_seconds(error)))
        return problem_response(status, code, detail, headers, **extra)


def _retry_after_seconds(error) -> int:
    """Seconds until the exceeded rate-limit window resets (at least 1)."""
    import time

    from server.extensions import limiter
    try:
        current = limiter.current_limit
        if current is not None:
            return max(1, int(current.reset_at - time.time()) + 1)
    except RuntimeError:
        pass
    limit = getattr(error, "limit", None)
    if limit is not None:
        return max(1, int(limit.limit.get_expiry()))
    return 60


def _is_unparseable_json(errors) -> bool:
    """webargs reports a body that is not JSON as ``{"json": ["Invalid JSON body."]}``."""
    if isinstance(errors, dict):
        body = errors.get("json")
        return isinstance(body, list) and body == ["Invalid JSON body."]
    return False
