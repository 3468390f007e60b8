"""Attendance of a meeting against the branch roster (三会一课, 主题党日).

Expected: the members of the activity's organisation subtree on the meeting's
local date. Present: expected people with a session linked to the activity
(named in the scan, or a check-in at its station in its time window); late
when the first check-in is more than GRACE after the planned start. On
leave: marked by the secretary with a reason. Absent: the rest. A meeting is
quorate when more than half of the expected are present; an election needs
more than four fifths.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import and_, or_, select

from server.activities.models import MEETING_KINDS, Activity, AttendanceLeave
from server.audit.services import record_audit
from server.auth.policy import may_manage
from server.auth.principal import Principal
from server.common.lookup import reference
from server.errors import Forbidden, ValidationFailed
from server.extensions import db
from server.org.models import Membership, Organisation
from server.people.models import Person
from server.service_sessions.models import ServiceSession, counted
from sync.timeutil import BUSINESS_TZ, local_date

#: Arriving later than this after the planned start counts as late.
GRACE = timedelta(minutes=10)


def roster_on(organisation: Organisation, day) -> list[Person]:
    """Members of ``organisation``'s subtree on a local date."""
    return list(db.session.scalars(
        select(Person).join(Membership, Membership.person_id == Person.id)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(Organisation.path.startswith(organisation.path, autoescape=True),
               Membership.started_on <= day,
               or_(Membership.ended_on.is_(None), Membership.ended_on >= day))
        .order_by(Person.code).distinct()))


def attendance(activity: Activity) -> dict:
    day = local_date(activity.planned_start_at)
    roster = roster_on(activity.organisation, day)
    arrivals: dict[int, object] = {}
    for person_id, start_at in db.session.execute(
            select(ServiceSession.person_id, ServiceSession.derived_start_at)
            .where(ServiceSession.activity_id == activity.id,
                   counted(),
                   ServiceSession.derived_start_at.is_not(None))):
        if person_id not in arrivals or start_at < arrivals[person_id]:
            arrivals[person_id] = start_at
    leaves = {leave.person_id: leave for leave in db.session.scalars(
        select(AttendanceLeave).where(AttendanceLeave.activity_id == activity.id))}
    expected_ids = {p.id for p in roster}
    rows = []
    for person in roster:
        arrived = arrivals.get(person.id)
        if arrived is not None:
            state = "late" if arrived > activity.planned_start_at + GRACE else "present"
        elif person.id in leaves:
            state = "on_leave"
        else:
            state = "absent"
        rows.append({"person": person.code, "name": person.name, "state": state,
                     "arrived_at": arrived,
                     "leave_reason": leaves[person.id].reason if person.id in leaves else None})
    visitors = [p for p in db.session.scalars(select(Person).where(
        Person.id.in_([pid for pid in arrivals if pid not in expected_ids])))]
    counts = {state: sum(1 for r in rows if r["state"] == state)
              for state in ("present", "late", "on_leave", "absent")}
    attended = counts["present"] + counts["late"]
    expected = len(rows)
    election = activity.kind == "election"
    quorate = expected > 0 and (attended * 5 > expected * 4 if election
                                else attended * 2 > expected)
    return {"activity": activity.code, "title": activity.title, "kind": activity.kind,
            "organisation": activity.organisation.code, "date": day,
            "planned_start_at": activity.planned_start_at, "expected": expected,
            **counts, "attendance_rate": round(attended / expected, 4) if expected else None,
            "quorum_rule": "more_than_four_fifths" if election else "more_than_half",
            "quorate": quorate, "people": rows,
            "visitors": [{"person": p.code, "name": p.name} for p in visitors]}


def mark_leave(principal: Principal, activity: Activity, person_code: str, reason: str):
    """Excuse a member from a meeting; a second mark replaces the reason.

    :raise Forbidden: the activity is outside the caller's scope.
    :raise ValidationFailed: ``not_on_roster``.
    """
    if not may_manage(principal, activity):
        raise Forbidden()
    person = reference(Person, person_code, "person", "person")
    day = local_date(activity.planned_start_at)
    if person.id not in {p.id for p in roster_on(activity.organisation, day)}:
        raise ValidationFailed("The person is not on this meeting's roster.",
                               {"person": ["not on the roster"]}, code="not_on_roster")
    leave = db.session.scalar(select(AttendanceLeave).where(and_(
        AttendanceLeave.activity_id == activity.id, AttendanceLeave.person_id == person.id)))
    if leave is None:
        leave = AttendanceLeave(activity_id=activity.id, person_id=person.id, reason=reason,
                                marked_by=principal.actor)
        db.session.add(leave)
    else:
        leave.reason, leave.marked_by = reason, principal.actor
    record_audit(principal.actor, "mark_leave", "activity", activity.code,
                 changes={"person": [None, person.code]}, reason=reason)
    return leave


def meetings_in_period(branch: Organisation, start, end) -> list[dict]:
    """Each meeting the branch subtree held in the period, with its figures."""
    low = datetime.combine(start, time.min, BUSINESS_TZ)
    high = datetime.combine(end + timedelta(days=1), time.min, BUSINESS_TZ)
    activities = db.session.scalars(
        select(Activity).join(Organisation, Organisation.id == Activity.organisation_id)
        .where(Organisation.path.startswith(branch.path, autoescape=True),
               Activity.kind.in_(MEETING_KINDS), Activity.planned_start_at >= low,
               Activity.planned_start_at < high).order_by(Activity.planned_start_at))
    summaries = []
    for activity in activities:
        sheet = attendance(activity)
        summaries.append({k: v for k, v in sheet.items() if k not in ("people", "visitors")})
    return summaries
