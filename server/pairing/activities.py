"""Which activity a session attended when its scans named none."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from server.activities.models import Activity
from server.extensions import db

#: A check-in this long before an activity's planned start counts as attending it.
ACTIVITY_EARLY_GRACE = timedelta(minutes=30)


def infer_activities(sessions) -> dict[str, int]:
    """Session key to the activity at the session's station whose window
    (from ``ACTIVITY_EARLY_GRACE`` before its planned start to its planned
    end) holds the session's start; the earliest planned one if several do."""
    needing = [s for s in sessions if s.activity is None and s.start_at is not None]
    if not needing:
        return {}
    stations = {s.station for s in needing}
    low = min(s.start_at for s in needing) - timedelta(days=1)
    high = max(s.start_at for s in needing) + ACTIVITY_EARLY_GRACE
    candidates = db.session.execute(
        select(Activity.id, Activity.station_id, Activity.planned_start_at,
               Activity.planned_end_at)
        .where(Activity.station_id.in_(stations), Activity.planned_end_at >= low,
               Activity.planned_start_at <= high)
        .order_by(Activity.planned_start_at)).all()
    found = {}
    for session in needing:
        for activity in candidates:
            if (activity.station_id == session.station
                    and activity.planned_start_at - ACTIVITY_EARLY_GRACE <= session.start_at
                    <= activity.planned_end_at):
                found[session.key_event_id] = activity.id
                break
    return found
