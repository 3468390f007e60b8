"""Station QR codes: the signed URL, reissue (revokes older versions) and retirement."""
from __future__ import annotations

from flask import current_app

from server.audit.services import record_audit
from server.auth.policy import may_manage
from server.auth.principal import Principal
from server.errors import AppError, Forbidden
from server.qr.keys import active_signing_key, private_key_of
from server.stations.models import Station
from sync.qr import sign_station, station_url


def station_qr_url(station: Station) -> str:
    """The URL printed on the station's current poster, signed with the active key."""
    key = active_signing_key()
    signature = sign_station(private_key_of(key), station.code, station.qr_version)
    return station_url(current_app.config["PUBLIC_BASE_URL"], station.code, station.qr_version,
                       key.key_id, signature)


def reissue_qr(principal: Principal, station: Station, reason: str | None) -> Station:
    """Bump the QR version: codes of older versions are revoked from now on.

    Scans of a revoked code are still stored, flagged ``revoked_qr``.
    """
    if not may_manage(principal, station):
        raise Forbidden()
    if station.status == "retired":
        raise AppError("station_retired", "A retired station gets no new code.", status=409)
    before = station.qr_version
    station.qr_version = before + 1
    record_audit(principal.actor, "reissue_qr", "station", station.code,
                 changes={"qr_version": [before, station.qr_version]}, reason=reason)
    return station


def retire_station(principal: Principal, station: Station, reason: str | None) -> Station:
    """Retire a station: its codes stop counting without review (flagged ``revoked_qr``)."""
    if not may_manage(principal, station):
        raise Forbidden()
    if station.status != "retired":
        station.status = "retired"
        record_audit(principal.actor, "retire_station", "station", station.code,
                     changes={"status": ["active", "retired"]}, reason=reason)
    return station
