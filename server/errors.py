"""Errors with stable machine codes.

Services raise :class:`AppError` (or a subclass); one handler turns it into
``application/problem+json`` (RFC 9457) for the API. The ``code`` is part of
the contract: clients branch on it, so it never changes once published.
"""
from __future__ import annotations


class AppError(Exception):
    """A failure the caller can act on.

    :param code: stable snake_case reason, e.g. ``duplicate_code``.
    :param detail: a sentence for people.
    :param status: the HTTP status it maps to.
    :param extra: further members of the problem document.
    """

    status = 400

    def __init__(self, code: str, detail: str, *, status: int | None = None,
                 headers: dict | None = None, **extra):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        if status is not None:
            self.status = status
        self.headers = headers or {}
        self.extra = extra


class NotFound(AppError):
    status = 404

    def __init__(self, what: str, code_value: str):
        super().__init__("not_found", f"No {what} with code {code_value!r}.")


class Forbidden(AppError):
    status = 403

    def __init__(self, detail: str = "You may not do this here."):
        super().__init__("forbidden", detail)


class Unauthorized(AppError):
    status = 401

    def __init__(self, code: str = "unauthorized",
                 detail: str = "A valid bearer token is required."):
        super().__init__(code, detail, headers={"WWW-Authenticate": "Bearer"})


class Conflict(AppError):
    status = 409


class ValidationFailed(AppError):
    """Input that does not fit; ``errors`` says where."""

    status = 422

    def __init__(self, detail: str, errors: dict | list | None = None,
                 code: str = "invalid_input"):
        super().__init__(code, detail, errors=errors or {})
