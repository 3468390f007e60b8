"""Console pages for devices: the list with each one's health, enrolment,
revocation, and a device's own page to rename it or move it to other
stations, with what its chain of scans says was removed or changed on the
way. Each calls the same service as the API."""
from __future__ import annotations

import base64

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from server.auth.policy import may_manage, visible
from server.console.pages import _fail, _visible_or_404, _visible_page
from server.console.routes import _principal, blp
from server.devices.chain import verify_chain
from server.devices.health import missing_scans
from server.devices.models import Device
from server.devices.schemas import DeviceUpdateSchema
from server.devices.services import (create_device, enrolment_qr_text, revoke_device,
                                     update_device)
from server.errors import AppError
from server.extensions import db
from server.org.models import Organisation
from server.qr.images import qr_png
from server.stations.models import Station
from sync.event_chain import ALTERED, FORK, MALFORMED_LINK, REMOVED, Break

#: Breaks listed on a device's page; the rest are counted.
SHOWN_BREAKS = 50


def _manageable_stations() -> list[Station]:
    """Active stations the caller may give a device (the first 500 by code)."""
    # may_manage reads each station's area and host: loaded with the list,
    # not one query per station (it was a second at city scale).
    stations = db.session.scalars(select(Station).where(Station.status == "active")
                                  .options(joinedload(Station.area),
                                           joinedload(Station.host_organisation))
                                  .order_by(Station.code).limit(500)).all()
    return [s for s in stations if may_manage(_principal(), s)]


def _manageable_organisations() -> list[Organisation]:
    """Organisations the caller may give a device, in tree order (the first 500)."""
    return [o for o in db.session.scalars(
        select(Organisation).where(visible(_principal(), Organisation))
        .options(joinedload(Organisation.area)).order_by(Organisation.path).limit(500))
        if may_manage(_principal(), o)]


@blp.route("/devices", methods=["GET", "POST"])
@login_required
def devices():
    enrolment = None
    if request.method == "POST":
        try:
            device, token = create_device(_principal(), {
                "code": request.form.get("code", "").strip(),
                "name": request.form.get("name", "").strip() or "平板",
                "stations": request.form.getlist("stations"), "organisations": [],
                "notes": None})
            text = enrolment_qr_text(token)
            enrolment = {"device": device.code, "text": text,
                         "png": base64.b64encode(qr_png(text, box_size=6)).decode()}
        except AppError as error:
            db.session.rollback()
            _fail(error)
    page, q = _visible_page(Device, Device.code)
    return render_template("console/devices.html", page=page, q=q, enrolment=enrolment,
                           stations=_manageable_stations(),
                           missing=missing_scans([d.id for d in page.items]),
                           tolerance_s=current_app.config["CLOCK_TOLERANCE_S"])


@blp.post("/devices/<code>/revoke")
@login_required
def device_revoke(code: str):
    try:
        revoke_device(_principal(), _visible_or_404(Device, code), request.form.get("reason"))
        flash(_("Device revoked."), "ok")
    except AppError as error:
        db.session.rollback()
        _fail(error)
    return redirect(url_for("console.devices"))


@blp.route("/devices/<code>", methods=["GET", "POST"])
@login_required
def device_page(code: str):
    device = _visible_or_404(Device, code)
    if request.method == "POST":
        changes = {"name": request.form.get("name", "").strip(),
                   "notes": request.form.get("notes", "").strip() or None}
        if device.person_id is None:
            changes["stations"] = request.form.getlist("stations")
            changes["organisations"] = request.form.getlist("organisations")
        try:
            # The API's rules (lengths, codes) for what the form sends.
            update_device(_principal(), device, DeviceUpdateSchema().load(changes))
            flash(_("Saved."), "ok")
        except ValidationError as error:
            flash(" ".join(f"{name}: {problems}"
                           for name, problems in error.normalized_messages().items()), "error")
        except AppError as error:
            db.session.rollback()
            _fail(error)
        return redirect(url_for("console.device_page", code=code))
    # Its own stations are offered even when the caller could not give them
    # (inactive, or past the first 500): saving must not drop them silently.
    offered = {s.code: s for s in _manageable_stations()}
    offered.update({s.code: s for s in device.stations})
    organisations = {o.code: o for o in _manageable_organisations()}
    organisations.update({o.code: o for o in device.organisations})
    chain = verify_chain(device, shown=SHOWN_BREAKS)
    return render_template("console/device.html", device=device,
                           missing=missing_scans([device.id])[device.id], chain=chain,
                           chain_breaks=[_break_text(b, chain.linked_from_seq)
                                         for b in chain.breaks],
                           stations=sorted(offered.values(), key=lambda s: s.code),
                           organisations=sorted(organisations.values(), key=lambda o: o.path),
                           tolerance_s=current_app.config["CLOCK_TOLERANCE_S"])


def _break_text(found: Break, linked_from: int | None) -> str:
    """A break in words a secretary reads (docs/sync-protocol.md, "Linked scans");
    the last kind is ``unlinked``."""
    if found.kind == REMOVED:
        return _("Scan no. %(seq)s never arrived, though scan no. %(next)s, made after it "
                 "and naming it, did: it was removed on the way or on the device.",
                 seq=found.seq, next=found.found_at)
    if found.kind == ALTERED:
        return _("Scan no. %(seq)s arrived with other content than the device recorded "
                 "(scan no. %(next)s shows it): it was changed on the way or on the device.",
                 seq=found.seq, next=found.found_at)
    if found.kind == FORK:
        return _("Scan no. %(seq)s arrived in %(n)s different versions.",
                 seq=found.seq, n=len(found.stored))
    if found.kind == MALFORMED_LINK:
        return _("Scan no. %(seq)s carries a link to the scan before it that is not valid.",
                 seq=found.seq)
    return _("Scan no. %(seq)s carries no link to the scan before it, though the device "
             "links its scans since scan no. %(first)s: the link may have been removed.",
             seq=found.seq, first=linked_from)
