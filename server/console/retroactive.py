"""Console page for retroactive entries (补录): service that no scan recorded.

Calls the API's service (server/service_sessions/retroactive.py) with the
API's schema, so the page and the API refuse the same things the same way.
"""
from __future__ import annotations

from datetime import datetime

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from marshmallow import ValidationError
from sqlalchemy import select

from server.activities.models import Activity
from server.auth.policy import visible
from server.console.pages import _fail
from server.console.routes import _principal, blp
from server.errors import AppError
from server.extensions import db
from server.people.models import Person
from server.service_sessions.retroactive import enter_retroactively
from server.service_sessions.schemas import RetroactiveEntrySchema
from server.stations.models import Station
from sync.timeutil import BUSINESS_TZ

#: Suggestions offered in each field's list; any code may still be typed.
SUGGESTIONS = 500
_FIELDS = ("person", "station", "activity", "start_at", "end_at", "reason")


@blp.route("/sessions/new", methods=["GET", "POST"])
@login_required
def enter_retroactive():
    values = {name: (request.values.get(name) or "").strip() for name in _FIELDS}
    if request.method == "POST":
        try:
            data = RetroactiveEntrySchema().load({
                "person": values["person"], "station": values["station"],
                "activity": values["activity"] or None, "reason": values["reason"],
                "start_at": _business_time(values["start_at"]),
                "end_at": _business_time(values["end_at"])})
            session = enter_retroactively(_principal(), data)
        except ValidationError as error:
            flash(" ".join(f"{_(name)}: {'; '.join(problems)}" for name, problems
                           in error.normalized_messages().items()), "error")
        except AppError as error:
            db.session.rollback()
            _fail(error)
        else:
            flash(_("Entered. It waits in the review queue until someone else approves it."),
                  "ok")
            return redirect(url_for("console.session_page", session_id=session.key_event_id))
    principal = _principal()
    people = db.session.scalars(select(Person).where(visible(principal, Person))
                                .order_by(Person.code).limit(SUGGESTIONS)).all()
    stations = db.session.scalars(select(Station).where(Station.status == "active")
                                  .order_by(Station.code).limit(SUGGESTIONS)).all()
    activities = db.session.scalars(select(Activity).where(visible(principal, Activity))
                                    .order_by(Activity.planned_start_at.desc())
                                    .limit(SUGGESTIONS)).all()
    status = 422 if request.method == "POST" else 200
    return render_template("console/retroactive.html", values=values, people=people,
                           stations=stations, activities=activities), status


def _business_time(value: str) -> str:
    """A datetime-local field's ``YYYY-MM-DDTHH:MM`` as an aware time in
    business time; anything else is passed on for the schema to refuse."""
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M").replace(
            tzinfo=BUSINESS_TZ).isoformat()
    except ValueError:
        return value
