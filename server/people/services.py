"""Creating people and moving them between branches."""
from __future__ import annotations

from datetime import date, timedelta

from server.audit.services import record_audit
from server.auth.policy import may_manage
from server.auth.principal import Principal
from server.common.lookup import apply_changes, ensure_code_free, reference
from server.errors import Forbidden, ValidationFailed
from server.extensions import db
from server.org.models import Area, Membership, Organisation
from server.people.models import Person
from sync.timeutil import local_today


def mask_phone(phone: str | None) -> str | None:
    """Keep the first three and last four digits (``138****5678``)."""
    if not phone:
        return None
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


def create_person(principal: Principal, data: dict) -> Person:
    """:raise Forbidden: the branch is outside the caller's scope, or none was given
        by a non-administrator (an unattached person would be invisible to them)."""
    branch = reference(Organisation, data.get("branch"), "branch", "organisation")
    if not principal.is_admin and (branch is None or not may_manage(principal, branch)):
        raise Forbidden("You may add people only to organisations in your scope.")
    ensure_code_free(Person, data["code"], "person")
    person = Person(code=data["code"], name=data["name"], kind=data["kind"],
                    phone_masked=mask_phone(data.get("phone")),
                    volunteer_number=data.get("volunteer_number"),
                    home_area=reference(Area, data.get("home_area"), "home_area", "area"))
    if branch is not None:
        person.memberships.append(Membership(organisation=branch,
                                             started_on=data.get("branch_since") or local_today()))
    db.session.add(person)
    record_audit(principal.actor, "create_person", "person", person.code)
    from server.checkins.reprocess import reprocess_waiting_for
    db.session.flush()
    reprocess_waiting_for("person", person.code)
    return person


def update_person(principal: Principal, person: Person, data: dict) -> Person:
    if not may_manage(principal, person):
        raise Forbidden()
    changes = {}
    if "branch" in data:
        changes.update(_move_branch(principal, person, data.pop("branch"),
                                    data.pop("branch_since", None)))
    data.pop("branch_since", None)
    if "phone" in data:
        data["phone_masked"] = mask_phone(data.pop("phone"))
    if "home_area" in data:
        data["home_area"] = reference(Area, data["home_area"], "home_area", "area")
    changes.update(apply_changes(person, data))
    if "home_area" in changes:
        changes["home_area"] = [getattr(v, "code", v) for v in changes["home_area"]]
    record_audit(principal.actor, "update_person", "person", person.code, changes=changes)
    return person


def _move_branch(principal: Principal, person: Person, branch_code: str | None,
                 since: date | None) -> dict:
    """End the current membership the day before ``since`` (today if None)
    and start the new one; for the current branch, correct when its
    membership began (``_correct_start``)."""
    branch = reference(Organisation, branch_code, "branch", "organisation")
    current = person.current_branch
    if branch is current:
        return _correct_start(person, since) if branch is not None and since else {}
    since = since or local_today()
    if branch is not None and not may_manage(principal, branch):
        raise Forbidden("You may not move people into that organisation.")
    for membership in person.memberships:
        if membership.ended_on is None:
            if since <= membership.started_on:
                raise ValidationFailed("The move must start after the current membership.",
                                       {"branch_since": ["before the current membership"]})
            membership.ended_on = since - timedelta(days=1)
    if branch is not None:
        person.memberships.append(Membership(organisation=branch, started_on=since))
    # The one writer attributes the person's sessions from ``since`` on
    # again, under the person lock (a re-pairing at the same time cannot
    # write the old branch back).
    from server.pairing.days import day_start
    from server.pairing.writer import Touched, rewrite
    rewrite({person.id: Touched(day_start(since), None)})
    return {"branch": [current.code if current else None, branch.code if branch else None]}


def _correct_start(person: Person, since: date) -> dict:
    """The same branch with another ``branch_since``: when the current
    membership began is corrected (a person added without it belongs from
    the day they were added, so their earlier scans had no branch). Not back
    into the membership before it, nor into the future; the person's
    sessions from the earlier of the two dates on are attributed again.

    :raise ValidationFailed: the new start overlaps the membership before, or
        lies in the future.
    """
    current = max((m for m in person.memberships if m.ended_on is None),
                  key=lambda m: (m.started_on, m.id or 0))
    if since == current.started_on:
        return {}
    before = [m.ended_on for m in person.memberships
              if m is not current and m.ended_on is not None and m.ended_on >= since]
    if before:
        raise ValidationFailed("The membership would overlap the one before it.",
                               {"branch_since": [f"after {max(before)}"]})
    if since > local_today():
        raise ValidationFailed("A membership cannot begin in the future.",
                               {"branch_since": ["in the future"]})
    earliest = min(since, current.started_on)
    was = current.started_on
    current.started_on = since
    from server.pairing.days import day_start
    from server.pairing.writer import Touched, rewrite
    rewrite({person.id: Touched(day_start(earliest), None)})
    return {"branch_since": [was.isoformat(), since.isoformat()]}
