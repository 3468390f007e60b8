"""The figures on a console user's first page, for their own subtree."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, or_, select, text, true

from server.auth.policy import visible
from server.auth.principal import Principal
from server.checkins.models import QUARANTINE_OPEN, QuarantinedEvent
from server.corrections.models import CorrectionRequest
from server.corrections.services import visible_requests
from server.db_types import utcnow
from server.devices.health import SILENT_AFTER
from server.devices.models import Device
from server.extensions import db
from server.totals import figures as totals
from server.pairing import worker as pairing_worker
from server.reports.services import review_scope, session_scope
from server.service_sessions.models import FRAUD_FLAGGED_SQL, ServiceSession, counted


def _month_bounds(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def _month_figures(principal: Principal, months: list[date]) -> dict[date, dict]:
    """Hours and people of each month (first days) that ``principal`` may count."""
    if totals.answers_for(principal):
        kept = totals.scope_figures(principal, [f"{m:%Y-%m}" for m in months])
        figures = {m: kept[f"{m:%Y-%m}"] for m in months}
    else:
        figures = {m: _counted_from_sessions(principal, *_month_bounds(m)) for m in months}
    return {m: {"credited_hours": round(f.credited_seconds / 3600, 1),
                "pending_hours": round(f.pending_seconds / 3600, 1), "people": f.people}
            for m, f in figures.items()}


def _counted_from_sessions(principal: Principal, start: date, end: date) -> totals.Figures:
    row = db.session.execute(
        select(func.coalesce(func.sum(ServiceSession.credited_seconds), 0),
               func.coalesce(func.sum(ServiceSession.pending_seconds), 0),
               func.count(ServiceSession.id), func.count(func.distinct(ServiceSession.person_id)))
        .where(ServiceSession.local_date >= start, ServiceSession.local_date <= end,
               counted(), session_scope(principal))).one()
    return totals.Figures(credited_seconds=int(row[0]), pending_seconds=int(row[1]),
                          sessions=row[2], people=row[3])


#: The queue count stops here ("1000+"): counting a city's backlog exactly
#: costs more than the number is worth on a first page.
WAITING_COUNT_CAP = 1000


def dashboard(principal: Principal, today: date) -> dict:
    this_start = today.replace(day=1)
    last_start = (this_start - timedelta(days=1)).replace(day=1)
    waiting = _count_up_to_cap(select(ServiceSession.id).where(
        ServiceSession.awaiting_review == true(), review_scope(principal)))
    # Only administrators may act on the quarantine (server/console/quarantine.py),
    # and only they watch the pairing: whether its worker runs, and scans
    # stored but not yet in hours.
    quarantined = _count_up_to_cap(select(QuarantinedEvent.id).where(
        QuarantinedEvent.status.in_(QUARANTINE_OPEN))) if principal.is_admin else None
    pairing = pairing_worker.status() if principal.is_admin else None
    corrections = _count_up_to_cap(visible_requests(principal).with_only_columns(
        CorrectionRequest.id))
    # Sessions of this month flagged with a pattern of faked hours (the
    # suspicious-records page): a few rows of a partial index.
    suspects = _count_up_to_cap(select(ServiceSession.id).where(
        text(f"({FRAUD_FLAGGED_SQL})"), ServiceSession.local_date >= this_start,
        ServiceSession.local_date <= today, session_scope(principal)))
    silent = db.session.scalars(select(Device).where(
        visible(principal, Device), Device.revoked_at.is_(None),
        or_(Device.last_push_at.is_(None), Device.last_push_at < utcnow() - SILENT_AFTER))
        .order_by(Device.code).limit(20)).all()
    months = [this_start]
    for _ in range(11):
        months.append((months[-1] - timedelta(days=1)).replace(day=1))
    months.reverse()
    figures = _month_figures(principal, months)
    trend = [{"month": f"{m:%Y-%m}", "hours": figures[m]["credited_hours"]} for m in months]
    peak = max((m["hours"] for m in trend), default=0) or 1
    for month in trend:
        month["height"] = round(100 * month["hours"] / peak)
    return {"this_month": figures[this_start], "trend": trend, "last_month": figures[last_start],
            "month": this_start.strftime("%Y-%m"), "waiting_for_review": waiting,
            "waiting_capped": waiting > WAITING_COUNT_CAP, "quarantined": quarantined,
            "pairing": pairing, "count_cap": WAITING_COUNT_CAP, "silent_devices": silent,
            "corrections": corrections, "suspects": suspects}


def _count_up_to_cap(ids) -> int:
    """How many rows ``ids`` selects, counted to WAITING_COUNT_CAP + 1 at most."""
    return db.session.scalar(select(func.count()).select_from(
        ids.limit(WAITING_COUNT_CAP + 1).subquery()))
