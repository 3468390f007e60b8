"""Patterns of faked hours that scans alone reveal (docs/pairing.md, section 4).

Pure functions over one person's scans or sessions; the server applies
them where it judges (impossible travel and overlapping sessions in the
one writer, server/pairing/fraud.py; the event flags in
server/checkins/resolve.py and ingest.py). Each pattern has a stable flag
code that sends the session to review:

- ``impossible_travel``: two consecutive scans of a person at stations
  farther apart than the time between them allows;
- ``overlapping_sessions``: one person in two sessions at once, at
  different stations;
- ``code_far_away``: a personal phone sent the station's printed signed
  code with a location fix far from the station (a photo of the poster
  scanned elsewhere);
- ``backfilled_days``: a personal phone sent, in one batch, late scans of
  several days at once.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Hashable, Iterable, NamedTuple, Sequence

from sync.protocol import (BACKFILLED_DAYS, CODE_FAR_AWAY, IMPOSSIBLE_TRAVEL,
                           OVERLAPPING_SESSIONS, haversine_m)
from sync.timeutil import local_date

__all__ = ["BACKFILLED_DAYS", "CODE_FAR_AWAY", "IMPOSSIBLE_TRAVEL", "OVERLAPPING_SESSIONS",
           "WRITER_FLAGS", "TravelRules", "Scan", "impossible_travel", "DaySession",
           "overlapping_sessions", "backfilled"]
#: Flags the one writer computes from a person's whole history (not from
#: one scan): stripped and computed afresh whenever it writes a session.
WRITER_FLAGS = (IMPOSSIBLE_TRAVEL, OVERLAPPING_SESSIONS)


class TravelRules(NamedTuple):
    #: Stations this close (metres) never count: neighbours, GPS noise.
    min_distance_m: float = 2000
    #: Faster than this (km/h) between two stations is impossible; 0: off.
    max_speed_kmh: float = 80


class Scan(NamedTuple):
    id: str
    station: Hashable
    at: datetime


def impossible_travel(scans: Sequence[Scan], coordinates: dict, rules: TravelRules) -> set[str]:
    """Ids of the scans in a consecutive pair that no one could travel.

    :param scans: one person's scans in pairing's ``(effective_at, id)`` order.
    :param coordinates: station to ``(latitude, longitude)``; a station
        missing here (or mapped to None) is never judged.
    A pair counts when its stations are more than ``min_distance_m`` apart
    and covering that distance in the time between the scans needs more
    than ``max_speed_kmh`` (two scans at one instant at such stations count).
    """
    found: set[str] = set()
    if rules.max_speed_kmh <= 0:
        return found
    max_speed_m_s = rules.max_speed_kmh / 3.6
    distances: dict = {}
    for before, after in zip(scans, scans[1:]):
        if before.station == after.station:
            continue
        pair = (before.station, after.station)
        distance = distances.get(pair)
        if distance is None:
            distance = distances[pair] = _distance(coordinates.get(before.station),
                                                   coordinates.get(after.station))
        if distance <= rules.min_distance_m:
            continue
        seconds = (after.at - before.at).total_seconds()
        if seconds <= 0 or distance / seconds > max_speed_m_s:
            found.add(before.id)
            found.add(after.id)
    return found


def _distance(a, b) -> float:
    """Metres between two coordinates; 0 (never counts) when one is unknown."""
    if a is None or b is None or None in a or None in b:
        return 0.0
    return haversine_m(a[0], a[1], b[0], b[1])


class DaySession(NamedTuple):
    """One session of a person's day as the overlap rule reads it: its
    times after review (``start``/``end``: None where it has none)."""
    key_event_id: str
    key_at: datetime
    station: Hashable
    start: datetime | None
    end: datetime | None
    #: A rejected session claims nothing.
    rejected: bool = False


def overlapping_sessions(day: Iterable[DaySession], longest: timedelta) -> set[str]:
    """Ids of the sessions of one person's day that place them at two
    stations at once.

    A session with a start and an end claims that span at its station. So
    does a check-in left without a check-out (a session with a start only)
    together with the next session at that station, when that is a lone
    check-out (an end only) at most ``longest`` later: what pairing leaves
    when two devices record one person at two stations at once (a check-in
    at A, a session at B, a check-out at A). Two claims at different
    stations whose spans overlap (touching ends do not) flag every
    session they are made of.
    """
    ordered = sorted((s for s in day if not s.rejected),
                     key=lambda s: (s.key_at, s.key_event_id))
    claims = [(s.start, s.end, s.station, (s.key_event_id,))
              for s in ordered if s.start is not None and s.end is not None]
    for n, opened in enumerate(ordered):
        if opened.start is None or opened.end is not None:
            continue
        following = next((s for s in ordered[n + 1:] if s.station == opened.station), None)
        if (following is not None and following.start is None and following.end is not None
                and opened.start < following.end <= opened.start + longest):
            claims.append((opened.start, following.end, opened.station,
                           (opened.key_event_id, following.key_event_id)))
    claims.sort(key=lambda c: c[0])
    found: set[str] = set()
    active: list = []
    for claim in claims:
        start, _, station, keys = claim
        active = [c for c in active if c[1] > start]
        for other in active:
            if other[2] != station and other[0] < claim[1]:
                found.update(keys)
                found.update(other[3])
        active.append(claim)
    return found


def backfilled(scan_times: Iterable[datetime], received_at: datetime, late_after: timedelta,
               min_days: int) -> bool:
    """Whether one batch of a personal phone is a backfill: scans of at
    least ``min_days`` distinct local dates, each older than ``late_after``
    on arrival (0 days: never)."""
    if min_days <= 0:
        return False
    days: set[date] = {local_date(at) for at in scan_times if received_at - at > late_after}
    return len(days) >= min_days
