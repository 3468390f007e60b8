"""Planning activities."""
from __future__ import annotations

from server.activities.models import Activity
from server.audit.services import record_audit
from server.auth.policy import may_manage
from server.auth.principal import Principal
from server.common.lookup import apply_changes, ensure_code_free, reference
from server.errors import Forbidden, ValidationFailed
from server.extensions import db
from server.org.models import Organisation
from server.stations.models import Station


def create_activity(principal: Principal, data: dict) -> Activity:
    """:raise Forbidden: the organisation is outside the caller's scope."""
    data = dict(data)
    data["organisation"] = reference(Organisation, data["organisation"], "organisation",
                                     "organisation")
    data["station"] = reference(Station, data.get("station"), "station", "station")
    if not may_manage(principal, data["organisation"]):
        raise Forbidden("You may plan activities only for organisations in your scope.")
    ensure_code_free(Activity, data["code"], "activity")
    activity = Activity(**data)
    db.session.add(activity)
    record_audit(principal.actor, "create_activity", "activity", activity.code)
    from server.checkins.reprocess import reprocess_waiting_for
    db.session.flush()
    reprocess_waiting_for("activity", activity.code)
    return activity


def update_activity(principal: Principal, activity: Activity, data: dict) -> Activity:
    if not may_manage(principal, activity):
        raise Forbidden()
    data = dict(data)
    if "station" in data:
        data["station"] = reference(Station, data["station"], "station", "station")
    changes = apply_changes(activity, data)
    if activity.planned_end_at <= activity.planned_start_at:
        raise ValidationFailed("The activity must end after it starts.",
                               {"planned_end_at": ["must be after planned_start_at"]})
    if "station" in changes:
        changes["station"] = [getattr(v, "code", v) for v in changes["station"]]
    record_audit(principal.actor, "update_activity", "activity", activity.code, changes=changes)
    return activity
