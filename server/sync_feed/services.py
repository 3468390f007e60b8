"""``pull_changes``: the reference data a device needs offline, as pages of changes.

The cursor is the seq of the last change a device has processed; changes
are numbered in commit order (see tracking.py), so reading ``seq > cursor``
never skips one. A page carries the current state of each object that
changed: in scope and active, it is sent whole; otherwise as a deletion.
"""
from __future__ import annotations

import base64
import binascii
import json
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from server.activities.models import Activity
from server.common.rawsql import in_values
from server.db_types import utcnow
from server.devices.models import Device
from server.displays.models import StationDisplay
from server.errors import AppError
from server.extensions import db
from server.org.models import Membership, Organisation
from server.people.models import Person
from server.qr.models import SigningKey
from server.stations.models import Station
from server.sync_feed.models import SyncChange
from sync.qr import b64url
from sync.timeutil import format_rfc3339

#: Activities that ended longer ago than this are not sent to devices.
ACTIVITY_HORIZON = timedelta(days=30)
DEFAULT_LIMIT = 500
SEEN_REFRESH = timedelta(minutes=10)


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"v": 1, "seq": seq}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """:raise AppError: ``invalid_cursor`` (400) for anything not issued by us."""
    if not cursor:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        seq = data["seq"]
        if data.get("v") != 1 or type(seq) is not int or seq < 0:
            raise ValueError
        return seq
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise AppError("invalid_cursor", "The cursor is not one this server issued.",
                       status=400)


class PullScope:
    """What one device may pull: its stations and people, their activities."""

    def __init__(self, device: Device):
        # Everything read of the device is read here: a scope taken before a
        # change still answers for the scope before it (note_scope_change).
        self.device = device
        self.station_ids = {s.id for s in device.stations}
        self.device_org_ids = {o.id for o in device.organisations}
        org_paths = [o.path for o in device.organisations]
        org_paths += [s.host_organisation.path for s in device.stations if s.host_organisation]
        self.organisation_paths = org_paths

    def _org_ids(self) -> set[int]:
        if not self.organisation_paths:
            return set()
        from sqlalchemy import or_
        return set(db.session.scalars(select(Organisation.id).where(or_(
            *(Organisation.path.startswith(p, autoescape=True)
              for p in self.organisation_paths)))))

    def load(self, codes_by_entity: dict[str, set[str]]):
        """Current objects for the changed codes, each with whether it is in scope."""
        org_ids = self._org_ids()
        out = {}
        codes = codes_by_entity.get("station")
        if codes:
            for station in db.session.scalars(
                    select(Station).where(in_values(Station.code, codes))):
                out[("station", station.code)] = (station, self._has_station(station, org_ids))
        codes = codes_by_entity.get("person")
        if codes:
            people = list(db.session.scalars(select(Person).where(in_values(Person.code, codes))))
            branches = _current_branches([p.id for p in people])
            for person in people:
                branch = branches.get(person.id)
                if self.device.person_id is not None:
                    in_scope = person.id == self.device.person_id
                else:
                    in_scope = branch is not None and branch[0] in org_ids
                out[("person", person.code)] = ((person, branch[1] if branch else None),
                                                in_scope and person.active)
        codes = codes_by_entity.get("activity")
        if codes:
            horizon = utcnow() - ACTIVITY_HORIZON
            for activity in db.session.scalars(select(Activity).where(
                    in_values(Activity.code, codes))):
                in_scope = (activity.station_id in self.station_ids
                            or activity.organisation_id in org_ids)
                out[("activity", activity.code)] = (
                    activity, in_scope and activity.planned_end_at >= horizon)
        codes = codes_by_entity.get("signing_key")
        if codes:
            for key in db.session.scalars(select(SigningKey).where(
                    in_values(SigningKey.key_id, codes))):
                out[("signing_key", key.key_id)] = (key, True)
        codes = codes_by_entity.get("display")
        if codes:
            # A display's key goes wherever its station goes, while it is not revoked.
            for display, station in db.session.execute(
                    select(StationDisplay, Station)
                    .join(Station, Station.id == StationDisplay.station_id)
                    .where(in_values(StationDisplay.code, codes))):
                out[("display", display.code)] = (
                    (display, station.code),
                    display.revoked_at is None and self._has_station(station, org_ids))
        return out

    def _has_station(self, station: Station, org_ids: set[int]) -> bool:
        if self.device.person_id is not None:
            # A personal phone checks in at any active station.
            return station.status == "active"
        return (station.id in self.station_ids
                or (station.host_organisation_id in org_ids and bool(self.device_org_ids)))


def note_scope_change(before: PullScope, device: Device) -> int:
    """Note for pull every object that entered or left ``device``'s scope
    since ``before`` was taken: the change log is what devices pull, and a
    scope change changes no object. Each is then sent whole, or as a
    deletion, to whoever pulls it next (other devices get it again, which
    changes nothing for them). Returns how many were noted."""
    from server.sync_feed.tracking import note_for_pull
    after = PullScope(device)
    candidates = _scope_candidates(before, after)
    was, now = before.load(candidates), after.load(candidates)
    moved = {key for key in was.keys() | now.keys()
             if was.get(key, (None, False))[1] != now.get(key, (None, False))[1]}
    note_for_pull(moved)
    return len(moved)


def _scope_candidates(*scopes: PullScope) -> dict[str, set[str]]:
    """Codes of every station, person, activity and display any of ``scopes`` could hold."""
    station_ids = set().union(*(s.station_ids for s in scopes))
    org_ids = set().union(*(s._org_ids() for s in scopes))
    stations = set(db.session.scalars(select(Station.code).where(
        in_values(Station.id, station_ids) | in_values(Station.host_organisation_id, org_ids))))
    people = set(db.session.scalars(select(Person.code).join(
        Membership, Membership.person_id == Person.id).where(
        in_values(Membership.organisation_id, org_ids), Membership.ended_on.is_(None))))
    activities = set(db.session.scalars(select(Activity.code).where(
        in_values(Activity.station_id, station_ids)
        | in_values(Activity.organisation_id, org_ids))))
    displays = set(db.session.scalars(select(StationDisplay.code).join(
        Station, Station.id == StationDisplay.station_id).where(
        in_values(Station.id, station_ids) | in_values(Station.host_organisation_id, org_ids),
        StationDisplay.revoked_at.is_(None))))
    return {"station": stations, "person": people, "activity": activities,
            "display": displays}


def _current_branches(person_ids: list[int]) -> dict[int, tuple[int, str]]:
    if not person_ids:
        return {}
    rows = db.session.execute(
        select(Membership.person_id, Organisation.id, Organisation.code)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(in_values(Membership.person_id, person_ids), Membership.ended_on.is_(None)))
    return {r.person_id: (r.id, r.code) for r in rows}


def pull_changes(device: Device, cursor: str | None, limit: int | None) -> dict:
    """One page of changes after ``cursor`` for ``device``.

    :raise AppError: ``invalid_cursor`` (400).
    """
    after = decode_cursor(cursor)
    limit = max(1, min(limit or DEFAULT_LIMIT, current_app.config["PULL_MAX_LIMIT"]))
    _note_seen(device)
    rows = db.session.execute(select(SyncChange.seq, SyncChange.entity, SyncChange.code)
                              .where(SyncChange.seq > after).order_by(SyncChange.seq)
                              .limit(limit + 1)).all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    codes: dict[str, set[str]] = {}
    for row in rows:
        codes.setdefault(row.entity, set()).add(row.code)
    current = PullScope(device).load(codes)

    page = {"stations": [], "people": [], "activities": [], "signing_keys": [], "displays": [],
            "deletions": []}
    seen = set()
    for row in rows:
        key = (row.entity, row.code)
        if key in seen:
            continue
        seen.add(key)
        obj, in_scope = current.get(key, (None, False))
        if obj is None or not in_scope:
            page["deletions"].append({"type": row.entity, "code": row.code})
            continue
        if row.entity == "station":
            page["stations"].append(_station(obj))
        elif row.entity == "person":
            page["people"].append(_person(*obj))
        elif row.entity == "activity":
            page["activities"].append(_activity(obj))
        elif row.entity == "display":
            page["displays"].append(_display(*obj))
        else:
            page["signing_keys"].append(_key(obj))
    next_seq = rows[-1].seq if rows else after
    return {"cursor": encode_cursor(next_seq), "has_more": has_more,
            "server_time": format_rfc3339(utcnow()), **page}


def _note_seen(device: Device) -> None:
    """Refresh last_seen_at, at most every few minutes, in a short
    transaction of its own.

    The pull's own transaction stays a read: on SQLite a read transaction
    cannot become a writer once another writer has committed since it
    began, so a pull that wrote after reading failed (503) under concurrent
    pushes. The refresh writes first and waits its turn on the busy timeout
    like any writer, and it is rare: a write on every pull would queue
    readers behind writers.
    """
    now = utcnow()
    if device.last_seen_at is not None and now - device.last_seen_at <= SEEN_REFRESH:
        return
    with db.engine.begin() as connection:
        connection.execute(update(Device).where(Device.id == device.id)
                           .values(last_seen_at=now))
    # The session's copy says the same, without a write of its own.
    set_committed_value(device, "last_seen_at", now)


def _station(s: Station) -> dict:
    return {"code": s.code, "name": s.name, "kind": s.kind, "address": s.address,
            "latitude": s.latitude, "longitude": s.longitude,
            "geofence_radius_m": s.geofence_radius_m, "opening_hours": s.opening_hours,
            "qr_version": s.qr_version, "status": s.status}


def _person(p: Person, branch_code: str | None) -> dict:
    return {"code": p.code, "name": p.name, "kind": p.kind, "branch": branch_code}


def _activity(a: Activity) -> dict:
    return {"code": a.code, "title": a.title, "kind": a.kind,
            "organisation": a.organisation.code,
            "station": a.station.code if a.station else None,
            "planned_start_at": format_rfc3339(a.planned_start_at),
            "planned_end_at": format_rfc3339(a.planned_end_at)}


def _key(k: SigningKey) -> dict:
    return {"key_id": k.key_id, "public_key": b64url(k.public_key), "active": k.active,
            "retired_at": format_rfc3339(k.retired_at) if k.retired_at else None}


def _display(d: StationDisplay, station_code: str) -> dict:
    return {"code": d.code, "station": station_code, "public_key": b64url(d.public_key)}
