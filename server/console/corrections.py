"""Correction requests (更正申请) in the console: what volunteers asked, with
the way to act on each (the session to amend, the retroactive entry form
filled in from the request) and to answer it. The same services as
``/api/v1/corrections``, on the trail."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from server.console.pages import _fail
from server.console.paging import window
from server.console.routes import PAGE_SIZE, _principal, blp
from server.corrections import services
from server.corrections.models import OPEN, OUTCOMES
from server.errors import AppError
from server.extensions import db
from sync.timeutil import BUSINESS_TZ

STATUSES = (OPEN, *OUTCOMES)


@blp.get("/corrections")
@login_required
def corrections():
    status = request.args.get("status")
    status = status if status in STATUSES else OPEN
    page = window(services.visible_requests(_principal(), status),
                  request.args.get("page", 1, type=int), PAGE_SIZE)
    return render_template("console/corrections.html", page=page, status=status,
                           statuses=STATUSES, outcomes=OUTCOMES, entry_link=_entry_link)


@blp.post("/corrections/<request_id>/close")
@login_required
def close_correction(request_id: str):
    outcome = request.form.get("outcome")
    try:
        if outcome not in OUTCOMES:
            raise AppError("invalid_input", "Choose what was done.", status=422)
        services.close(_principal(), services.request_by_id(_principal(), request_id),
                       outcome, request.form.get("answer", "")[:2000])
        flash(_("Answered. The volunteer sees the answer on their phone."), "ok")
    except AppError as error:
        db.session.rollback()
        _fail(error)
    return redirect(url_for("console.corrections"))


def _entry_link(correction) -> str:
    """The retroactive entry form filled in from a request."""
    def local(moment):
        return moment.astimezone(BUSINESS_TZ).strftime("%Y-%m-%dT%H:%M") if moment else ""
    return url_for("console.enter_retroactive", person=correction.person.code,
                   station=correction.station.code if correction.station else "",
                   start_at=local(correction.start_at), end_at=local(correction.end_at),
                   reason=_("Correction request: %(message)s", message=correction.message))
