"""What a phone that opened a station's QR URL is told about the code."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy import select

from server.extensions import db
from server.qr.keys import verifying_keys
from server.stations.models import Station
from sync.qr import QrInvalid, verify_station_url

CURRENT, REVOKED, RETIRED, INVALID, UNKNOWN = ("current", "revoked", "retired", "invalid",
                                               "unknown_station")


@dataclass(frozen=True)
class CodeCheck:
    status: str
    station: Station | None
    version: int | None = None


def check_scanned_code(station_code: str, args: dict) -> CodeCheck:
    """Judge the code a phone opened: current, revoked (older version),
    retired station, invalid signature, or unknown station."""
    station = db.session.scalar(select(Station).where(Station.code == station_code))
    if station is None:
        return CodeCheck(UNKNOWN, None)
    query = urlencode({k: args.get(k, "") for k in ("v", "k", "s")})
    try:
        code = verify_station_url(f"/q/{station_code}?{query}", verifying_keys())
    except QrInvalid:
        return CodeCheck(INVALID, station)
    if station.status == "retired":
        return CodeCheck(RETIRED, station, code.version)
    if code.version < station.qr_version:
        return CodeCheck(REVOKED, station, code.version)
    if code.version > station.qr_version:
        return CodeCheck(INVALID, station, code.version)
    return CodeCheck(CURRENT, station, code.version)
