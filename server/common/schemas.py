"""Schema pieces shared by the domain packages."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from server.common.lookup import CODE_PATTERN

code_validator = validate.Regexp(CODE_PATTERN, error="a code is 1-64 of A-Z a-z 0-9 . _ -")


def Code(**kwargs) -> ma.fields.String:
    """A public code field (``[A-Za-z0-9._-]{1,64}``)."""
    return ma.fields.String(validate=code_validator, **kwargs)


class ListArgs(ma.Schema):
    """Filters common to list endpoints."""

    q = ma.fields.String(load_default=None, validate=validate.Length(max=100),
                         metadata={"description": "Text in the code or name"})
