"""Schema pieces shared by the domain packages."""
from __future__ import annotations

from datetime import datetime, timezone

import marshmallow as ma
from marshmallow import validate

from server.common.lookup import CODE_PATTERN
from sync.timeutil import BUSINESS_TZ

_YEAR = r"(?:[1-9]\d{3}|0[1-9]\d{2}|00[1-9]\d|000[1-9])"  # 0001 to 9999
#: Periods as ``2026``, ``2026-11``, ``2026-Q4``.
YEAR_PATTERN = rf"^{_YEAR}$"
MONTH_PATTERN = rf"^{_YEAR}-(?:0[1-9]|1[0-2])$"
QUARTER_PATTERN = rf"^{_YEAR}-[Qq][1-4]$"

code_validator = validate.Regexp(CODE_PATTERN, error="a code is 1-64 of A-Z a-z 0-9 . _ -")


def Code(*, reserved: tuple[str, ...] = (), **kwargs) -> ma.fields.String:
    """A public code field (``[A-Za-z0-9._-]{1,64}``); ``reserved`` words are
    refused: the API's paths use them beside the object's own
    (server/common/routing.py)."""
    if not reserved:
        return ma.fields.String(validate=code_validator, **kwargs)
    metadata = {**kwargs.pop("metadata", {}), "not": {"enum": list(reserved)}}
    refuse = validate.NoneOf(reserved, error="{input} is reserved: the API's paths use it")
    return ma.fields.String(validate=[code_validator, refuse], metadata=metadata, **kwargs)


#: A response body that is a file (CSV, XLSX, PDF), in the OpenAPI description.
BINARY = {"type": "string", "format": "binary"}


class ListArgs(ma.Schema):
    """Filters common to list endpoints."""

    q = ma.fields.String(load_default=None, validate=validate.Length(max=100),
                         metadata={"description": "Text in the code or name"})


class Timestamp(ma.fields.AwareDateTime):
    """A moment on the wire: RFC 3339 with an offset, answered in business
    time (Asia/Shanghai, ``+08:00``), whatever zone the value carries.

    The database hands back aware UTC (``server.db_types.UTCDateTime``), so
    without this every answer said ``+00:00`` while the contract
    (docs/sync-protocol.md) says the server answers in Asia/Shanghai time.
    Every datetime an API schema answers is declared with this field
    (tests/test_style.py refuses marshmallow's own datetime fields, and
    tests/test_api_times.py walks the answers). Input keeps
    ``AwareDateTime``'s rule: any offset is accepted, none is refused.
    """

    def _serialize(self, value, attr, obj, **kwargs):
        return api_time(value)


def api_time(value: datetime | None) -> str | None:
    """A datetime as the API answers it (see ``Timestamp``), for the few
    answers built without marshmallow (large reports)."""
    if value is None:
        return None
    if value.tzinfo is None:
        # Every naive datetime in this code base is UTC (the storage
        # convention of UTCDateTime and server/common/rawsql.py).
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(BUSINESS_TZ).isoformat()
