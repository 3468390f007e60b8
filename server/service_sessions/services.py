"""Reviewing sessions: approve, reject, amend, with the trail kept."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import func, select

from server.audit.services import record_audit
from server.auth.policy import may_manage
from server.auth.principal import Principal
from server.errors import AppError, Forbidden, NotFound
from server.extensions import db
from server.pairing.writer import Touched, lock_people, rewrite
from server.service_sessions.models import Review, ServiceSession
from server.service_sessions.retroactive import refuse_self_certification
from server.service_sessions.status import judge


def session_by_id(key_event_id: str) -> ServiceSession:
    session = db.session.scalar(select(ServiceSession).where(
        ServiceSession.key_event_id == key_event_id))
    if session is None:
        raise NotFound("session", key_event_id)
    return session


def may_review(principal: Principal, session: ServiceSession) -> bool:
    """Whoever manages the session's branch (on its date) may judge it; a
    session of a person who had no branch that day, whoever manages the
    person now (they can also correct when the membership began)."""
    if session.branch is not None:
        return may_manage(principal, session.branch)
    return may_manage(principal, session.person)


def review_session(principal: Principal, session: ServiceSession, data: dict) -> ServiceSession:
    """Record a decision; the original derived times stay, the review is added.

    :raise Forbidden: the session's branch is outside the caller's scope.
    :raise AppError: ``self_certification`` (403): approving or amending a
        retroactive entry the caller made; ``needs_higher_approval`` (403):
        crediting the person more than ``MAX_SESSION_S`` on one day, unless
        the caller manages above the branch.
    """
    if not may_review(principal, session):
        raise Forbidden("You may review only sessions of your own organisations.")
    # The person lock before the session is read again: a re-pairing of this
    # person either committed before (the decision is taken on what it
    # wrote) or waits for the decision (and then applies it).
    lock_people([session.person_id])
    session = _reread(session)
    refuse_self_certification(principal, session, data["decision"])
    review = Review(key_event_id=session.key_event_id, decision=data["decision"],
                    amended_start_at=data.get("start_at"), amended_end_at=data.get("end_at"),
                    reason=data.get("reason"), user_id=principal.user.id,
                    based_on_start_at=session.derived_start_at,
                    based_on_end_at=session.derived_end_at)
    judged = judge(session.derived_status, session.derived_start_at, session.derived_end_at,
                   review, held=session.over_daily_limit or session.branch_id is None)
    if _day_credited_with(session, judged.credited_seconds) > current_app.config[
            "MAX_SESSION_S"] and not _manages_above(principal, session.branch):
        raise AppError("needs_higher_approval",
                       "Crediting more than 12 hours of one person's day is approved above "
                       "the branch (its committee, or the district).", status=403,
                       limit_seconds=current_app.config["MAX_SESSION_S"])
    db.session.add(review)
    before = (session.status, session.start_at, session.end_at)
    # The one writer judges the session's day again with the decision (it
    # changes what the day has credited, and so the limits of the day).
    rewrite({session.person_id: Touched(session.key_at, session.key_at)})
    session = _reread(session)
    record_audit(principal.actor, f"review_session_{data['decision']}", "session",
                 session.key_event_id, reason=data.get("reason"), changes={
                     "status": [before[0], session.status],
                     "start_at": [_iso(before[1]), _iso(session.start_at)],
                     "end_at": [_iso(before[2]), _iso(session.end_at)]})
    return session


def _reread(session: ServiceSession) -> ServiceSession:
    """The session as stored now (a re-pairing may have changed it).

    :raise NotFound: re-pairing merged it into another session.
    """
    key = session.key_event_id
    found = db.session.scalar(select(ServiceSession).where(
        ServiceSession.key_event_id == key).execution_options(populate_existing=True))
    if found is None:
        raise NotFound("session", key)
    return found


def _day_credited_with(session: ServiceSession, credited_seconds: int) -> int:
    """The person's credited seconds on the session's day if it credited
    ``credited_seconds`` (0 when it credits nothing: rejecting needs no one above)."""
    if credited_seconds == 0:
        return 0
    others = db.session.scalar(select(func.coalesce(func.sum(ServiceSession.credited_seconds), 0))
                               .where(ServiceSession.person_id == session.person_id,
                                      ServiceSession.local_date == session.local_date,
                                      ServiceSession.id != session.id))
    return others + credited_seconds


def _manages_above(principal: Principal, branch) -> bool:
    """Whether ``principal`` manages what lies above ``branch``: its parent
    organisation, or (for a top-level one) its area; administrators always do.
    docs/domain.md, rule 3: "more than 12 hours ... higher up"."""
    if principal.is_admin:
        return True
    if branch.parent is not None:
        return may_manage(principal, branch.parent)
    return principal.covers_area_path(branch.area.path if branch.area else None)


def _iso(value):
    return value.isoformat() if value else None
