"""What a phone that opened a station's QR URL is told about the code."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from flask import current_app
from sqlalchemy import select

from server.db_types import utcnow
from server.displays.services import display_keys_for
from server.extensions import db
from server.qr.keys import verifying_keys
from server.stations.models import Station
from sync.qr import INSIDE, QrInvalid, judge_display_code, verify_display_url, verify_station_url

CURRENT, REVOKED, RETIRED, INVALID, UNKNOWN = ("current", "revoked", "retired", "invalid",
                                               "unknown_station")
#: A station display's code: shown on its screen now, or some time ago.
DISPLAY_CURRENT, DISPLAY_EXPIRED = "display_current", "display_expired"


@dataclass(frozen=True)
class CodeCheck:
    status: str
    station: Station | None
    version: int | None = None


def check_scanned_code(station_code: str, args: dict) -> CodeCheck:
    """Judge the code a phone opened: current, revoked (older version),
    retired station, invalid signature, or unknown station; a display's
    code current or expired on the server's clock."""
    station = db.session.scalar(select(Station).where(Station.code == station_code))
    if station is None:
        return CodeCheck(UNKNOWN, None)
    if "d" in args:
        return _check_display_code(station, args)
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


def _check_display_code(station: Station, args: dict) -> CodeCheck:
    query = urlencode({k: args.get(k, "") for k in ("d", "w", "s")})
    try:
        code = verify_display_url(f"/q/{station.code}?{query}",
                                  display_keys_for([args.get("d", "")]))
    except QrInvalid:
        return CodeCheck(INVALID, station)
    if station.status == "retired":
        return CodeCheck(RETIRED, station)
    judged = judge_display_code(code, utcnow(), current_app.config["CLOCK_TOLERANCE_S"])
    return CodeCheck(DISPLAY_CURRENT if judged == INSIDE else DISPLAY_EXPIRED, station)
