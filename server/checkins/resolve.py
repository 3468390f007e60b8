"""Checking well-formed events against reference data: who, where, what, when.

Used by a push and by every replay of a quarantined event, so an event is
judged by the same rules whenever it is judged.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from server.activities.models import Activity
from server.common.rawsql import in_values
from server.devices.models import Device
from server.extensions import db
from server.people.models import Person
from server.qr.keys import verifying_keys
from server.stations.models import Station
from sync.clock import effective_time
from sync.protocol import (CLOCK_CORRECTED, OUTSIDE_GEOFENCE, REVOKED_QR, EventRejected,
                           PushedEvent, haversine_m)
from sync.qr import QrInvalid, StationCode, verify_station_url


@dataclass
class Context:
    """What judging a set of events needs, loaded once for the set."""

    device: Device
    received_at: datetime
    clock_offset_s: float
    batch_id: str
    people: dict[str, Person]
    stations: dict[str, Station]
    activities: dict[str, Activity]
    keys: dict[str, bytes]
    scope: DeviceScope
    #: Each distinct scanned text verified once per batch: the code, or why not.
    verified_qr: dict[str, StationCode | QrInvalid]


class DeviceScope:
    """Which stations and people a device may record for."""

    def __init__(self, device: Device):
        self.device = device
        self.station_ids = {s.id for s in device.stations}
        self.organisation_paths = [o.path for o in device.organisations]

    def allows(self, person: Person, station: Station) -> bool:
        if self.device.person_id is not None:
            return person.id == self.device.person_id
        if station.id in self.station_ids:
            return True
        if not self.organisation_paths:
            return False
        host = station.host_organisation
        if host is not None and any(host.path.startswith(p) for p in self.organisation_paths):
            return True
        branch = person.current_branch
        return branch is not None and any(branch.path.startswith(p)
                                          for p in self.organisation_paths)


def load_context(device: Device, events: list[PushedEvent], received_at: datetime,
                 clock_offset_s: float, batch_id: str) -> Context:
    station_codes = {e.station for e in events if e.station}
    keys = verifying_keys() if any(e.qr for e in events) else {}
    verified: dict[str, StationCode | QrInvalid] = {}
    for event in events:
        if event.qr and event.qr not in verified:
            try:
                verified[event.qr] = verify_station_url(event.qr, keys)
                station_codes.add(verified[event.qr].station)
            except QrInvalid as invalid:
                verified[event.qr] = invalid
    return Context(
        device=device, received_at=received_at, clock_offset_s=clock_offset_s,
        batch_id=batch_id,
        people=_by_code(Person, {e.person for e in events}),
        stations=_by_code(Station, station_codes),
        activities=_by_code(Activity, {e.activity for e in events if e.activity}),
        keys=keys, scope=DeviceScope(device), verified_qr=verified)


def _by_code(model, codes: set[str]) -> dict:
    found = {}
    codes = sorted(codes)
    for start in range(0, len(codes), 500):
        for obj in db.session.scalars(select(model).where(in_values(model.code, codes[start:start + 500]))):
            found[obj.code] = obj
    return found


def resolve_event(event: PushedEvent, raw_json: str, content_hash: str, ctx: Context) -> dict:
    """The checkin_event row for an event that counts.

    :raise EventRejected: with the stable reason it cannot count (yet).
    """
    config = current_app.config
    station_code, qr_version, flags = event.station, None, set()
    if event.qr is not None:
        code = ctx.verified_qr[event.qr]
        if isinstance(code, QrInvalid):
            raise EventRejected(code.code, code.message)
        if event.station is not None and event.station != code.station:
            raise EventRejected("station_mismatch",
                                f"station {event.station!r} differs from the scanned code")
        station_code, qr_version = code.station, code.version

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
    if not ctx.scope.allows(person, station):
        raise EventRejected("out_of_scope", "the station or person is outside this device's scope")

    effective_at, corrected = effective_time(event.occurred_at, ctx.clock_offset_s,
                                             config["CLOCK_TOLERANCE_S"])
    if (effective_at > ctx.received_at + timedelta(seconds=config["FUTURE_TOLERANCE_S"])
            or effective_at < ctx.received_at - timedelta(days=config["MAX_EVENT_AGE_DAYS"])):
        raise EventRejected("time_out_of_range",
                            f"occurred_at {event.occurred_at.isoformat()} is too far from now")
    if corrected:
        flags.add(CLOCK_CORRECTED)
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
        "distance_m": distance, "flags": ",".join(sorted(flags)),
        "content_hash": content_hash, "raw": raw_json,
    }
