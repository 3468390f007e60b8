"""Correction requests: volunteers ask from their phones, secretaries close them.

A request does not change any record by itself: the secretary checks it and
amends the session, enters the service after the fact (补录,
server/service_sessions/retroactive.py), or declines with an answer the
volunteer reads on their phone.
"""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from server.audit.services import record_audit
from server.auth.policy import may_manage, visible
from server.auth.principal import Principal
from server.common.lookup import by_code
from server.corrections.models import OPEN, CorrectionRequest
from server.db_types import utcnow
from server.devices.models import Device
from server.errors import AppError, Conflict, Forbidden, NotFound
from server.extensions import db
from server.people.models import Person
from server.service_sessions.models import ServiceSession
from server.stations.models import Station
from server.volunteer.services import person_of_device

#: Open requests one person may have at once: enough for a bad week, not a flood.
MAX_OPEN_PER_PERSON = 10


def submit(device: Device, data: dict) -> tuple[CorrectionRequest, bool]:
    """Store a request from a volunteer's own phone; ``(request, created)``.

    Sending the same ``id`` again returns the stored request (phones resend
    what they wrote offline until they hear an answer).

    :raise Forbidden: not a personal phone.
    :raise NotFound: a session that is not the person's, or an unknown station.
    :raise AppError: ``invalid_input`` (422), ``too_many_open_requests`` (409),
        ``id_reused`` (409: the id belongs to another person's request).
    """
    person = person_of_device(device)
    stored = db.session.scalar(select(CorrectionRequest).where(
        CorrectionRequest.request_id == data["id"]))
    if stored is not None:
        if stored.person_id != person.id:
            raise Conflict("id_reused", "This request id is taken.")
        return stored, False
    session = _own_session(person, data.get("session"))
    station = by_code(Station, data["station"]) if data.get("station") else None
    start, end = data.get("start_at"), data.get("end_at")
    if session is None and (station is None or start is None or end is None):
        raise AppError("invalid_input", "Name the session, or the station and when you served.",
                       status=422, errors={"session": ["or station, start_at and end_at"]})
    _check_times(start, end)
    open_now = db.session.scalar(select(func.count()).select_from(CorrectionRequest).where(
        CorrectionRequest.person_id == person.id, CorrectionRequest.status == OPEN))
    if open_now >= MAX_OPEN_PER_PERSON:
        raise Conflict("too_many_open_requests",
                       f"You have {open_now} requests waiting; wait for an answer first.")
    request = CorrectionRequest(
        request_id=data["id"], person_id=person.id, device_id=device.id,
        session_id=session.key_event_id if session else None,
        station_id=(station or session.station).id, start_at=start, end_at=end,
        message=data["message"].strip())
    db.session.add(request)
    db.session.flush()
    record_audit(f"device:{device.code}", "request_correction", "correction_request",
                 request.request_id)
    return request, True


def own_requests(device: Device, limit: int = 20) -> list[CorrectionRequest]:
    """The phone owner's latest requests, newest first."""
    person = person_of_device(device)
    return list(db.session.scalars(select(CorrectionRequest).where(
        CorrectionRequest.person_id == person.id)
        .order_by(CorrectionRequest.created_at.desc(), CorrectionRequest.id.desc())
        .limit(limit)))


def visible_requests(principal: Principal, status: str | None = OPEN):
    """Requests of the people ``principal`` may see, oldest open first, as a SELECT."""
    query = select(CorrectionRequest).join(Person, Person.id == CorrectionRequest.person_id) \
        .where(visible(principal, Person))
    if status:
        query = query.where(CorrectionRequest.status == status)
    return query.order_by(CorrectionRequest.created_at, CorrectionRequest.id)


def request_by_id(principal: Principal, request_id: str) -> CorrectionRequest:
    """:raise NotFound: no such request among the people the caller may see."""
    found = db.session.scalar(visible_requests(principal, status=None).where(
        CorrectionRequest.request_id == request_id))
    if found is None:
        raise NotFound("correction request", request_id)
    return found


def close(principal: Principal, request: CorrectionRequest, outcome: str,
          answer: str | None) -> CorrectionRequest:
    """Close an open request with what was done, on the audit trail.

    :raise Forbidden: the person is not one the caller manages.
    :raise AppError: ``not_open`` (409); ``invalid_input`` (422) for a
        decline without an answer.
    """
    if not may_manage(principal, request.person):
        raise Forbidden("You may answer only requests of your own organisations' members.")
    if request.status != OPEN:
        raise Conflict("not_open", "This request has been answered already.")
    answer = (answer or "").strip() or None
    if outcome == "declined" and answer is None:
        raise AppError("invalid_input", "A declined request needs an answer.", status=422,
                       errors={"answer": ["required when declining"]})
    request.status, request.answer = outcome, answer
    request.closed_at, request.closed_by_id = utcnow(), principal.user.id
    record_audit(principal.actor, f"close_correction_{outcome}", "correction_request",
                 request.request_id, reason=answer)
    return request


def _own_session(person: Person, session_id: str | None) -> ServiceSession | None:
    if not session_id:
        return None
    session = db.session.scalar(select(ServiceSession).where(
        ServiceSession.key_event_id == session_id, ServiceSession.person_id == person.id))
    if session is None:
        raise NotFound("session", session_id)
    return session


#: How far ahead of the server's clock a stated time may lie (a phone's clock
#: that runs fast, a form filled in just before the end of service).
FUTURE_SLACK = timedelta(hours=1)


def _check_times(start, end) -> None:
    problems = {}
    latest = utcnow() + FUTURE_SLACK
    for name, value in (("start_at", start), ("end_at", end)):
        if value is not None and value > latest:
            problems[name] = ["must not be in the future"]
    if start is not None and end is not None:
        if end <= start:
            problems.setdefault("end_at", []).append("must be after start_at")
        elif end - start > timedelta(seconds=current_app.config["MAX_SESSION_S"]):
            problems.setdefault("end_at", []).append("one request per day of service")
    if problems:
        raise AppError("invalid_input", "The times of this request do not fit.", status=422,
                       errors=problems)
