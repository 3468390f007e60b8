"""Applying the limits of a day (sync/daily_limit.py) to stored sessions.

After every re-pairing and every review, the days they wrote are weighed
whole: the limits depend on all of a day's sessions, and a re-pairing window
may begin or end mid-day. Only the days that may be over are read.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import NamedTuple

from flask import current_app

from server.common.rawsql import RawSql, read_date, update_rows
from server.db_types import utcnow
from server.extensions import db
from server.service_sessions.history_reads import kinds, latest_reviews, tails
from server.service_sessions.models import ServiceSession
from server.service_sessions.status import AMENDED, APPROVED, REJECTED, judge
from sync.daily_limit import DaySession, over_daily_limit
from sync.pairing import OK
from sync.timeutil import BUSINESS_TZ


class _Span(NamedTuple):
    start: datetime
    stop: datetime


def review_long_days(days: dict[int, set[date]]) -> None:
    """Apply the daily limits (sync/daily_limit.py) to whole stored days.

    Runs after every re-pairing, on each day it wrote: the limit depends on
    all the day's sessions, and a window may begin or end mid-day. Each
    session's judged columns are written again where the limit changes them
    (re-pairing writes them as if no limit applied).
    """
    db.session.flush()  # the reads below are driver-level: they see only what is flushed
    limit = current_app.config["DAILY_REVIEW_S"]
    pairs = current_app.config["DAILY_PAIRS_PER_ACTIVITY"]
    heavy = _days_that_may_be_over({p: d for p, d in days.items() if d}, limit, pairs)
    if not heavy:
        return
    windows = {p: _Span(_day_start(min(ds)), _day_start(max(ds) + timedelta(days=1))
                        - timedelta(microseconds=1)) for p, ds in heavy.items()}
    by_day: dict[tuple[int, date], list] = {}
    for row in tails("service_session", "key_at", windows, _DAY_COLUMNS):
        if row.local_date in heavy[row.person_id]:
            by_day.setdefault((row.person_id, row.local_date), []).append(row)
    day_rows = [r for day in by_day.values() for r in day]
    reviews = latest_reviews([r.key_event_id for r in day_rows])
    over = set()
    for day in by_day.values():
        over |= over_daily_limit((_day_session(r, reviews.get(r.key_event_id)) for r in day),
                                 limit, pairs)
    updates = []
    for r in day_rows:
        flag = r.key_event_id in over
        judged = judge(r.derived_status, r.derived_start_at, r.derived_end_at,
                       reviews.get(r.key_event_id), flag)
        now = (flag, judged.status, judged.start_at, judged.end_at, judged.review_stale,
               judged.credited_seconds, judged.pending_seconds)
        if now != (bool(r.over_daily_limit), r.status, r.start_at, r.end_at,
                   bool(r.review_stale), r.credited_seconds, r.pending_seconds):
            updates.append({"id": r.id, "over_daily_limit": flag, "status": judged.status,
                            "start_at": judged.start_at, "end_at": judged.end_at,
                            "review_stale": judged.review_stale,
                            "credited_seconds": judged.credited_seconds,
                            "pending_seconds": judged.pending_seconds, "updated_at": utcnow()})
    if updates:
        update_rows(db.session.connection(), ServiceSession.__table__, updates)


_DAY_COLUMNS = kinds(("id", "person_id", "local_date", "key_event_id", "key_at",
                      "activity_id", "derived_status", "derived_start_at", "derived_end_at",
                      "over_daily_limit", "status", "start_at", "end_at", "review_stale",
                      "credited_seconds", "pending_seconds"))


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), BUSINESS_TZ)


def _days_that_may_be_over(days: dict[int, set[date]], limit: int,
                           pairs: int) -> dict[int, set[date]]:
    """Of ``days``, those whose sessions the limits may change: a flag is set,
    what the day credits or holds pending exceeds the hours limit, or more
    sessions name an activity than one activity may have pairs (bounds on
    what the rule adds up). Most days are none of these; reading every touched
    day's sessions after every batch cost four devices pushing at once a
    quarter of their rate. One statement of indexed range look-ups on
    ``(person_id, key_at)``, as ``tails`` reads."""
    if not days:
        return {}
    raw = RawSql(db.session.connection())
    source, params = raw.person_times(
        [(p, _day_start(min(ds)), _day_start(max(ds) + timedelta(days=1)))
         for p, ds in days.items()], ("t", "hi"))
    having = "MAX(CASE WHEN x.over_daily_limit THEN 1 ELSE 0 END) = 1"
    if limit > 0:
        having += f" OR SUM(x.credited_seconds + x.pending_seconds) > {int(limit)}"
    if pairs > 0:
        having += f" OR COUNT(x.activity_id) > {int(pairs)}"
    if raw.sqlite:
        sessions = (f"{source} JOIN service_session x ON x.person_id = w.pid "
                    "AND x.key_at >= w.t AND x.key_at < w.hi")
    else:  # as in _tails: one index range per person
        sessions = (f"{source} CROSS JOIN LATERAL (SELECT * FROM service_session y "
                    "WHERE y.person_id = w.pid AND y.key_at >= w.t AND y.key_at < w.hi "
                    "OFFSET 0) AS x")
    found: dict[int, set[date]] = {}
    for person_id, day in raw.fetch(f"SELECT x.person_id, x.local_date FROM {sessions} "
                                    f"GROUP BY x.person_id, x.local_date HAVING {having}",
                                    params):
        day = read_date(day)
        if day in days[person_id]:
            found.setdefault(person_id, set()).add(day)
    return found


def _day_session(row, review) -> DaySession:
    """A stored session as the daily limit weighs it."""
    unlimited = judge(row.derived_status, row.derived_start_at, row.derived_end_at, review)
    reviewed = unlimited.status in (APPROVED, AMENDED, REJECTED)
    return DaySession(row.key_event_id, row.key_at,
                      unlimited.credited_seconds if row.derived_status == OK else 0,
                      unlimited.credited_seconds if reviewed else None, row.activity_id)
