"""Impossible travel, judged by the one writer over the scans it re-pairs
(sync/fraud.py has the rule; docs/pairing.md, section 4).

Every scan of a session lies at its station, so a pair of consecutive
scans at two stations is always the last scan of one session and the
first of the next. A session is flagged ``impossible_travel`` when the
pair that enters it or the pair that leaves it is impossible. Re-pairing
a window rewrites its sessions, so the writer must know:

- the pair entering the window's first session: its earlier scan lies
  before the window. That pair never changes (the changes lie after the
  session's start), so the session's stored flag says whether it may be
  impossible, and only then is the scan before the window read;
- the pair entering the stored session at the window's stop (which the new
  pairing meets and leaves as stored): new scans just before it change
  that pair, and so that session's flag. It is set when the new pair is
  impossible; when it was flagged and the new pair is not, its other pair
  decides, so that person is re-paired to the end of their history, as
  when the pairings do not meet (server/pairing/windows.py).

So the stored flags equal a judgement of every person's whole history
(tests/test_incremental_sessions.py checks it), for a read of the
stations' coordinates per chunk of people and, rarely, one more.
"""
from __future__ import annotations

from typing import NamedTuple

from flask import current_app

from server.common.rawsql import RawSql, read_time
from server.extensions import db
from server.pairing.windows import END, Repairing, pair_windows
from sync.fraud import IMPOSSIBLE_TRAVEL, Scan, TravelRules, impossible_travel
from sync.pairing import PairingRules


class Travel(NamedTuple):
    """What the writer needs: the derived sessions (key event ids) to flag,
    and the stored sessions at windows' stops whose flag changes, by
    person, with the flag they must have."""
    flagged: set[str]
    stops: dict[int, tuple[object, bool]]


def travel_rules() -> TravelRules:
    config = current_app.config
    return TravelRules(min_distance_m=config["FRAUD_TRAVEL_MIN_M"],
                       max_speed_kmh=config["FRAUD_MAX_SPEED_KMH"])


def judge_travel(repairing: Repairing, pairing: PairingRules) -> tuple[Repairing, Travel]:
    """The impossible-travel flags of what ``repairing`` re-paired, and the
    repairing itself, re-paired to the end of history for the people whose
    stop session cannot be judged from the window alone."""
    rules = travel_rules()
    if rules.max_speed_kmh <= 0:
        return repairing, Travel(set(), {})
    scans = {p: _in_order(repairing, p) for p in repairing.derived}
    stored = {r.key_event_id: r for r in repairing.replaced}
    # The window's first session, flagged: its entering pair may be the cause.
    before_window = _scans_before({p: s[0] for p, s in scans.items() if s and _flagged(
        stored.get(s[0].id))})
    coordinates = _coordinates({scan.station for person_scans in scans.values()
                                for scan in person_scans}
                               | {scan.station for scan in before_window.values()})
    flagged_scans: set[str] = set()
    stops: dict[int, tuple[object, bool]] = {}
    unsure = []
    for person_id, person_scans in scans.items():
        if person_id in before_window:
            person_scans = [before_window[person_id], *person_scans]
        found = impossible_travel(person_scans, coordinates, rules)
        flagged_scans |= found
        stop = repairing.stops.get(person_id)
        if stop is None:
            continue
        entering = stop.key_event_id in found
        if _flagged(stop) and not entering:
            unsure.append(person_id)
        elif entering and not _flagged(stop):
            stops[person_id] = (stop, True)
    if unsure:
        return judge_travel(_to_the_end(repairing, unsure, pairing), pairing)
    flagged = {s.key_event_id for sessions in repairing.derived.values() for s in sessions
               if _holds_any(s, flagged_scans)}
    return repairing, Travel(flagged, stops)


def _in_order(repairing: Repairing, person_id: int) -> list[Scan]:
    """The person's scans paired in the window, up to and including the
    first scan of the stored session at its stop, in pairing's order."""
    scans = sorted((Scan(e.id, e.station, e.effective_at)
                    for e in repairing.events.get(person_id, ())),
                   key=lambda s: (s.at, s.id))
    stop = repairing.stops.get(person_id)
    if stop is not None:
        last = (stop.key_at, stop.key_event_id)
        scans = [s for s in scans if (s.at, s.id) <= last]
    return scans


def _flagged(row) -> bool:
    return row is not None and IMPOSSIBLE_TRAVEL in row.flags.split(",")


def _holds_any(session, scan_ids: set[str]) -> bool:
    return (session.checkin_id in scan_ids or session.checkout_id in scan_ids
            or any(i in scan_ids for i in session.repeat_ids))


def _to_the_end(repairing: Repairing, people: list[int], pairing: PairingRules) -> Repairing:
    """``repairing`` with ``people`` re-paired from their window's start to
    the end of their history."""
    more = pair_windows({p: repairing.windows[p]._replace(stop=END) for p in people}, pairing)
    gone = set(people)
    return Repairing(
        derived={**{p: s for p, s in repairing.derived.items() if p not in gone},
                 **more.derived},
        replaced=[r for r in repairing.replaced if r.person_id not in gone] + more.replaced,
        windows={**repairing.windows, **more.windows},
        evidence={**repairing.evidence, **more.evidence},
        events={**repairing.events, **more.events},
        stops={p: s for p, s in repairing.stops.items() if p not in gone})


def _scans_before(firsts: dict[int, Scan]) -> dict[int, Scan]:
    """Per person, the scan just before ``firsts[person]`` in pairing's
    ``(effective_at, id)`` order, if any: one statement of an index probe
    on ``(person_id, effective_at)`` per person."""
    if not firsts:
        return {}
    raw = RawSql(db.session.connection())
    people = sorted(firsts)
    times = [raw.time_param(firsts[p].at) for p in people]
    keys = [firsts[p].id for p in people]
    before = ("FROM checkin_event e WHERE e.person_id = w.pid AND e.effective_at <= w.t "
              "AND (e.effective_at < w.t OR e.event_id < w.k) "
              "ORDER BY e.effective_at DESC, e.event_id DESC LIMIT 1")
    if raw.sqlite:
        import json
        source = ("(SELECT value ->> 0 AS pid, value ->> 1 AS t, value ->> 2 AS k "
                  "FROM json_each(?)) AS w")
        params = [json.dumps([list(row) for row in zip(people, times, keys)])]
        sql = (f"SELECT w.pid, x.event_id, x.station_id, x.effective_at FROM {source} "
               f"JOIN checkin_event x ON x.id = (SELECT e.id {before})")
    else:
        source = "unnest(%s::int[], %s::timestamp[], %s::varchar[]) AS w(pid, t, k)"
        params = [people, times, keys]
        sql = (f"SELECT w.pid, x.event_id, x.station_id, x.effective_at FROM {source} "
               f"CROSS JOIN LATERAL (SELECT e.event_id, e.station_id, e.effective_at "
               f"{before}) AS x")
    return {int(person_id): Scan(event_id, station_id, read_time(at))
            for person_id, event_id, station_id, at in raw.fetch(sql, params)}


def _coordinates(station_ids: set) -> dict[int, tuple[float, float]]:
    """Latitude and longitude of the stations that have them: one statement."""
    if not station_ids:
        return {}
    raw = RawSql(db.session.connection())
    ids, params = raw.id_list(sorted(station_ids))
    return {station_id: (latitude, longitude) for station_id, latitude, longitude in raw.fetch(
        f"SELECT id, latitude, longitude FROM station WHERE id IN {ids} "
        "AND latitude IS NOT NULL AND longitude IS NOT NULL", params)}
