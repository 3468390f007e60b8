"""Volunteers' own phones: invitation codes, enrolment, and what they see of themselves."""
from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import func, select

from server.audit.services import record_audit
from server.auth.policy import may_manage
from server.auth.principal import Principal
from server.auth.tokens import hash_token
from server.db_types import utcnow
from server.devices.services import create_personal_device
from server.errors import AppError, Forbidden
from server.extensions import db
from server.people.models import Person, PersonInvitation
from server.people.star_levels import standings
from server.service_sessions.models import ServiceSession, counted
from sync.timeutil import local_today

INVITATION_TTL = timedelta(days=3)


def invite(principal: Principal, person: Person) -> tuple[str, PersonInvitation]:
    """A fresh eight-digit code for ``person``; earlier unused codes stop working."""
    if not may_manage(principal, person):
        raise Forbidden()
    for old in db.session.scalars(select(PersonInvitation).where(
            PersonInvitation.person_id == person.id, PersonInvitation.used_at.is_(None))):
        old.used_at = utcnow()
    code = f"{secrets.randbelow(10**8):08d}"
    invitation = PersonInvitation(person_id=person.id,
                                  code_hash=hash_token(f"{person.code}:{code}"),
                                  expires_at=utcnow() + INVITATION_TTL, created_by=principal.actor)
    db.session.add(invitation)
    record_audit(principal.actor, "invite_volunteer", "person", person.code)
    return code, invitation


def enrol_phone(person_code: str, code: str) -> tuple[Person, str]:
    """Exchange a person code and one-time code for a personal device token.

    :raise AppError: ``invalid_invitation`` (401) for a wrong, used or expired code.
    """
    person = db.session.scalar(select(Person).where(Person.code == person_code))
    invitation = None if person is None else db.session.scalar(
        select(PersonInvitation).where(
            PersonInvitation.person_id == person.id,
            PersonInvitation.code_hash == hash_token(f"{person_code}:{code}"),
            PersonInvitation.used_at.is_(None)).with_for_update())
    if invitation is None or invitation.expires_at <= utcnow() or not person.active:
        raise AppError("invalid_invitation", "The person code or one-time code is wrong, used "
                       "or expired.", status=401)
    invitation.used_at = utcnow()
    count = db.session.scalar(select(func.count()).select_from(PersonInvitation).where(
        PersonInvitation.person_id == person.id))
    _, token = create_personal_device(person, f"PHONE-{person.code}-{count}",
                                      f"person:{person.code}")
    return person, token


def my_summary(person: Person) -> dict:
    """Recent sessions and this month's hours, for the volunteer's own page."""
    today = local_today()
    first = today.replace(day=1)
    credited, pending = db.session.execute(
        select(func.coalesce(func.sum(ServiceSession.credited_seconds), 0),
               func.coalesce(func.sum(ServiceSession.pending_seconds), 0))
        .where(ServiceSession.person_id == person.id, ServiceSession.local_date >= first,
               counted())).one()
    recent = db.session.scalars(select(ServiceSession).where(
        ServiceSession.person_id == person.id).order_by(ServiceSession.key_at.desc())
        .limit(10)).all()
    standing = standings([person.id])[person.id]
    return {"person": {"code": person.code, "name": person.name},
            "month": first.strftime("%Y-%m"), "credited_seconds": credited,
            "pending_seconds": pending, "credited_hours_total": standing.credited_hours,
            "star_level": standing.star_level, "hours_to_next_star": standing.hours_to_next,
            "recent": [{"id": s.key_event_id, "station": s.station.name,
                        "start_at": s.start_at, "end_at": s.end_at, "status": s.status,
                        "credited_seconds": s.credited_seconds, "evidence": s.evidence,
                        "flags": [f for f in s.flags.split(",") if f]
                        + (["over_daily_limit"] if s.over_daily_limit else [])}
                       for s in recent]}


def person_of_device(device) -> Person:
    """:raise Forbidden: the device is not a volunteer's own phone."""
    if device.person_id is None:
        raise Forbidden("This is not a personal device.")
    return db.session.get(Person, device.person_id)
