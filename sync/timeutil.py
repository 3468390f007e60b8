"""Time on the wire: RFC 3339 with an offset, business dates in Asia/Shanghai."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")


def parse_rfc3339(text: str) -> datetime:
    """An aware datetime from RFC 3339 text.

    :raise ValueError: not a string, not a timestamp, or no offset (a scan
        time without an offset is ambiguous, so it is refused).
    """
    if not isinstance(text, str) or len(text) > 40:
        raise ValueError("not an RFC 3339 timestamp")
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("timestamp has no UTC offset")
    return value


def format_rfc3339(value: datetime) -> str:
    """Business-time RFC 3339 text, e.g. ``2026-11-23T10:00:02+08:00``."""
    return value.astimezone(BUSINESS_TZ).isoformat(timespec="seconds")


def local_date(value: datetime) -> date:
    return value.astimezone(BUSINESS_TZ).date()


def local_today() -> date:
    return datetime.now(timezone.utc).astimezone(BUSINESS_TZ).date()
