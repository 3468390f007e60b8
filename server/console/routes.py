"""The branch secretary's console: server-rendered pages over the same services."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import (Blueprint, abort, current_app, flash, make_response, redirect,
                   render_template, request, url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select, true

from server.auth.services import authenticate, end_console_sessions, open_console_session
from server.checkins.models import CheckinEvent
from server.console.dashboard import dashboard
from server.console.paging import window
from server.console.forms import (AmendForm, ApproveForm, BulkApproveForm, PasswordForm,
                                  RejectForm, SignInForm, SignOutForm)
from server.console.login import ConsoleUser
from server.errors import AppError
from server.extensions import csrf, db, limiter
from server.people.models import Person
from server.reports.services import review_scope
from server.service_sessions.models import ServiceSession
from server.service_sessions.models import REVIEW_QUEUE, SESSION_FLAGS, flagged
from server.service_sessions import words
from server.service_sessions.retroactive import entries_of
from server.service_sessions.services import review_session, session_by_id
from sync.fraud import WRITER_FLAGS
from sync.timeutil import BUSINESS_TZ, local_today

blp = Blueprint("console", __name__, url_prefix="/console")
PAGE_SIZE = 50


@blp.before_request
def check_csrf():
    """Every state-changing console request carries the form's CSRF token."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


@blp.app_template_filter("local")
def local_time(value, fmt="%Y-%m-%d %H:%M"):
    return value.astimezone(BUSINESS_TZ).strftime(fmt) if value else "—"


@blp.app_template_filter("clock_offset")
def clock_offset(offset_s: float | None, tolerance_s: float) -> str:
    """A device clock's error as a person reads it: "3.0 days behind".
    The offset is the server's time minus the device's (docs/sync-protocol.md)."""
    if offset_s is None:
        return "—"
    if abs(offset_s) <= tolerance_s:
        return _("on time")
    size = abs(offset_s)
    behind = offset_s > 0
    if size < 3600:
        n = round(size / 60)
        return _("%(n)s min behind", n=n) if behind else _("%(n)s min ahead", n=n)
    if size < 2 * 86400:
        n = f"{size / 3600:.1f}"
        return _("%(n)s h behind", n=n) if behind else _("%(n)s h ahead", n=n)
    n = f"{size / 86400:.1f}"
    return _("%(n)s days behind", n=n) if behind else _("%(n)s days ahead", n=n)


def _principal():
    return current_user.principal


def _login_limit():
    return current_app.config["LOGIN_RATE_LIMIT"]


@blp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def sign_in():
    form = SignInForm()
    if form.validate_on_submit():
        try:
            user = authenticate(form.username.data, form.password.data)
        except AppError as error:
            db.session.rollback()
            flash(_("Too many failed sign-ins; try again later.") if error.code == "account_locked"
                  else _("Wrong user name or password."), "error")
            return render_template("console/sign_in.html", form=form), error.status
        open_console_session(user)
        login_user(ConsoleUser(user))
        return redirect(url_for("console.home"))
    return render_template("console/sign_in.html", form=form)


@blp.post("/sign-out")
@login_required
def sign_out():
    """Sign out of the console on every browser: a copy of this browser's
    cookie is refused from now on, as are the others."""
    end_console_sessions(current_user.user)
    logout_user()
    return redirect(url_for("console.sign_in"))


@blp.get("/lang/<code>")
def switch_language(code: str):
    """Set the language and go back to the page the link was on: only a path
    of this site, never another one (the Referer is the client's to write)."""
    response = make_response(redirect(_same_site_path(request.referrer)
                                      or url_for("console.home")))
    if code in ("zh_CN", "en"):
        response.set_cookie("lang", code, max_age=365 * 86400, samesite="Lax", httponly=True)
    return response


def _same_site_path(url: str | None) -> str | None:
    """The path and query of ``url`` when it is a page of this site, else None.

    A path that a browser would read as another host ("//evil.example",
    "/\\evil.example") is refused too.
    """
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.netloc != request.host:
        return None
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return None
    return path + (f"?{parts.query}" if parts.query else "")


@blp.get("/")
@login_required
def home():
    return render_template("console/dashboard.html",
                           figures=dashboard(_principal(), local_today()))


@blp.get("/review")
@login_required
def review_queue():
    page = max(1, request.args.get("page", 1, type=int))
    status = request.args.get("status")
    query = select(ServiceSession).where(
        ServiceSession.awaiting_review == true(),
        review_scope(_principal()))
    if status in REVIEW_QUEUE:
        query = query.where(ServiceSession.status == status)
    flag = request.args.get("flag")
    if flag in SESSION_FLAGS:
        query = query.where(flagged(flag))
    # One person's sessions (the suspicious-records page links here).
    person = (request.args.get("person") or "").strip()[:64] or None
    if person:
        query = query.where(ServiceSession.person_id == select(Person.id).where(
            Person.code == person).scalar_subquery())
    query = query.order_by(ServiceSession.key_at.desc(), ServiceSession.id.desc())
    result = window(query, page, PAGE_SIZE)
    return render_template("console/review.html", page=result, status=status,
                           statuses=REVIEW_QUEUE, flag=flag, flags=SESSION_FLAGS,
                           person=person, bulk=BulkApproveForm())


@blp.post("/review/approve")
@login_required
def bulk_approve():
    """Approve the ticked sessions; each is checked against the caller's scope."""
    if not BulkApproveForm().validate_on_submit():
        abort(400)
    approved = left = 0
    for session_id in request.form.getlist("session")[:PAGE_SIZE]:
        session = _session_in_scope(session_id)
        try:
            # Each decision in a savepoint: one that is refused takes back
            # only what it wrote, the others stand.
            with db.session.begin_nested():
                review_session(_principal(), session, {"decision": "approved",
                                                       "reason": _("Approved in bulk")})
            approved += 1
        except AppError:
            # One's own retroactive entry, or a day of more than 12 hours:
            # someone else (above) certifies it.
            left += 1
    flash(_("%(n)s sessions approved.", n=approved), "ok")
    if left:
        flash(_("%(n)s were left for another reviewer: entered after the fact by you, or "
                "more than 12 hours of one person's day.", n=left), "error")
    return redirect(url_for("console.review_queue"))


@blp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    from werkzeug.security import check_password_hash

    from server.auth.services import update_user
    form = PasswordForm()
    if form.validate_on_submit():
        user = current_user.user
        if not check_password_hash(user.password_hash, form.current.data):
            flash(_("The current password is wrong."), "error")
        else:
            # Ends every console session of the user, this one included...
            update_user(_principal().actor, user, {"password": form.new.data})
            db.session.commit()
            # ...and opens a new one for this browser.
            open_console_session(user)
            login_user(ConsoleUser(user))
            flash(_("Password changed. Your API tokens were revoked."), "ok")
            return redirect(url_for("console.home"))
    return render_template("console/password.html", form=form)


def _session_in_scope(session_id: str) -> ServiceSession:
    """A session the caller may review, or 404: the review pages are for
    reviewers (a station manager reads their station's sessions in the API
    and the reports, docs/api.md)."""
    try:
        session = session_by_id(session_id)
    except AppError:
        abort(404)
    allowed = db.session.scalar(select(ServiceSession.id).where(
        ServiceSession.id == session.id, review_scope(_principal())))
    if allowed is None:
        abort(404)
    return session


@blp.get("/sessions/<session_id>")
@login_required
def session_page(session_id: str):
    session = _session_in_scope(session_id)
    ids = [i for i in (session.checkin_event_id, session.checkout_event_id) if i]
    events = db.session.scalars(select(CheckinEvent).where(CheckinEvent.event_id.in_(ids))
                                .order_by(CheckinEvent.effective_at)).all()
    from server.audit.models import AuditEntry
    trail = db.session.scalars(select(AuditEntry).where(
        AuditEntry.object_code == session.key_event_id).order_by(AuditEntry.at)).all()
    amend = AmendForm()
    if not amend.is_submitted():
        amend.start_at.data = (session.start_at or session.end_at).astimezone(
            BUSINESS_TZ).replace(tzinfo=None, second=0, microsecond=0) if (
            session.start_at or session.end_at) else None
        amend.end_at.data = (session.end_at or session.start_at).astimezone(
            BUSINESS_TZ).replace(tzinfo=None, second=0, microsecond=0) if (
            session.end_at or session.start_at) else None
    entries = entries_of(session)
    return render_template("console/session.html", session=session, events=events,
                           trail=trail, approve=ApproveForm(prefix="a"),
                           reject=RejectForm(prefix="r"), amend=amend, entries=entries,
                           entered_by_me=any(e.entered_by_id == _principal().user.id
                                             for e in entries))


@blp.post("/sessions/<session_id>/<decision>")
@login_required
def decide(session_id: str, decision: str):
    session = _session_in_scope(session_id)
    forms = {"approved": ApproveForm(prefix="a"), "rejected": RejectForm(prefix="r"),
             "amended": AmendForm()}
    form = forms.get(decision)
    if form is None:
        abort(404)
    if not form.validate_on_submit():
        flash(_("Please give a reason (and, to amend, the start and end)."), "error")
        return redirect(url_for("console.session_page", session_id=session_id))
    data = {"decision": decision, "reason": form.reason.data or None}
    if decision == "amended":
        data["start_at"] = form.start_at.data.replace(tzinfo=BUSINESS_TZ)
        data["end_at"] = form.end_at.data.replace(tzinfo=BUSINESS_TZ)
        if data["end_at"] <= data["start_at"]:
            flash(_("The end must be after the start."), "error")
            return redirect(url_for("console.session_page", session_id=session_id))
    try:
        review_session(_principal(), session, data)
    except AppError as error:
        db.session.rollback()
        flash(_(error.detail), "error")
        return redirect(url_for("console.session_page", session_id=session_id), 303)
    flash(_("Saved."), "ok")
    return redirect(url_for("console.review_queue"))


@blp.app_context_processor
def console_globals():
    return {"sign_out_form": SignOutForm, "user": getattr(current_user, "user", None),
            "evidence_words": words.EVIDENCE, "flag_sentence": words.flag_sentence,
            # Session flags no event carries (the events' own are shown with them).
            "writer_flags": WRITER_FLAGS}
