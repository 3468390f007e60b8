"""Checking well-formed events against reference data: who, where, what, when.

Used by a push and by every replay of a quarantined event, so an event is
judged by the same rules whenever it is judged.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from flask import current_app
from sqlalchemy import select

from server.common.rawsql import RawSql, in_values
from server.devices.models import Device
from server.devices.scope import DeviceScope
from server.displays.services import display_keys_for
from server.extensions import db
from server.org.models import Membership, Organisation
from server.qr.keys import verifying_keys
from sync.clock import effective_time
from sync.evidence import classify
from sync.protocol import (BAD_DISPLAY_CODE, CLOCK_CORRECTED, CODE_FAR_AWAY,
                           DISPLAY_CODE_EXPIRED, LATE_UPLOAD, OUTSIDE_GEOFENCE, REVOKED_QR,
                           UNSIGNED_SCAN, EventRejected, PushedEvent, haversine_m)
from sync.qr import (INSIDE, DisplayCode, QrInvalid, StationCode, display_of, is_display_url,
                     judge_display_code, parse_display_url, verify_display_url,
                     verify_station_url)


class PersonRow(NamedTuple):
    id: int
    code: str


class StationRow(NamedTuple):
    id: int
    code: str
    status: str
    qr_version: int
    latitude: float | None
    longitude: float | None
    geofence_radius_m: int
    #: Path of the hosting organisation, None without one.
    host_path: str | None


class ActivityRow(NamedTuple):
    id: int
    code: str


@dataclass
class Context:
    """What judging a set of events needs, loaded once for the set.

    Plain rows, not ORM objects: a batch names hundreds of people, and
    building and reading mapped objects for them cost more than the look-up.
    """

    device: Device
    received_at: datetime
    clock_offset_s: float
    batch_id: str
    people: dict[str, PersonRow]
    stations: dict[str, StationRow]
    activities: dict[str, ActivityRow]
    keys: dict[str, bytes]
    scope: DeviceScope
    #: Person id to their current branch's path, when the scope needs it.
    branch_paths: dict[int, str]
    #: Each distinct scanned text verified once per batch: the code, or why not.
    verified_qr: dict[str, StationCode | DisplayCode | BadDisplayCode | QrInvalid]
    #: ``effective_at`` must lie in [earliest, latest]; the clock tolerance.
    earliest: datetime
    latest: datetime
    clock_tolerance_s: float
    #: A personal phone's scan this much older than its arrival waits for review.
    late_after: timedelta
    #: A personal phone's signed code scanned this far (metres) beyond the
    #: station is flagged ``code_far_away``; 0: never (FRAUD_SHARED_CODE_M).
    shared_code_m: float = 0


def _current_branch_paths(person_ids: list[int]) -> dict[int, str]:
    """Person id to the path of their current branch (``Person.current_branch``:
    the open membership that started last)."""
    found: dict[int, str] = {}
    for start in range(0, len(person_ids), 500):
        for person_id, path in db.session.execute(
                select(Membership.person_id, Organisation.path)
                .join(Organisation, Organisation.id == Membership.organisation_id)
                .where(in_values(Membership.person_id, person_ids[start:start + 500]),
                       Membership.ended_on.is_(None))
                .order_by(Membership.started_on, Membership.id)):
            found[person_id] = path
    return found


def load_context(device: Device, events: list[PushedEvent], received_at: datetime,
                 clock_offset_s: float, batch_id: str) -> Context:
    config = current_app.config
    station_codes = {e.station for e in events if e.station}
    texts = {e.qr for e in events if e.qr}
    keys = verifying_keys() if texts else {}
    # One query, and none without display codes in the batch.
    display_keys = display_keys_for({d for d in map(display_of, texts) if d})
    verified: dict[str, StationCode | DisplayCode | BadDisplayCode | QrInvalid] = {}
    for text in texts:
        verified[text] = code = _verified(text, keys, display_keys)
        if not isinstance(code, QrInvalid):
            station_codes.add(code.station)
    raw = RawSql(db.session.connection())
    people = _by_code(raw, PersonRow, _PEOPLE_SQL, "code", {e.person for e in events})
    stations = _by_code(raw, StationRow, _STATIONS_SQL, "s.code", station_codes)
    activities = _by_code(raw, ActivityRow, _ACTIVITIES_SQL, "code",
                          {e.activity for e in events if e.activity})
    scope = DeviceScope(device)
    return Context(
        device=device, received_at=received_at, clock_offset_s=clock_offset_s,
        batch_id=batch_id, people=people, stations=stations, activities=activities,
        keys=keys, scope=scope, branch_paths=(
            _current_branch_paths([p.id for p in people.values()])
            if scope.serves_organisations and scope.person_id is None else {}),
        verified_qr=verified,
        earliest=received_at - timedelta(days=config["MAX_EVENT_AGE_DAYS"]),
        latest=received_at + timedelta(seconds=config["FUTURE_TOLERANCE_S"]),
        clock_tolerance_s=config["CLOCK_TOLERANCE_S"],
        late_after=timedelta(days=config["LATE_SCAN_REVIEW_DAYS"]),
        shared_code_m=config["FRAUD_SHARED_CODE_M"])


class BadDisplayCode(NamedTuple):
    """A display's code that does not verify (``unknown_display``,
    ``bad_signature``, ``wrong_station``, ``revoked_display``): the scan is
    kept at the station its URL names, flagged, and proves nothing."""
    station: str
    reason: str


def _verified(text: str, keys: dict, display_keys: dict):
    """A scanned text, verified: a poster's code, a display's code, a display
    code that fails (kept, flagged), or why it is no station code at all."""
    if not is_display_url(text):
        try:
            return verify_station_url(text, keys)
        except QrInvalid as invalid:
            return invalid
    try:
        return verify_display_url(text, display_keys)
    except QrInvalid as invalid:
        if invalid.code == "bad_qr":
            return invalid
        code, _ = parse_display_url(text)
        return BadDisplayCode(code.station, invalid.code)


# Driver-level statements: built through SQLAlchemy, these three cost more
# in Python than on the server (load_context: 8.4 ms a batch, ~3.5 of them
# waiting for PostgreSQL). Columns in each row type's order, the code
# second; {codes} is replaced by RawSql.text_in.
_PEOPLE_SQL = "SELECT id, code FROM person WHERE {codes}"
_STATIONS_SQL = ("SELECT s.id, s.code, s.status, s.qr_version, s.latitude, s.longitude, "
                 "s.geofence_radius_m, host.path FROM station AS s "
                 "LEFT JOIN organisation AS host ON host.id = s.host_organisation_id "
                 "WHERE {codes}")
_ACTIVITIES_SQL = "SELECT id, code FROM activity WHERE {codes}"


def _by_code(raw: RawSql, row_type, sql: str, column: str, codes: set[str]) -> dict:
    found = {}
    codes = sorted(codes)
    for start in range(0, len(codes), 500):
        condition, params = raw.text_in(column, codes[start:start + 500])
        for row in raw.fetch_unprepared(sql.format(codes=condition), params):
            found[row[1]] = row_type._make(row)
    return found


def resolve_event(event: PushedEvent, raw_json: str, content_hash: str, ctx: Context) -> dict:
    """The checkin_event row for an event that counts.

    :raise EventRejected: with the stable reason it cannot count (yet).
    """
    station_code, qr_version, flags = event.station, None, set()
    code = None
    if event.qr is not None:
        code = ctx.verified_qr[event.qr]
        if isinstance(code, QrInvalid):
            raise EventRejected(code.code, code.message)
        if event.station is not None and event.station != code.station:
            raise EventRejected("station_mismatch",
                                f"station {event.station!r} differs from the scanned code")
        station_code = code.station
        if isinstance(code, StationCode):
            qr_version = code.version
        elif isinstance(code, BadDisplayCode):
            flags.add(BAD_DISPLAY_CODE)

    station = ctx.stations.get(station_code)
    if station is None:
        raise EventRejected("unknown_station", f"no station {station_code!r}", station_code)
    person = ctx.people.get(event.person)
    if person is None:
        raise EventRejected("unknown_person", f"no person {event.person!r}", event.person)
    activity = None
    if event.activity is not None:
        activity = ctx.activities.get(event.activity)
        if activity is None:
            raise EventRejected("unknown_activity", f"no activity {event.activity!r}",
                                event.activity)
    if not ctx.scope.records(person.id, ctx.branch_paths.get(person.id), station.id,
                             station.host_path):
        raise EventRejected("out_of_scope", "the station or person is outside this device's scope")

    try:
        effective_at, corrected = effective_time(event.occurred_at, ctx.clock_offset_s,
                                                 ctx.clock_tolerance_s)
    except OverflowError:
        # A device clock near year 1 or 9999 shifts the scan off the calendar.
        raise EventRejected("time_out_of_range",
                            "occurred_at corrected by the clock offset is not a date")
    if effective_at > ctx.latest or effective_at < ctx.earliest:
        raise EventRejected("time_out_of_range",
                            f"occurred_at {event.occurred_at.isoformat()} is too far from now")
    if corrected:
        flags.add(CLOCK_CORRECTED)
    personal_phone = ctx.device.person_id is not None
    if station.status == "retired" or (qr_version is not None
                                       and qr_version < station.qr_version):
        flags.add(REVOKED_QR)
    distance = None
    if event.location is not None and station.latitude is not None \
            and station.longitude is not None:
        distance = round(haversine_m(event.location.lat, event.location.lng,
                                     station.latitude, station.longitude), 1)
        if distance > station.geofence_radius_m:
            flags.add(OUTSIDE_GEOFENCE)
    location = event.location
    # What proves the person was there (sync/evidence.py), and the policy
    # on personal phones (docs/trust.md): a scan without the station's
    # signed code, or one that arrives long after it was made, waits for a
    # reviewer. Stored and paired all the same.
    display_inside = False
    if isinstance(code, DisplayCode):
        # Shown at the station within the code's 30 s window (widened by the
        # clock tolerance), or a code carried away from it.
        display_inside = judge_display_code(code, effective_at,
                                            ctx.clock_tolerance_s) == INSIDE
        if not display_inside:
            flags.add(DISPLAY_CODE_EXPIRED)
    signed = qr_version is not None or isinstance(code, DisplayCode)
    evidence = classify(
        own_station_device=not personal_phone and station.id in ctx.scope.station_ids,
        display_code_inside=display_inside, signed_code=qr_version is not None,
        location_inside=(distance is not None and distance <= station.geofence_radius_m
                         and location.accuracy_m is not None
                         and location.accuracy_m <= station.geofence_radius_m))
    if personal_phone:
        if not signed:
            flags.add(UNSIGNED_SCAN)
        elif _far_from_station(distance, location, ctx.shared_code_m):
            flags.add(CODE_FAR_AWAY)
        if ctx.received_at - effective_at > ctx.late_after:
            flags.add(LATE_UPLOAD)
    return {
        "event_id": event.id, "device_id": ctx.device.id, "batch_id": ctx.batch_id,
        "seq": event.seq, "type": event.type, "person_id": person.id,
        "station_id": station.id, "activity_id": activity.id if activity else None,
        "qr_version": qr_version, "occurred_at": event.occurred_at,
        "effective_at": effective_at, "received_at": ctx.received_at,
        "clock_offset_s": ctx.clock_offset_s,
        "latitude": location.lat if location else None,
        "longitude": location.lng if location else None,
        "accuracy_m": location.accuracy_m if location else None,
        "distance_m": distance, "flags": ",".join(sorted(flags)), "evidence": evidence,
        "content_hash": content_hash, "raw": raw_json,
    }


def _far_from_station(distance: float | None, location, limit_m: float) -> bool:
    """The scan's location fix lies more than ``limit_m`` beyond the station
    even if it is off by its whole stated accuracy: a signed code that a
    personal phone scanned there is a photo of the poster (sync/fraud.py).
    A coarse fix (a phone located by the cell tower) proves nothing."""
    if not limit_m or distance is None:
        return False
    return distance - (location.accuracy_m or 0) > limit_m
