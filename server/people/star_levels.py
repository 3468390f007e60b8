"""Volunteer star levels (志愿者星级) from a person's lifetime credited hours.

The national registered-volunteer rules rate volunteers one to five stars at
100, 300, 600, 1,000 and 1,500 hours of recorded service; districts that
count otherwise set ``STAR_LEVEL_HOURS``. Only credited hours count: pending
and rejected sessions do not.
"""
from __future__ import annotations

from bisect import bisect_right
from typing import NamedTuple

from flask import current_app
from sqlalchemy import func, select

from server.common.rawsql import in_values
from server.extensions import db
from server.service_sessions.models import ServiceSession


class Standing(NamedTuple):
    credited_hours: float
    star_level: int
    #: Hours still to serve for the next star; None at the top.
    hours_to_next: float | None


def standing_of(credited_seconds: int, thresholds=None) -> Standing:
    """The star level ``credited_seconds`` of service earns."""
    thresholds = thresholds or current_app.config["STAR_LEVEL_HOURS"]
    hours = credited_seconds / 3600
    level = bisect_right(thresholds, hours)
    to_next = round(thresholds[level] - hours, 1) if level < len(thresholds) else None
    return Standing(round(hours, 1), level, to_next)


def standings(person_ids: list[int]) -> dict[int, Standing]:
    """Each person's standing; one grouped query for the lot (a page of a list)."""
    if not person_ids:
        return {}
    credited = dict(db.session.execute(
        select(ServiceSession.person_id, func.sum(ServiceSession.credited_seconds))
        .where(in_values(ServiceSession.person_id, person_ids))
        .group_by(ServiceSession.person_id)).all())
    return {p: standing_of(int(credited.get(p) or 0)) for p in person_ids}
