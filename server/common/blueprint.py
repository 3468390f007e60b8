"""The API's Blueprint: what every operation under /api/v1 shares.

- Who may call: a user's token (the default), a device's token
  (``@blp.device_token``), either (``@blp.user_or_device_token``) or anyone
  (``@blp.public``). The request boundary
  checks it before any argument is read (server/auth/boundary.py), so a
  caller without a token hears 401, not what was wrong with its input, and
  the OpenAPI description names the same security scheme.
- A JSON body where the description requires one: a missing body is 400
  ``missing_body``, a body of another media type 415, never an empty change.
- Text both databases can store: a lone surrogate in a JSON body is 400
  ``invalid_text``, before any field is read.
- Errors are documented as ``application/problem+json`` (server/api.py);
  ``X-Pagination`` as the JSON text it is.
"""
from __future__ import annotations

from functools import wraps

import flask_smorest
from flask import request
from flask_smorest.pagination import PaginationMetadataSchema
from webargs import core
from webargs.flaskparser import FlaskParser

from server.api import PROBLEM_MIMETYPE, ProblemSchema
from server.common.text import json_has_lone_surrogate
from server.errors import AppError

#: Which credential an operation needs (``credential_of``).
USER, DEVICE, PUBLIC, USER_OR_DEVICE = "user", "device", "public", "user_or_device"


class ApiParser(FlaskParser):
    """webargs' parser, refusing JSON text that no database can store."""

    def load_json(self, req, schema):
        data = super().load_json(req, schema)
        if data is not core.missing and json_has_lone_surrogate(req.get_data(cache=True), data):
            raise AppError("invalid_text", "Text may not contain a lone UTF-16 surrogate "
                           "(an unpaired \\ud800-\\udfff escape).", status=400)
        return data


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = ApiParser()

    def arguments(self, schema, *, location="json", required=True, **kwargs):
        """flask-smorest's ``arguments``; a required JSON body must be sent."""
        parse = super().arguments(schema, location=location, required=required, **kwargs)
        if location != "json" or not required:
            return parse

        def decorator(func):
            parsed = parse(func)

            @wraps(parsed)
            def with_body(*args, **kw):
                require_json_body()
                return parsed(*args, **kw)
            return with_body
        return decorator

    def alt_response(self, status_code, response=None, *, schema=None, content_type=None,
                     **kwargs):
        """flask-smorest's ``alt_response``; an error is a problem document
        unless said otherwise."""
        if response is None and int(status_code) >= 400:
            schema = schema or ProblemSchema
            content_type = content_type or PROBLEM_MIMETYPE
        return super().alt_response(status_code, response, schema=schema,
                                    content_type=content_type, **kwargs)

    def device_token(self, func):
        """The operation is called with a device's token (a station tablet's,
        or a volunteer's own phone's), not a user's."""
        func._credential = DEVICE
        return self.doc(security=[{"device": []}])(func)

    def user_or_device_token(self, func):
        """The operation takes a user's token, or else a device's."""
        func._credential = USER_OR_DEVICE
        return self.doc(security=[{"bearer": []}, {"device": []}])(func)

    def public(self, func):
        """The operation needs no token."""
        func._credential = PUBLIC
        return self.doc(security=[])(func)

    def _document_pagination_metadata(self, spec, resp_doc):
        # flask-smorest sends the metadata as JSON text; a header ``schema``
        # of type object would say "k,v,k,v" (OpenAPI's simple style).
        resp_doc.setdefault("headers", {})[self.PAGINATION_HEADER_NAME] = {
            "description": "Pagination metadata, as JSON text",
            "content": {"application/json": {"schema": PaginationMetadataSchema}},
        }


def require_json_body() -> None:
    """:raise AppError: no body (400 ``missing_body``), or one that is not
    JSON (415 ``unsupported_media_type``)."""
    if not request.get_data(cache=True):
        raise AppError("missing_body", "This operation needs a JSON body.", status=400)
    if not request.is_json:
        raise AppError("unsupported_media_type", "The body must be application/json.",
                       status=415)


def credential_of(view_function, method: str) -> str:
    """``USER``, ``DEVICE`` or ``PUBLIC``: what the view of ``method`` needs."""
    view_class = getattr(view_function, "view_class", None)
    handler = view_function
    if view_class is not None:
        handler = getattr(view_class, method.lower(), None)
        if handler is None and method == "HEAD":
            handler = getattr(view_class, "get", None)
    return getattr(handler, "_credential", USER)
