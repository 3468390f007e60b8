"""The period a console page reads: ``from`` and ``to`` of its query string.

A date that does not parse is ignored (the page's default stands), and a
period given backwards is turned round: a secretary's typo shows a page,
not an error.
"""
from __future__ import annotations

from datetime import date

from flask import request


def requested_period(default_start: date, default_end: date) -> tuple[date, date]:
    start = _date(request.args.get("from")) or default_start
    end = _date(request.args.get("to")) or default_end
    return (start, end) if start <= end else (end, start)


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None
