"""Wire shapes of station displays."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from server.common.schemas import Code, Timestamp
from sync.qr import b64url

#: A raw 32-byte Ed25519 public key in base64url without padding: 43
#: characters, the last carrying the key's final 4 bits and 2 zero bits.
PUBLIC_KEY_RE = r"^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$"


class DisplayIn(ma.Schema):
    station = Code(required=True)
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=200),
                            metadata={"description": "What the staff call the screen"})
    public_key = ma.fields.String(
        required=True, validate=validate.Regexp(PUBLIC_KEY_RE, error="32 bytes, base64url"),
        metadata={"description": "The display's raw Ed25519 public key, base64url without "
                                 "padding (WebCrypto: exportKey('raw'))"})

    @ma.validates_schema
    def _name_is_not_blank(self, data, **kwargs):
        if not data.get("name", "").strip():
            raise ma.ValidationError("name the screen", "name")


class DisplayOut(ma.Schema):
    code = ma.fields.String(metadata={"description": "In every code it shows, as `d`"})
    station = ma.fields.Function(lambda d: d.station.code)
    station_name = ma.fields.Function(lambda d: d.station.name)
    name = ma.fields.String()
    public_key = ma.fields.Function(lambda d: b64url(d.public_key))
    status = ma.fields.String(metadata={"description": "active | revoked"})
    registered_by = ma.fields.String(metadata={"description": "user:NAME or device:CODE"})
    registered_at = Timestamp()
    revoked_at = Timestamp(allow_none=True)


class DisplayArgs(ma.Schema):
    station = Code(load_default=None)
    status = ma.fields.String(load_default=None,
                              validate=validate.OneOf(("active", "revoked")),
                              metadata={"description": "Default: both"})


class RevokeDisplay(ma.Schema):
    reason = ma.fields.String(load_default=None, allow_none=True,
                              validate=validate.Length(max=500))
