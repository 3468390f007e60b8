"""Station QR payloads: ``{base}/q/{station}?v={version}&k={key_id}&s={signature}``.

The signature is Ed25519 over ``"{station}|{version}"``, base64url without
padding. Verification is pure, so a device checks codes offline with the
public keys it pulled, and the server checks them again on push.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
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


def parse_station_url(text: str) -> tuple[StationCode, str]:
    """Split a scanned payload into its parts and signature.

    :raise QrInvalid: ``bad_qr`` for anything that is not a station code.
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
    station = segments[-1]
    values = {name: query.get(name, [None]) for name in ("v", "k", "s")}
    if any(len(v) != 1 or v[0] is None for v in values.values()):
        raise QrInvalid("bad_qr", "the code lacks v, k or s")
    version_text, key_id, signature = (values[n][0] for n in ("v", "k", "s"))
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
