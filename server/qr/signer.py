"""Signing many station codes with one unsealed key."""
from __future__ import annotations

from flask import current_app

from server.qr.keys import active_signing_key, private_key_of
from server.stations.models import Station
from sync.qr import sign_station, station_url


class StationSigner:
    """Unseals the active key once; ``url_for(station)`` then costs one signature."""

    def __init__(self):
        key = active_signing_key()
        self.key_id = key.key_id
        self._private = private_key_of(key)
        self._base = current_app.config["PUBLIC_BASE_URL"]

    def url_for(self, station: Station) -> str:
        signature = sign_station(self._private, station.code, station.qr_version)
        return station_url(self._base, station.code, station.qr_version, self.key_id, signature)
