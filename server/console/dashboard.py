"""The figures on a console user's first page, for their own subtree."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, or_, select

from server.auth.policy import visible
from server.auth.principal import Principal
from server.db_types import utcnow
from server.devices.models import Device
from server.extensions import db
from server.reports.services import session_scope
from server.service_sessions.models import ServiceSession
from server.service_sessions.routes import REVIEW_QUEUE

#: A device silent for longer than this is listed.
SILENT_AFTER = timedelta(days=3)


def _month_bounds(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def _totals(principal: Principal, start: date, end: date) -> dict:
    row = db.session.execute(
        select(func.coalesce(func.sum(ServiceSession.credited_seconds), 0),
               func.coalesce(func.sum(ServiceSession.pending_seconds), 0),
               func.count(func.distinct(ServiceSession.person_id)))
        .where(ServiceSession.local_date >= start, ServiceSession.local_date <= end,
               ServiceSession.status != "rejected", session_scope(principal))).one()
    return {"credited_hours": round(row[0] / 3600, 1), "pending_hours": round(row[1] / 3600, 1),
            "people": row[2]}


def dashboard(principal: Principal, today: date) -> dict:
    this_start, this_end = _month_bounds(today)
    last_start, last_end = _month_bounds(this_start - timedelta(days=1))
    waiting = db.session.scalar(select(func.count()).select_from(ServiceSession).where(
        or_(ServiceSession.status.in_(REVIEW_QUEUE), ServiceSession.review_stale.is_(True)),
        session_scope(principal)))
    silent = db.session.scalars(select(Device).where(
        visible(principal, Device), Device.revoked_at.is_(None),
        or_(Device.last_push_at.is_(None), Device.last_push_at < utcnow() - SILENT_AFTER))
        .order_by(Device.code).limit(20)).all()
    trend = []
    month_start = this_start
    for _ in range(12):
        first, last = _month_bounds(month_start)
        trend.append({"month": first.strftime("%Y-%m"),
                      "hours": _totals(principal, first, last)["credited_hours"]})
        month_start = (first - timedelta(days=1)).replace(day=1)
    trend.reverse()
    peak = max((m["hours"] for m in trend), default=0) or 1
    for month in trend:
        month["height"] = round(100 * month["hours"] / peak)
    return {"this_month": _totals(principal, this_start, this_end), "trend": trend,
            "last_month": _totals(principal, last_start, last_end),
            "month": this_start.strftime("%Y-%m"), "waiting_for_review": waiting,
            "silent_devices": silent}
