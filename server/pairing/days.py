"""Judging a person's day: what pairing derived, what reviewers decided, the
limits of a day and sessions at once at two stations, together, so each
session is written once.

The limits (sync/daily_limit.py; docs/pairing.md, "Limits of a day") and
overlapping sessions (sync/fraud.py) depend on all of a day's sessions, so
whoever changes one session of a day has the whole day judged again; the
writer (server/pairing/writer.py) does this for every day it touches.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import NamedTuple

from flask import current_app

from server.service_sessions.status import AMENDED, APPROVED, REJECTED, Judged, judge
from sync import fraud
from sync.daily_limit import DaySession, over_daily_limit
from sync.pairing import OK
from sync.timeutil import BUSINESS_TZ


class DayEntry(NamedTuple):
    """One session of a day as the judgement needs it: the derived columns
    (new from pairing, or as stored) and the review that may apply."""
    key_event_id: str
    key_at: datetime
    activity_id: int | None
    derived_status: str
    derived_start_at: datetime | None
    derived_end_at: datetime | None
    review: object | None
    #: The person belonged to no branch that day: no organisation certifies
    #: it until a reviewer does (or the membership's start is corrected).
    unattributed: bool = False
    #: Entered afterwards (补录): its credit is the entry's, once approved.
    entered: bool = False
    station_id: int | None = None
    #: Flagged ``impossible_travel`` by the writer (server/pairing/travel.py).
    impossible_travel: bool = False


class Verdict(NamedTuple):
    judged: Judged
    over_daily_limit: bool
    #: Flag ``overlapping_sessions``: at two stations at once (sync/fraud.py).
    overlapping: bool = False


def judge_day(entries: list[DayEntry]) -> dict[str, Verdict]:
    """Each session of one person's local day, judged: its status and seconds
    after review; and whether the limits of the day, impossible travel or
    another session at once elsewhere send it to review."""
    config = current_app.config
    # What pairing and the reviews alone give: the times after review, and
    # what the limits weigh.
    unheld = {e.key_event_id: judge(e.derived_status, e.derived_start_at, e.derived_end_at,
                                    e.review) for e in entries}
    over = over_daily_limit((_weighed(e, unheld[e.key_event_id]) for e in entries),
                            config["DAILY_REVIEW_S"], config["DAILY_PAIRS_PER_ACTIVITY"])
    overlapping = fraud.overlapping_sessions(
        (fraud.DaySession(e.key_event_id, e.key_at, e.station_id, j.start_at, j.end_at,
                          j.status == REJECTED)
         for e in entries for j in (unheld[e.key_event_id],)),
        timedelta(seconds=config["MAX_SESSION_S"]))
    verdicts = {}
    for e in entries:
        flag = e.key_event_id in over
        overlaps = e.key_event_id in overlapping
        verdicts[e.key_event_id] = Verdict(
            judge(e.derived_status, e.derived_start_at, e.derived_end_at, e.review,
                  held=flag or e.unattributed or e.impossible_travel or overlaps,
                  entered=e.entered), flag, overlaps)
    return verdicts


def _weighed(entry: DayEntry, unlimited: Judged) -> DaySession:
    """A session as the limits weigh it: what pairing alone would credit, and
    what a review that applies credits (``unlimited``: judged without the
    limits)."""
    reviewed = unlimited.status in (APPROVED, AMENDED, REJECTED)
    return DaySession(entry.key_event_id, entry.key_at,
                      unlimited.credited_seconds if entry.derived_status == OK else 0,
                      unlimited.credited_seconds if reviewed else None, entry.activity_id)


def day_start(day: date) -> datetime:
    """The first instant of a local (Asia/Shanghai) date."""
    return datetime.combine(day, time(0), BUSINESS_TZ)


def day_end(day: date) -> datetime:
    """The last instant (to the microsecond) of a local date."""
    return day_start(day + timedelta(days=1)) - timedelta(microseconds=1)
