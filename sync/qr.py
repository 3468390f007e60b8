"""Station QR payloads, in two forms (docs/sync-protocol.md, "Station QR codes").

A poster: ``{base}/q/{station}?v={version}&k={key_id}&s={signature}``, the
signature Ed25519 by the server's station-signing key over
``"{station}|{version}"``.

A station display (a screen at the station): ``{base}/q/{station}?d={display}
&w={window}&s={signature}``, a new code every ``DISPLAY_WINDOW_S`` seconds:
``window`` is ``floor(unix seconds / 30)`` and the signature is Ed25519 by the
display's own key over ``"{station}|{display}|{window}"``.

Signatures are base64url without padding. Verification is pure, so a device
checks codes offline with the public keys it pulled, and the server checks
them again on push.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal
from urllib.parse import parse_qs, quote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sync.protocol import CODE_RE, MAX_QR_LENGTH


class QrInvalid(Exception):
    """A code that does not verify; ``code`` is its stable reason."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class StationCode:
    station: str
    version: int
    key_id: str


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signed_message(station: str, version: int) -> bytes:
    return f"{station}|{version}".encode()


def sign_station(private_key: Ed25519PrivateKey, station: str, version: int) -> str:
    return b64url(private_key.sign(signed_message(station, version)))


def station_url(base_url: str, station: str, version: int, key_id: str, signature: str) -> str:
    return (f"{base_url.rstrip('/')}/q/{quote(station, safe='')}"
            f"?v={version}&k={quote(key_id, safe='')}&s={signature}")


def _split(text: str) -> tuple[str, dict[str, list[str]]]:
    """The station segment and the query of a scanned ``…/q/{station}?…`` URL.

    :raise QrInvalid: ``bad_qr`` for anything that is not one.
    """
    if not isinstance(text, str) or len(text) > MAX_QR_LENGTH:
        raise QrInvalid("bad_qr", "not a station code")
    try:
        parts = urlsplit(text.strip())
        query = parse_qs(parts.query, strict_parsing=True)
    except ValueError:
        raise QrInvalid("bad_qr", "not a station code URL")
    segments = parts.path.rstrip("/").split("/")
    if len(segments) < 2 or segments[-2] != "q":
        raise QrInvalid("bad_qr", "not a station code URL")
    return segments[-1], query


def _single(query: dict[str, list[str]], names: tuple[str, ...]) -> list[str]:
    """Each of ``names`` given exactly once, else ``bad_qr``."""
    values = [query.get(name, []) for name in names]
    if any(len(v) != 1 for v in values):
        raise QrInvalid("bad_qr", f"the code lacks {', '.join(names)} or repeats one")
    return [v[0] for v in values]


def parse_station_url(text: str) -> tuple[StationCode, str]:
    """Split a scanned payload into its parts and signature.

    :raise QrInvalid: ``bad_qr`` for anything that is not a station code.
    """
    station, query = _split(text)
    if "d" in query or "w" in query:
        raise QrInvalid("bad_qr", "a display code is not a poster's")
    version_text, key_id, signature = _single(query, ("v", "k", "s"))
    if not CODE_RE.match(station) or not version_text.isdigit() or len(version_text) > 9 \
            or not CODE_RE.match(key_id) or len(signature) > 200:
        raise QrInvalid("bad_qr", "malformed station code")
    return StationCode(station, int(version_text), key_id), signature


def verify_station_url(text: str, public_keys: dict[str, bytes]) -> StationCode:
    """Verify a scanned payload against the known (not retired) public keys.

    :param public_keys: key id to raw 32-byte Ed25519 public key.
    :raise QrInvalid: ``bad_qr``, ``unknown_key`` (not known, or retired) or
        ``bad_signature``.
    """
    code, signature = parse_station_url(text)
    raw_key = public_keys.get(code.key_id)
    if raw_key is None:
        raise QrInvalid("unknown_key", f"signing key {code.key_id!r} is unknown or retired")
    try:
        Ed25519PublicKey.from_public_bytes(raw_key).verify(
            b64url_decode(signature), signed_message(code.station, code.version))
    except (InvalidSignature, ValueError):
        raise QrInvalid("bad_signature", "the signature does not match the station code")
    return code


# -- station displays ---------------------------------------------------------------------

#: Seconds one display code is current for.
DISPLAY_WINDOW_S = 30
#: The last window that starts before the year 10000 (a datetime's limit).
MAX_DISPLAY_WINDOW = 253402300799 // DISPLAY_WINDOW_S - 1

INSIDE, OUTSIDE = "inside", "outside"


@dataclass(frozen=True)
class DisplayCode:
    """A verified display code: which display showed it, at which station, when."""

    station: str
    display: str
    window: int

    @property
    def window_start(self) -> datetime:
        return datetime.fromtimestamp(self.window * DISPLAY_WINDOW_S, timezone.utc)

    @property
    def window_end(self) -> datetime:
        """The first instant after the window (the window is ``[start, end)``)."""
        return self.window_start + timedelta(seconds=DISPLAY_WINDOW_S)


@dataclass(frozen=True)
class DisplayKey:
    """What verifying a display's codes needs to know of it."""

    station: str
    #: Raw 32-byte Ed25519 public key.
    public_key: bytes
    #: Once revoked, its codes no longer prove presence.
    revoked_at: datetime | None = None


def display_window(at: datetime) -> int:
    """The window a display shows its code for at ``at`` (aware)."""
    return int(at.timestamp() // DISPLAY_WINDOW_S)


def display_message(station: str, display: str, window: int) -> bytes:
    """The bytes a display signs: codes cannot contain ``|``, so no two
    (station, display, window) give the same text."""
    return f"{station}|{display}|{window}".encode()


def sign_display(private_key: Ed25519PrivateKey, station: str, display: str,
                 window: int) -> str:
    return b64url(private_key.sign(display_message(station, display, window)))


def display_url(base_url: str, station: str, display: str, window: int,
                signature: str) -> str:
    return (f"{base_url.rstrip('/')}/q/{quote(station, safe='')}"
            f"?d={quote(display, safe='')}&w={window}&s={signature}")


def is_display_url(text: str) -> bool:
    """Whether a scanned payload is meant as a display code (``d`` in its
    query), so that it is verified as one; a poster's URL has none."""
    try:
        _, query = _split(text)
    except QrInvalid:
        return False
    return "d" in query


def display_of(text: str) -> str | None:
    """The display named by a scanned display code, None for any other text:
    which keys verifying a batch of scans needs (``display_keys_for``)."""
    try:
        return parse_display_url(text)[0].display
    except QrInvalid:
        return None


def parse_display_url(text: str) -> tuple[DisplayCode, str]:
    """Split a display's code into its parts and signature.

    :raise QrInvalid: ``bad_qr`` for anything that is not a display code.
    """
    station, query = _split(text)
    if "v" in query or "k" in query:
        raise QrInvalid("bad_qr", "a poster's code is not a display's")
    display, window_text, signature = _single(query, ("d", "w", "s"))
    if not CODE_RE.match(station) or not CODE_RE.match(display) \
            or not window_text.isdigit() or len(window_text) > 10 \
            or int(window_text) > MAX_DISPLAY_WINDOW or len(signature) > 200:
        raise QrInvalid("bad_qr", "malformed display code")
    return DisplayCode(station, display, int(window_text)), signature


def verify_display_url(text: str, display_keys: dict[str, DisplayKey]) -> DisplayCode:
    """Verify a display's code against the known displays' keys.

    Says who signed it and for which window, not whether the window is
    current: that depends on when it was scanned (``judge_display_code``).

    :param display_keys: display code to its key, revoked displays included
        (so that their codes fail as ``revoked_display``, not as unknown).
    :raise QrInvalid: ``bad_qr``; ``unknown_display``; ``bad_signature`` (the
        text was altered, its station included); ``wrong_station`` (signed by
        a display of another station); ``revoked_display``.
    """
    code, signature = parse_display_url(text)
    key = display_keys.get(code.display)
    if key is None:
        raise QrInvalid("unknown_display", f"display {code.display!r} is unknown")
    try:
        Ed25519PublicKey.from_public_bytes(key.public_key).verify(
            b64url_decode(signature), display_message(code.station, code.display, code.window))
    except (InvalidSignature, ValueError):
        raise QrInvalid("bad_signature", "the signature does not match the display code")
    if key.station != code.station:
        raise QrInvalid("wrong_station", f"display {code.display!r} is not at this station")
    if key.revoked_at is not None:
        raise QrInvalid("revoked_display", f"display {code.display!r} has been revoked")
    return code


def judge_display_code(code: DisplayCode, scan_at: datetime,
                       tolerance_s: float) -> Literal["inside", "outside"]:
    """Whether a scan at ``scan_at`` (aware; the scan's effective time on the
    server, the device's clock on a device) falls in the code's window widened
    by ``tolerance_s`` each side: ``[start - tolerance, end + tolerance)``.

    Outside, the code was not on the station's screen when the scan was made
    (a photo passed on, or a clock more wrong than the tolerance).
    """
    slack = timedelta(seconds=tolerance_s)
    inside = code.window_start - slack <= scan_at < code.window_end + slack
    return INSIDE if inside else OUTSIDE
