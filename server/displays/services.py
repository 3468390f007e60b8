"""Station displays: registered by who manages the station (or its own device),
revoked by who manages it; their public keys for the push and for pull.

A display signs its codes itself (in the screen's browser), so it keeps
working with the network down; the server only keeps its public key. What a
display's code proves is judged per scan: ``sync.qr.verify_display_url``
with the keys of ``display_keys_for``, then ``sync.qr.judge_display_code``
with the scan's time.
"""
from __future__ import annotations

import secrets
from collections.abc import Iterable

from sqlalchemy import select

from server.audit.services import record_audit
from server.auth.policy import may_manage, visible
from server.auth.principal import Principal
from server.common.lookup import reference
from server.common.rawsql import in_values
from server.db_types import utcnow
from server.devices.models import Device
from server.displays.models import StationDisplay
from server.errors import AppError, Conflict, Forbidden, NotFound
from server.extensions import db
from server.stations.models import Station
from sync.qr import DisplayKey, b64url_decode


def register_display(registrant: Principal | Device, data: dict
                     ) -> tuple[StationDisplay, bool]:
    """Register a screen's public key for a station; ``(display, created)``.

    Sending the same key for the same station again returns the display it
    registered (a screen that lost the answer asks again).

    :param registrant: a user who manages the station, or a station device
        (not a personal phone) whose scope covers it.
    :raise ValidationFailed: ``unknown_reference`` for an unknown station.
    :raise Forbidden: the station is not the registrant's to manage.
    :raise AppError: ``station_retired`` (409); ``duplicate_key`` (409) for a
        key registered already, elsewhere or revoked.
    """
    station = reference(Station, data["station"], "station", "station")
    if isinstance(registrant, Device):
        if not _device_serves(registrant, station):
            raise Forbidden("This device does not serve that station.")
        actor = f"device:{registrant.code}"
    else:
        if not may_manage(registrant, station):
            raise Forbidden("You may set up displays only at stations you manage.")
        actor = registrant.actor
    if station.status == "retired":
        raise AppError("station_retired", "A retired station gets no display.", status=409)
    public_key = b64url_decode(data["public_key"])
    known = db.session.scalar(select(StationDisplay).where(
        StationDisplay.public_key == public_key))
    if known is not None:
        if known.station_id == station.id and known.revoked_at is None:
            return known, False
        raise Conflict("duplicate_key", "This key belongs to another display; make a new one.")
    display = StationDisplay(code=_new_code(), station=station, public_key=public_key,
                             name=data["name"].strip())
    if isinstance(registrant, Device):
        display.registered_by_device = registrant
    else:
        display.registered_by_user = registrant.user
    db.session.add(display)
    db.session.flush()
    record_audit(actor, "register_display", "station_display", display.code)
    return display, True


def _device_serves(device: Device, station: Station) -> bool:
    """A station's own device: the station is in its scope (by name, or
    hosted by one of its organisations' subtrees). A personal phone is not."""
    if device.person_id is not None:
        return False
    if station in device.stations:
        return True
    host = station.host_organisation
    return host is not None and any(host.path.startswith(o.path) for o in device.organisations)


def _new_code() -> str:
    """``D-`` and 8 hex digits: short, for a small QR code; random, so a
    code says nothing about the station or how many displays there are."""
    while True:
        code = "D-" + secrets.token_hex(4)
        if db.session.scalar(select(StationDisplay.id).where(StationDisplay.code == code)) is None:
            return code


def visible_displays(principal: Principal, station: str | None = None,
                     status: str | None = None):
    """Displays of the stations ``principal`` manages, newest first, as a SELECT."""
    query = select(StationDisplay).where(visible(principal, StationDisplay))
    if station:
        query = query.where(StationDisplay.station_id.in_(
            select(Station.id).where(Station.code == station)))
    if status == "active":
        query = query.where(StationDisplay.revoked_at.is_(None))
    elif status == "revoked":
        query = query.where(StationDisplay.revoked_at.is_not(None))
    return query.order_by(StationDisplay.registered_at.desc(), StationDisplay.id.desc())


def display_by_code(principal: Principal, code: str) -> StationDisplay:
    """:raise NotFound: no such display at a station the caller manages."""
    found = db.session.scalar(visible_displays(principal).where(StationDisplay.code == code))
    if found is None:
        raise NotFound("display", code)
    return found


def revoke_display(principal: Principal, display: StationDisplay,
                   reason: str | None) -> StationDisplay:
    """Revoke a display at once: its codes stop proving presence, and
    devices drop its key at their next pull. Revoking again changes nothing.

    :raise Forbidden: the display's station is not the caller's to manage.
    """
    if not may_manage(principal, display):
        raise Forbidden()
    if display.revoked_at is None:
        display.revoked_at = utcnow()
        display.revoked_by_user_id = principal.user.id
        record_audit(principal.actor, "revoke_display", "station_display", display.code,
                     reason=reason)
    return display


def display_keys_for(display_codes: Iterable[str]) -> dict[str, DisplayKey]:
    """Display code to key for these displays (``sync.qr.display_of`` of the
    scanned texts), revoked ones included: their codes then fail as
    ``revoked_display``, and a display signing for another station as
    ``wrong_station``. One query; what ``sync.qr.verify_display_url`` takes."""
    codes = set(display_codes)
    if not codes:
        return {}
    rows = db.session.execute(
        select(StationDisplay.code, Station.code, StationDisplay.public_key,
               StationDisplay.revoked_at)
        .join(Station, Station.id == StationDisplay.station_id)
        .where(in_values(StationDisplay.code, codes)))
    return {display: DisplayKey(station, bytes(key), revoked_at)
            for display, station, key, revoked_at in rows}
