"""Suspicious records (可疑记录): the people and stations of a period whose
sessions carry a pattern of faked hours (sync/fraud.py), within the
caller's scope (server/reports/suspects.py). Each count links to the
review queue filtered by its flag (and person)."""
from __future__ import annotations

from datetime import date, timedelta

from flask import render_template
from flask_login import login_required

from server.console.period import requested_period
from server.console.routes import _principal, blp
from server.reports.suspects import LIMIT, suspects
from server.service_sessions.models import FRAUD_FLAGS
from sync.timeutil import local_today


def _period() -> tuple[date, date]:
    """This month by default."""
    first = local_today().replace(day=1)
    return requested_period(first, (first + timedelta(days=32)).replace(day=1)
                            - timedelta(days=1))


@blp.get("/flags")
@login_required
def suspects_page():
    start, end = _period()
    return render_template("console/suspects.html", found=suspects(_principal(), start, end),
                           start=start, end=end, flags=FRAUD_FLAGS, limit=LIMIT)
