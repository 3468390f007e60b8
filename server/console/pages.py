"""Console pages for activities, people and imports, stations and QR posters,
and exports (devices: server/console/devices.py). Each page calls the same
service as the API."""
from __future__ import annotations

from datetime import datetime

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from server.activities.attendance import attendance, mark_leave
from server.activities.models import ACTIVITY_KINDS, Activity
from server.activities.services import create_activity
from server.auth.policy import may_manage, may_read_members, visible
from server.console.routes import PAGE_SIZE, _principal, blp
from server.errors import AppError
from server.extensions import db
from server.imports.services import IMPORTERS, import_file
from server.org.models import Membership, Organisation
from server.people.models import Person
from server.people.star_levels import standings
from server.console.paging import window
from server.qr.images import qr_png
from server.qr.routes import poster_stations
from server.qr.posters import render_posters
from server.qr.services import reissue_qr
from server.qr.signer import StationSigner
from server.reports import exports
from server.reports.services import period_of, service_hours
from server.stations.models import Station
from sync.timeutil import BUSINESS_TZ, local_today


def _visible_page(model, order_by, search_columns=("code", "name"), load=()):
    """A page of what the caller may see; ``load``: loader options for what
    the page shows of each row (one query for the page, not one per row)."""
    query = select(model).where(visible(_principal(), model)).options(*load)
    q = (request.args.get("q") or "").strip()[:100]
    if q:
        query = query.where(or_(*(getattr(model, c).like(f"%{q}%") for c in search_columns)))
    page = max(1, request.args.get("page", 1, type=int))
    return window(query.order_by(order_by), page, PAGE_SIZE), q


def _visible_or_404(model, code):
    obj = db.session.scalar(select(model).where(model.code == code, visible(_principal(), model)))
    if obj is None:
        abort(404)
    return obj


def _fail(error: AppError):
    details = error.extra.get("errors") or {}
    lines = [f"{_(k)}: {'; '.join(v) if isinstance(v, list) else v}" for k, v in details.items()]
    flash(" ".join([_(error.detail), *lines]), "error")  # in Chinese when catalogued


# -- activities ------------------------------------------------------------------------

@blp.route("/activities", methods=["GET", "POST"])
@login_required
def activities():
    if request.method == "POST":
        form = request.form
        try:
            start = datetime.fromisoformat(form["planned_start_at"]).replace(tzinfo=BUSINESS_TZ)
            end = datetime.fromisoformat(form["planned_end_at"]).replace(tzinfo=BUSINESS_TZ)
            create_activity(_principal(), {
                "code": form["code"].strip(), "title": form["title"].strip(),
                "kind": form["kind"], "organisation": form["organisation"],
                "station": form.get("station") or None, "planned_start_at": start,
                "planned_end_at": end, "host_name": form.get("host_name") or None,
                "recorder_name": form.get("recorder_name") or None,
                "topic": form.get("topic") or None})
            flash(_("Saved."), "ok")
            return redirect(url_for("console.activity_page", code=form["code"].strip()))
        except (KeyError, ValueError):
            flash(_("Please fill in every required field."), "error")
        except AppError as error:
            db.session.rollback()
            _fail(error)
    page, q = _visible_page(Activity, Activity.planned_start_at.desc(), ("code", "title"))
    organisations = db.session.scalars(select(Organisation).where(
        visible(_principal(), Organisation)).order_by(Organisation.path).limit(500)).all()
    # may_manage reads each station's area and host: loaded with the list,
    # not one query per station (it was a second at city scale).
    stations = db.session.scalars(select(Station).where(Station.status == "active")
                                  .options(joinedload(Station.area),
                                           joinedload(Station.host_organisation))
                                  .order_by(Station.code).limit(500)).all()
    return render_template("console/activities.html", page=page, q=q, kinds=ACTIVITY_KINDS,
                           organisations=[o for o in organisations if may_manage(_principal(), o)],
                           stations=stations)


@blp.route("/activities/<code>", methods=["GET", "POST"])
@login_required
def activity_page(code: str):
    activity = _visible_or_404(Activity, code)
    if request.method == "POST":
        try:
            mark_leave(_principal(), activity, request.form.get("person", ""),
                       (request.form.get("reason") or "").strip() or "—")
            flash(_("Saved."), "ok")
        except AppError as error:
            db.session.rollback()
            _fail(error)
        return redirect(url_for("console.activity_page", code=code))
    # A station manager sees the activities at their station, not the
    # organisation's roster and attendance (server/auth/policy.py).
    sheet = (attendance(activity) if may_read_members(_principal(), activity.organisation)
             else None)
    return render_template("console/activity.html", activity=activity, sheet=sheet,
                           kinds=ACTIVITY_KINDS)


# -- people and imports ----------------------------------------------------------------

@blp.route("/people", methods=["GET", "POST"])
@login_required
def people():
    if request.method == "POST":
        upload = request.files.get("file")
        kind = request.form.get("kind")
        if upload is None or kind not in IMPORTERS:
            flash(_("Choose what to import and a file."), "error")
        else:
            try:
                result = import_file(_principal(), kind, upload.filename or "", upload.read())
                flash(_("Imported %(n)s rows.", n=result["created"]), "ok")
            except AppError as error:
                db.session.rollback()
                _fail(error)
        return redirect(url_for("console.people"))
    page, q = _visible_page(Person, Person.code, load=[
        selectinload(Person.memberships).joinedload(Membership.organisation)])
    return render_template("console/people.html", page=page, q=q, importers=IMPORTERS,
                           standing=standings([p.id for p in page.items]))


# -- stations and posters --------------------------------------------------------------

@blp.get("/stations")
@login_required
def stations():
    page, q = _visible_page(Station, Station.code)
    return render_template("console/stations.html", page=page, q=q)


@blp.get("/stations/<code>/qr.png")
@login_required
def station_qr(code: str):
    return Response(qr_png(StationSigner().url_for(_visible_or_404(Station, code))),
                    mimetype="image/png")


@blp.post("/stations/<code>/reissue")
@login_required
def station_reissue(code: str):
    try:
        reissue_qr(_principal(), _visible_or_404(Station, code), request.form.get("reason"))
        flash(_("A new code was issued; print the new poster."), "ok")
    except AppError as error:
        db.session.rollback()
        _fail(error)
    return redirect(url_for("console.stations"))


@blp.get("/stations/posters.pdf")
@login_required
def station_posters():
    codes = request.args.getlist("station")[:5000]
    layout = request.args.get("layout", "a4")
    query = select(Station).where(visible(_principal(), Station), Station.status == "active")
    if codes:
        query = query.where(Station.code.in_(codes))
    chosen = db.session.scalars(query.order_by(Station.code).limit(5000)).all()
    return Response(render_posters(poster_stations(chosen), layout if layout in ("a4", "a5", "a6")
                                   else "a4"), mimetype="application/pdf")


# -- exports ---------------------------------------------------------------------------

@blp.get("/exports")
@login_required
def exports_page():
    return render_template("console/exports.html", month=local_today().strftime("%Y-%m"))


@blp.get("/exports/service-hours.<fmt>")
@login_required
def export_hours(fmt: str):
    if fmt not in ("csv", "xlsx"):
        abort(404)
    group_by = request.args.get("group_by", "branch")
    if group_by not in ("branch", "person", "station", "area"):
        abort(400)
    try:
        start, end = period_of({"month": request.args.get("month", "")})
    except AppError:
        abort(400)
    rows = service_hours(_principal(), group_by, start, end, request.args.get("rollup") == "1")
    return exports.export_response(rows, fmt, f"志愿服务时长统计（{start} 至 {end}）",
                                   f"service-hours-{group_by}-{start:%Y-%m}")
