"""Console pages for station displays: set up this screen as a station's
display (its key pair is made in the browser; only the public key is sent),
list a station's displays, revoke one. The same services as the API."""
from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from marshmallow import ValidationError

from server.auth.policy import may_manage
from server.console.pages import _fail, _visible_or_404
from server.console.routes import _principal, blp
from server.displays.schemas import DisplayIn, DisplayOut
from server.displays.services import display_by_code, register_display, revoke_display
from server.displays.services import visible_displays
from server.errors import AppError, ValidationFailed
from server.extensions import db
from server.stations.models import Station


def _managed_station(code: str) -> Station:
    station = _visible_or_404(Station, code)
    if not may_manage(_principal(), station):
        abort(403)
    return station


@blp.get("/stations/<code>/display")
@login_required
def station_display(code: str):
    station = _managed_station(code)
    displays = db.session.scalars(visible_displays(_principal(), station.code)).all()
    return render_template("console/display.html", station=station, displays=displays)


@blp.post("/stations/<code>/displays")
@login_required
def register_station_display(code: str):
    """Register the public key this browser made (JSON, CSRF token in the
    ``X-CSRFToken`` header); answers the display as the API does."""
    station = _managed_station(code)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed("Send the display's name and public key as JSON.")
    try:
        data = DisplayIn().load({**body, "station": station.code})
    except ValidationError as error:
        raise ValidationFailed("The display's name or key does not fit.",
                               error.normalized_messages())
    display, created = register_display(_principal(), data)
    return jsonify(DisplayOut().dump(display)), 201 if created else 200


@blp.post("/displays/<code>/revoke")
@login_required
def display_revoke(code: str):
    try:
        display = display_by_code(_principal(), code)
    except AppError:
        abort(404)
    try:
        revoke_display(_principal(), display, request.form.get("reason") or None)
        flash(_("Display revoked: its codes no longer count as proof of presence."), "ok")
    except AppError as error:
        db.session.rollback()
        _fail(error)
    return redirect(url_for("console.station_display", code=display.station.code))
