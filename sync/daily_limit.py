"""The daily limit on hours credited without review (design/domain.md:
"credit up to 8 h per person per day at once, send 8–12 h to the
organisation for approval").

A pure function over one person's sessions of one local day, in time
order: hours a reviewer credited (approved or amended) count towards the
day, and every session that pairing alone would credit (``ok``) from the
first that takes the day past the limit on waits for review. Sessions that
wait for review anyway (``too_long``, flagged, without an end) count nothing
until reviewed.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable, NamedTuple


class DaySession(NamedTuple):
    key_event_id: str
    key_at: datetime
    #: Seconds pairing alone would credit: an ``ok`` session's length, else 0.
    unreviewed_s: int
    #: Seconds a review that applies credits (0 for a rejection); None: no review.
    reviewed_s: int | None


def over_daily_limit(day: Iterable[DaySession], limit_s: int) -> set[str]:
    """The ids of the day's unreviewed ``ok`` sessions past ``limit_s`` (0: no limit)."""
    if limit_s <= 0:
        return set()
    total, over = 0, set()
    for session in sorted(day, key=lambda s: (s.key_at, s.key_event_id)):
        if session.reviewed_s is not None:
            total += session.reviewed_s
        elif session.unreviewed_s:
            total += session.unreviewed_s
            if total > limit_s:
                over.add(session.key_event_id)
    return over
