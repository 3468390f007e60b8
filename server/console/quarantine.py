"""The quarantine for administrators: scans that reached the server but
cannot count yet, with what each waits for, and a way to repair and replay
or dismiss it. The same services as ``/api/v1/quarantine``, on the trail."""
from __future__ import annotations

import json

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from server.checkins import reprocess
from server.checkins.models import (QUARANTINE_OPEN, QUARANTINE_REASONS, QUARANTINE_STATUSES,
                                    CheckinEvent, QuarantinedEvent)
from server.console.paging import window
from server.console.routes import PAGE_SIZE, _principal, blp
from server.errors import AppError
from server.extensions import db

#: A scan's text is shown (and offered for correction) up to this length: a
#: device may send an event of up to PUSH_MAX_BYTES, and a page holds 50.
SHOWN_CHARS = 10_000


def _administrator():
    principal = _principal()
    if not principal.is_admin:
        abort(403)
    return principal


def _filters(source, prefix: str = "") -> dict:
    """The list's status and reason from ``source``, unknown values dropped."""
    status = source.get(f"{prefix}status")
    reason = source.get(f"{prefix}reason")
    return {"status": status if status in QUARANTINE_STATUSES else "waiting",
            "reason": reason if reason in QUARANTINE_REASONS else None}


@blp.get("/quarantine")
@login_required
def quarantine():
    _administrator()
    filters = _filters(request.args)
    page = window(reprocess.listing(filters["status"], filters["reason"]),
                  request.args.get("page", 1, type=int), PAGE_SIZE)
    return render_template("console/quarantine.html", page=page, **filters,
                           statuses=QUARANTINE_STATUSES, reasons=QUARANTINE_REASONS,
                           open_statuses=QUARANTINE_OPEN, readable=_readable,
                           shown_chars=SHOWN_CHARS, counted=_counted_versions(page.items))


def _counted_versions(entries: list[QuarantinedEvent]) -> dict[str, str]:
    """The counted event's text by id, for entries whose id already counts:
    a conflict (same id, other content) beside the version that counts. Such
    an entry cannot count itself; it can only be dismissed."""
    ids = [e.event_id for e in entries if e.event_id is not None]
    return dict(db.session.execute(select(CheckinEvent.event_id, CheckinEvent.raw)
                                   .where(CheckinEvent.event_id.in_(ids))).all()) if ids else {}


def _as_sent(raw: str):
    """The stored event as JSON, or None when what was sent is not JSON."""
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _readable(raw: str) -> str:
    """The event as sent, indented when it is JSON (a malformed one may not
    be); cut at SHOWN_CHARS."""
    if len(raw) > SHOWN_CHARS:
        return raw[:SHOWN_CHARS] + "\n… " + _("(%(n)s characters more)", n=len(raw) - SHOWN_CHARS)
    parsed = _as_sent(raw)
    return raw if parsed is None else json.dumps(parsed, ensure_ascii=False, indent=2)


def _entry(entry_id: int) -> QuarantinedEvent:
    entry = db.session.get(QuarantinedEvent, entry_id)
    if entry is None:
        abort(404)
    return entry


def _back():
    """To the list the form was sent from (its filters ride along as list_*)."""
    return redirect(url_for("console.quarantine", **_filters(request.form, "list_")))


# Entry numbers are 32-bit on PostgreSQL: a larger one is no entry (404).
@blp.post("/quarantine/<int(max=2147483647):entry_id>/replay")
@login_required
def quarantine_replay(entry_id: int):
    """Replay as stored, or as the administrator corrected the text."""
    principal = _administrator()
    entry = _entry(entry_id)
    text = request.form.get("event", "").strip()
    repaired = None
    if text:
        try:
            repaired = json.loads(text)
        except ValueError:
            repaired = None
        if not isinstance(repaired, dict):
            flash(_("The corrected scan is not a JSON object; nothing was changed."), "error")
            return _back()
        if repaired == _as_sent(entry.raw):
            repaired = None  # unchanged: replayed as the device sent it
    try:
        counts = reprocess.replay_for_administrator(entry, principal.actor, repaired)
    except AppError as error:
        db.session.rollback()
        flash(_(error.detail), "error")
        return _back()
    if counts:
        flash(_("Scan #%(n)s counts now.", n=entry.id), "ok")
    else:
        flash(_("Scan #%(n)s still cannot count: %(reason)s (%(message)s)", n=entry.id,
                reason=_(entry.reason), message=entry.message), "error")
    return _back()


@blp.post("/quarantine/<int(max=2147483647):entry_id>/dismiss")
@login_required
def quarantine_dismiss(entry_id: int):
    principal = _administrator()
    entry = _entry(entry_id)
    reason = request.form.get("reason", "").strip()[:500]
    if not reason:
        flash(_("Please give a reason."), "error")
        return _back()
    try:
        reprocess.dismiss_for_administrator(entry, principal.actor, reason)
    except AppError as error:
        db.session.rollback()
        flash(_(error.detail), "error")
        return _back()
    flash(_("Scan #%(n)s dismissed; it stays on record.", n=entry.id), "ok")
    return _back()
