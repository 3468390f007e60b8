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
from server.devices.scope import DeviceScope
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
    """What one device may pull (``server.devices.scope.DeviceScope``, the
    rule the push applies too), and the current objects for changed codes."""

    def __init__(self, device: Device):
        # Everything read of the device is read here: a scope taken before a
        # change still answers for the scope before it (note_scope_change).
        self.device = device
        self.scope = DeviceScope(device)

    def load(self, codes_by_entity: dict[str, set[str]]):
        """Current objects for the changed codes, each with whether it is in scope."""
        scope = self.scope
        out = {}
        codes = codes_by_entity.get("station")
        if codes:
            for station, host_path in db.session.execute(_with_host_path(
                    select(Station, Organisation.path)).where(in_values(Station.code, codes))):
                out[("station", station.code)] = (station, scope.pulls_station(
                    station.id, host_path, station.status == "active"))
        codes = codes_by_entity.get("person")
        if codes:
            people = list(db.session.scalars(select(Person).where(in_values(Person.code, codes))))
            branches = _current_branches([p.id for p in people])
            for person in people:
                code, path = branches.get(person.id, (None, None))
                out[("person", person.code)] = (
                    (person, code), scope.pulls_person(person.id, path) and person.active)
        codes = codes_by_entity.get("activity")
        if codes:
            horizon = utcnow() - ACTIVITY_HORIZON
            for activity, organisation_path in db.session.execute(
                    select(Activity, Organisation.path)
                    .outerjoin(Organisation, Organisation.id == Activity.organisation_id)
                    .where(in_values(Activity.code, codes))):
                out[("activity", activity.code)] = (
                    activity, scope.pulls_activity(activity.station_id, organisation_path)
                    and activity.planned_end_at >= horizon)
        codes = codes_by_entity.get("signing_key")
        if codes:
            for key in db.session.scalars(select(SigningKey).where(
                    in_values(SigningKey.key_id, codes))):
                out[("signing_key", key.key_id)] = (key, True)
        codes = codes_by_entity.get("display")
        if codes:
            # A display's key goes wherever its station goes, while it is not revoked.
            for display, station, host_path in db.session.execute(_with_host_path(
                    select(StationDisplay, Station, Organisation.path)
                    .join(Station, Station.id == StationDisplay.station_id))
                    .where(in_values(StationDisplay.code, codes))):
                out[("display", display.code)] = (
                    (display, station.code),
                    display.revoked_at is None and scope.pulls_station(
                        station.id, host_path, station.status == "active"))
        return out


def _with_host_path(query):
    return query.outerjoin(Organisation, Organisation.id == Station.host_organisation_id)


def _under_any(column, paths: list[str]):
    from sqlalchemy import false, or_
    return or_(*(column.startswith(p, autoescape=True) for p in paths)) if paths else false()


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
    station_ids = set().union(*(s.scope.station_ids for s in scopes))
    hosting = [p for s in scopes for p in s.scope.organisation_paths]
    pulled = [p for s in scopes for p in s.scope.pulled_organisation_paths()]
    hosted = select(Organisation.id).where(_under_any(Organisation.path, hosting))
    served = select(Organisation.id).where(_under_any(Organisation.path, pulled))
    stations_in = in_values(Station.id, station_ids) | Station.host_organisation_id.in_(hosted)
    stations = set(db.session.scalars(select(Station.code).where(stations_in)))
    people = set(db.session.scalars(select(Person.code).join(
        Membership, Membership.person_id == Person.id).where(
        Membership.organisation_id.in_(served), Membership.ended_on.is_(None))))
    activities = set(db.session.scalars(select(Activity.code).where(
        in_values(Activity.station_id, station_ids) | Activity.organisation_id.in_(served))))
    displays = set(db.session.scalars(select(StationDisplay.code).join(
        Station, Station.id == StationDisplay.station_id).where(
        stations_in, StationDisplay.revoked_at.is_(None))))
    return {"station": stations, "person": people, "activity": activities,
            "display": displays}


def _current_branches(person_ids: list[int]) -> dict[int, tuple[str, str]]:
    """Person id to their current branch's code and path."""
    if not person_ids:
        return {}
    rows = db.session.execute(
        select(Membership.person_id, Organisation.code, Organisation.path)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(in_values(Membership.person_id, person_ids), Membership.ended_on.is_(None))
        .order_by(Membership.started_on, Membership.id))
    return {r.person_id: (r.code, r.path) for r in rows}


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
