"""Types and validation of the sync contract (docs/sync-protocol.md).

Validation is a plain loop rather than a schema library: it runs for every
event of every batch, and a hand loop is ~8x faster than marshmallow here
(docs/benchmarks.md, "Building blocks"). Every rule has a stable reason code.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from sync.timeutil import parse_rfc3339

try:  # Optional, for speed: the server installs it, a device need not.
    import orjson
except ImportError:  # pragma: no cover - the text is the same without it
    orjson = None

PROTOCOL_VERSION = 1
EVENT_TYPES = ("check_in", "check_out")

# Result statuses of a pushed event.
ACCEPTED = "accepted"
DUPLICATE = "duplicate"
CONFLICT = "conflict"
QUARANTINED = "quarantined"
#: After these the device may drop the event: the server owns it.
FINAL_STATUSES = (ACCEPTED, DUPLICATE, CONFLICT, QUARANTINED)

# Event flags.
REVOKED_QR = "revoked_qr"
OUTSIDE_GEOFENCE = "outside_geofence"
CLOCK_CORRECTED = "clock_corrected"
#: Entered after the fact by a person (补录), not scanned by a device.
RETROACTIVE = "retroactive"
#: A personal phone's scan without a valid signed code of the station
#: (printed or shown by its display): nothing but the phone's word.
UNSIGNED_SCAN = "unsigned_scan"
#: A personal phone's scan that reached the server long after it was made
#: (``LATE_SCAN_REVIEW_DAYS``).
LATE_UPLOAD = "late_upload"
#: A station display's code scanned outside its 30 s window (beyond the
#: clock tolerance): it was not on the station's screen then.
DISPLAY_CODE_EXPIRED = "display_code_expired"
#: A station display's code that does not verify: unknown or revoked
#: display, a signature that does not match, or another station's display.
BAD_DISPLAY_CODE = "bad_display_code"
#: A personal phone's scan of the station's printed signed code with a
#: location fix far from the station: a photo of the poster (sync/fraud.py).
CODE_FAR_AWAY = "code_far_away"
#: A personal phone's batch of late scans of several days at once (sync/fraud.py).
BACKFILLED_DAYS = "backfilled_days"
#: Session flags the one writer computes from a person's scans and day
#: (sync/fraud.py): two stations too far apart for the time between
#: consecutive scans; two sessions at once at different stations.
IMPOSSIBLE_TRAVEL = "impossible_travel"
OVERLAPPING_SESSIONS = "overlapping_sessions"
#: Flags that send an otherwise ok session to review (docs/trust.md,
#: docs/pairing.md): pairing applies those of its events; the writer holds
#: a session with one of the flags it computes itself.
REVIEW_FLAGS = frozenset({REVOKED_QR, OUTSIDE_GEOFENCE, CLOCK_CORRECTED, RETROACTIVE,
                          UNSIGNED_SCAN, LATE_UPLOAD, DISPLAY_CODE_EXPIRED, BAD_DISPLAY_CODE,
                          CODE_FAR_AWAY, BACKFILLED_DAYS, IMPOSSIBLE_TRAVEL,
                          OVERLAPPING_SESSIONS})

CODE_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
EVENT_ID_RE = re.compile(r"^[A-Za-z0-9-]{1,64}$")
MAX_QR_LENGTH = 2048
MAX_SEQ = 2**53


class EventRejected(Exception):
    """An event that cannot count: ``code`` is its stable quarantine reason."""

    def __init__(self, code: str, message: str, missing_code: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        #: For unknown_* reasons: the code that was missing, for automatic replay.
        self.missing_code = missing_code


@dataclass(frozen=True)
class Location:
    lat: float
    lng: float
    accuracy_m: float | None = None


class PushedEvent(NamedTuple):
    """A well-formed event, not yet checked against reference data.

    (A named tuple: made for every event of every batch, four times faster
    than a frozen dataclass.)"""

    id: str
    seq: int | None
    type: str
    person: str
    station: str | None
    qr: str | None
    occurred_at: datetime
    activity: str | None = None
    location: Location | None = None


@dataclass
class BatchEnvelope:
    batch_id: str
    sent_at: datetime | None
    events: list
    device_health: dict = field(default_factory=dict)


def canonical_json(raw_event) -> str:
    """The event as JSON with sorted keys and no spaces: equal content, equal text.

    Stored content hashes depend on this exact text: ``json.dumps``'s. orjson
    writes the same text twelve times faster (0.6 against 7.5 µs a typical
    event), except for floats that Python writes with an exponent or as
    NaN/Infinity and for what orjson refuses (integers beyond 64 bits, lone
    surrogates); those go through ``json.dumps``. tests/test_canonical_json.py
    checks that both agree on any JSON value.
    """
    if orjson is not None and _orjson_writes_alike(raw_event):
        try:
            return orjson.dumps(raw_event, option=orjson.OPT_SORT_KEYS).decode()
        except TypeError:  # orjson.JSONEncodeError
            pass
    return json.dumps(raw_event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


#: Why an event holding a lone UTF-16 surrogate is malformed.
LONE_SURROGATE = "text: a lone UTF-16 surrogate (\\ud800-\\udfff) cannot be stored"


def stored_text(raw_event) -> tuple[str, bool]:
    """The text an event is stored, hashed and compared by, and whether the
    event can count.

    That is ``canonical_json``, unless the event holds a lone UTF-16
    surrogate (``"\\ud800"``: JSON allows one, UTF-8 cannot encode it, so no
    database can store it). Then it is the same JSON with ``\\u`` escapes,
    which can be kept and reads back as the event that was sent, and the
    event is malformed (``LONE_SURROGATE``).
    """
    text = canonical_json(raw_event)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(raw_event, sort_keys=True, separators=(",", ":")), False
    return text, True


def _orjson_writes_alike(value) -> bool:
    # A plain loop, not all() over a generator: this runs for every event
    # pushed and would otherwise cost more than orjson saves.
    kind = type(value)
    if kind is dict:
        values = value.values()
    elif kind is list:
        values = value
    else:
        values = (value,)
    for item in values:
        kind = type(item)
        if kind is str or kind is int or item is None or kind is bool:
            continue
        if kind is float:
            text = repr(item)
            if "e" in text or "n" in text:  # 1e-05, nan, inf
                return False
        elif kind is dict or kind is list:
            if not _orjson_writes_alike(item):
                return False
        else:
            return False
    return True


def hash_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def content_hash(raw_event) -> str:
    """SHA-256 of the event's canonical JSON: equal content, equal hash.

    Also what a device's next event names in its optional ``prev``, which
    links its scans into a chain (docs/sync-protocol.md, "Linked scans";
    sync/event_chain.py); ``prev`` is carried in the raw event and never
    checked here."""
    return hash_text(canonical_json(raw_event))


def event_id_of(raw_event) -> str | None:
    """The usable id of a raw event, or None when it has none."""
    if isinstance(raw_event, dict):
        value = raw_event.get("id")
        if isinstance(value, str) and EVENT_ID_RE.match(value):
            return value
    return None


def parse_event(raw) -> PushedEvent:
    """Check one raw event's shape.

    :raise EventRejected: ``malformed`` with a message naming the field.
    """
    if not isinstance(raw, dict):
        raise EventRejected("malformed", "an event must be a JSON object")
    event_id = event_id_of(raw)
    if event_id is None:
        raise EventRejected("malformed", "id: a UUID (letters, digits and -) is required")
    seq = raw.get("seq")
    if seq is not None and (type(seq) is not int or not 0 <= seq < MAX_SEQ):
        raise EventRejected("malformed", "seq: a non-negative integer is required")
    kind = raw.get("type")
    if kind not in EVENT_TYPES:
        raise EventRejected("malformed", "type: must be check_in or check_out")
    person = _code(raw, "person", required=True)
    station = _code(raw, "station", required=False)
    qr = raw.get("qr")
    if qr is not None and (not isinstance(qr, str) or not 0 < len(qr) <= MAX_QR_LENGTH):
        raise EventRejected("malformed", f"qr: a string of at most {MAX_QR_LENGTH} characters")
    if station is None and qr is None:
        raise EventRejected("malformed", "station or qr is required")
    try:
        occurred_at = parse_rfc3339(raw.get("occurred_at"))
    except (TypeError, ValueError):
        raise EventRejected("malformed", "occurred_at: an RFC 3339 time with offset is required")
    activity = _code(raw, "activity", required=False)
    return PushedEvent(id=event_id, seq=seq, type=kind, person=person, station=station, qr=qr,
                       occurred_at=occurred_at, activity=activity,
                       location=_location(raw.get("location")))


def _code(raw: dict, name: str, *, required: bool) -> str | None:
    value = raw.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not CODE_RE.match(value):
        raise EventRejected("malformed", f"{name}: a code [A-Za-z0-9._-]{{1,64}} is required")
    return value


def _number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _location(value) -> Location | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise EventRejected("malformed", "location: an object with lat and lng")
    lat, lng, accuracy = value.get("lat"), value.get("lng"), value.get("accuracy_m")
    if not (_number(lat) and _number(lng) and -90 <= lat <= 90 and -180 <= lng <= 180):
        raise EventRejected("malformed", "location: lat in [-90, 90] and lng in [-180, 180]")
    if accuracy is not None and not (_number(accuracy) and accuracy >= 0):
        raise EventRejected("malformed", "location.accuracy_m: a non-negative number")
    return Location(float(lat), float(lng), None if accuracy is None else float(accuracy))


def parse_envelope(body) -> BatchEnvelope:
    """Check the batch around the events.

    :raise ValueError: not an object, or no ``events`` list (the caller answers 400).
    """
    if not isinstance(body, dict):
        raise ValueError("The body must be a JSON object.")
    events = body.get("events")
    if not isinstance(events, list):
        raise ValueError("The body must have an 'events' list.")
    batch_id = body.get("batch_id")
    if not isinstance(batch_id, str) or not EVENT_ID_RE.match(batch_id):
        batch_id = ""
    try:
        sent_at = parse_rfc3339(body.get("sent_at"))
    except (TypeError, ValueError):
        sent_at = None
    health = body.get("device") if isinstance(body.get("device"), dict) else {}
    return BatchEnvelope(batch_id=batch_id, sent_at=sent_at, events=events, device_health=health)


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres."""
    r = 6371008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))
