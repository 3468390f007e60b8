"""What proves that a person was where a scan says (docs/trust.md).

Every stored scan is classified by the strongest proof it carries, and a
session by the weaker of its two scans: an hour is only as defensible as
the weaker end of it.

From strongest to weakest:

- ``station_device``: recorded by a device enrolled to that very station
  (its tablet), which stays there;
- ``display_code``: a phone scanned the code a display at the station shows,
  which changes every 30 s, and the scan's time falls in the code's window;
- ``location``: the phone's location fix lies inside the station's geofence,
  with an accuracy no coarser than the geofence;
- ``signed_code``: the station's printed, signed code (valid, but a photo of
  it can be shared);
- ``none``: nothing (a station named by its code, with no signed code, no
  fix, from a device not at the station);
- ``entered``: no scan at all: a secretary entered the service afterwards
  (补录).
"""
from __future__ import annotations

STATION_DEVICE = "station_device"
DISPLAY_CODE = "display_code"
LOCATION = "location"
SIGNED_CODE = "signed_code"
NONE = "none"
ENTERED = "entered"

#: Strongest first.
ORDER = (STATION_DEVICE, DISPLAY_CODE, LOCATION, SIGNED_CODE, NONE, ENTERED)
_RANK = {kind: len(ORDER) - n for n, kind in enumerate(ORDER)}


def weaker(a: str | None, b: str | None) -> str | None:
    """The weaker of two kinds (None: that scan is missing, the other decides)."""
    if a is None:
        return b
    if b is None:
        return a
    return a if _RANK[a] <= _RANK[b] else b


def classify(*, own_station_device: bool, display_code_inside: bool, signed_code: bool,
             location_inside: bool) -> str:
    """The strongest proof a scan carries.

    :param own_station_device: recorded by a device enrolled to the scan's station.
    :param display_code_inside: it carries a display's code, signed by a
        registered display key, and its time falls in the code's window.
    :param signed_code: it carries the station's printed code, with a valid
        signature (an older version of it counts too; it is flagged besides).
    :param location_inside: its location fix lies inside the geofence, with
        an accuracy no coarser than the geofence's radius.
    """
    if own_station_device:
        return STATION_DEVICE
    if display_code_inside:
        return DISPLAY_CODE
    if location_inside:
        return LOCATION
    if signed_code:
        return SIGNED_CODE
    return NONE
