"""The daily limits on what is credited without review (docs/domain.md, rule 3:
"credit up to 8 h per person per day at once, send 8–12 h to the
organisation for approval ...; at most 3 check-in/out pairs per person per
activity per day").

A pure function over one person's sessions of one local day, in time
order. Hours a reviewer credited (approved or amended) count towards the
day, and so do the pairs they stand for; every session that pairing alone
would credit (``ok``) waits for review from the first that takes the day
past the hours limit, or that is the fourth (or later) pair of its activity
that day. Sessions that wait for review anyway (``too_long``, flagged,
without an end) count nothing until reviewed.
"""
from __future__ import annotations

from datetime import datetime
from typing import Hashable, Iterable, NamedTuple


class DaySession(NamedTuple):
    key_event_id: str
    key_at: datetime
    #: Seconds pairing alone would credit: an ``ok`` session's length, else 0.
    unreviewed_s: int
    #: Seconds a review that applies credits (0 for a rejection); None: no review.
    reviewed_s: int | None
    #: The activity it attended, if any.
    activity: Hashable | None = None


def over_daily_limit(day: Iterable[DaySession], limit_s: int,
                     pairs_per_activity: int = 0) -> set[str]:
    """The ids of the day's unreviewed ``ok`` sessions past ``limit_s`` seconds,
    or past ``pairs_per_activity`` pairs of one activity (0: no such limit)."""
    total, over = 0, set()
    pairs: dict = {}
    for session in sorted(day, key=lambda s: (s.key_at, s.key_event_id)):
        if session.reviewed_s is not None:
            total += session.reviewed_s
            if session.reviewed_s and session.activity is not None:
                pairs[session.activity] = pairs.get(session.activity, 0) + 1
        elif session.unreviewed_s:
            total += session.unreviewed_s
            if session.activity is not None:
                pairs[session.activity] = pairs.get(session.activity, 0) + 1
            if (0 < limit_s < total) or (session.activity is not None
                                         and 0 < pairs_per_activity
                                         < pairs[session.activity]):
                over.add(session.key_event_id)
    return over
