"""Creating and changing stations."""
from __future__ import annotations

from server.audit.services import record_audit
from server.auth.policy import may_manage
from server.auth.principal import Principal
from server.common.lookup import apply_changes, ensure_code_free, reference
from server.errors import Forbidden
from server.extensions import db
from server.org.models import Area, Organisation
from server.stations.models import Station

_REFERENCES = {"area": (Area, "area"), "host_organisation": (Organisation, "organisation")}


def _resolve_references(data: dict) -> dict:
    resolved = dict(data)
    for name, (model, what) in _REFERENCES.items():
        if name in resolved:
            resolved[name] = reference(model, resolved[name], name, what)
    return resolved


def create_station(principal: Principal, data: dict) -> Station:
    """:raise Forbidden: neither the area nor the host organisation is in the caller's scope."""
    ensure_code_free(Station, data["code"], "station")
    station = Station(**_resolve_references(data))
    if not may_manage(principal, station):
        raise Forbidden("You may add stations only in your own area or organisation.")
    db.session.add(station)
    record_audit(principal.actor, "create_station", "station", station.code)
    # Its QR code needs a signing key; make the first one with the first station.
    from server.qr.keys import active_signing_key
    active_signing_key()
    from server.checkins.reprocess import reprocess_waiting_for
    db.session.flush()
    reprocess_waiting_for("station", station.code)
    return station


def update_station(principal: Principal, station: Station, data: dict) -> Station:
    if not may_manage(principal, station):
        raise Forbidden()
    changes = apply_changes(station, _resolve_references(data))
    for name in _REFERENCES:
        if name in changes:
            changes[name] = [getattr(v, "code", v) for v in changes[name]]
    if not may_manage(principal, station):
        raise Forbidden("That change would move the station out of your scope.")
    record_audit(principal.actor, "update_station", "station", station.code, changes=changes)
    return station
