"""Finding objects by their public code, and paging lists."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from server.errors import Conflict, NotFound, ValidationFailed
from server.extensions import db

#: The wire's code syntax (sync-protocol.md).
CODE_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def by_code(model, code: str, what: str | None = None, *, field: str = "code"):
    """The row of ``model`` whose code is ``code``.

    :raise NotFound: no such row.
    """
    obj = db.session.scalar(select(model).where(getattr(model, field) == code))
    if obj is None:
        raise NotFound(what or model.__name__.lower(), code)
    return obj


def reference(model, code: str | None, field_name: str, what: str):
    """Resolve a code given in a request body; an unknown one is the caller's error.

    :raise ValidationFailed: ``unknown_reference`` naming the field.
    """
    if code is None:
        return None
    obj = db.session.scalar(select(model).where(model.code == code))
    if obj is None:
        raise ValidationFailed(f"No {what} with code {code!r}.",
                               {field_name: [f"unknown {what}"]}, code="unknown_reference")
    return obj


def ensure_code_free(model, code: str, what: str, *, field: str = "code") -> None:
    """:raise Conflict: ``duplicate_code`` when the code is taken."""
    taken = db.session.scalar(select(func.count()).select_from(model)
                              .where(getattr(model, field) == code))
    if taken:
        raise Conflict("duplicate_code", f"A {what} with code {code!r} exists already.")


def apply_changes(obj, data: dict) -> dict:
    """Set attributes from ``data``; return ``{field: [before, after]}`` of real changes."""
    changes = {}
    for name, value in data.items():
        before = getattr(obj, name)
        if before != value:
            changes[name] = [_plain(before), _plain(value)]
            setattr(obj, name, value)
    return changes


def _plain(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
