"""Wire shapes of QR codes, posters and signing keys."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from server.common.schemas import Code, Timestamp
from server.qr.posters import LAYOUTS
from server.stations.models import STATION_KINDS
from sync.qr import b64url


class StationQrSchema(ma.Schema):
    station = ma.fields.String()
    version = ma.fields.Integer()
    key_id = ma.fields.String()
    url = ma.fields.String(metadata={"description": "The text of the QR code"})


class ReasonSchema(ma.Schema):
    reason = ma.fields.String(load_default=None, allow_none=True,
                              validate=validate.Length(max=500))


class PosterArgs(ma.Schema):
    station = ma.fields.List(Code(), load_default=list,
                             metadata={"description": "Station codes (repeatable)"})
    area = Code(load_default=None, metadata={"description": "All stations in this area subtree"})
    kind = ma.fields.String(load_default=None, validate=validate.OneOf(list(STATION_KINDS)))
    host_organisation = Code(load_default=None,
                             metadata={"description": "Stations hosted by this organisation "
                                                      "or its subtree"})
    layout = ma.fields.String(load_default="a4", validate=validate.OneOf(list(LAYOUTS)),
                              metadata={"description": "a4: one per page; a5: two; a6: four"})


class SigningKeySchema(ma.Schema):
    key_id = ma.fields.String()
    public_key = ma.fields.Function(lambda k: b64url(k.public_key),
                                    metadata={"description": "Raw Ed25519 key, base64url"})
    active = ma.fields.Boolean()
    created_at = Timestamp()
    retired_at = Timestamp(allow_none=True)
