"""Wire shapes of push (documentation only: the push body is validated by
``sync.protocol`` in a fast loop) and of the quarantine.

The push refuses only a body that is not a JSON object with an ``events``
list (400); the rest is read where it fits and never costs the batch, so
those fields are described ``lenient`` (``anyOf: [shape, {}]``, server/api.py).
"""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from server.common.schemas import Timestamp


class LocationSchema(ma.Schema):
    lat = ma.fields.Float(required=True)
    lng = ma.fields.Float(required=True)
    accuracy_m = ma.fields.Float()


class PushEventSchema(ma.Schema):
    id = ma.fields.String(required=True, metadata={"description": "UUID; the idempotency key"})
    seq = ma.fields.Integer(
        metadata={"description": "Per-device counter, strictly increasing, 0 to 2^53 - 1"})
    type = ma.fields.String(required=True, validate=validate.OneOf(["check_in", "check_out"]))
    person = ma.fields.String(required=True)
    station = ma.fields.String(metadata={"description": "Station code, or give qr"})
    qr = ma.fields.String(metadata={"description": "The raw scanned payload"})
    occurred_at = ma.fields.String(required=True, metadata={"description": "RFC 3339 with offset"})
    activity = ma.fields.String()
    location = ma.fields.Nested(LocationSchema)


class DeviceHealthSchema(ma.Schema):
    app_version = ma.fields.String(metadata={"description": "At most 40 characters kept"})
    queue_length = ma.fields.Integer(
        metadata={"description": "Scans queued when the request was built, this batch's "
                                 "events included; 2^31 or more is not kept"})
    oldest_queued_at = ma.fields.String(allow_none=True, metadata={
        "description": "When the oldest of those was queued"})
    queue_length_after = ma.fields.Integer(metadata={
        "description": "Optional: scans that stay queued once this batch is answered "
                       "(otherwise queue_length minus the batch's events)"})
    oldest_queued_after_at = ma.fields.String(allow_none=True, metadata={
        "description": "Optional: when the oldest of those was queued (null: none)"})


class PushSchema(ma.Schema):
    class Meta:
        unknown = ma.INCLUDE  # members a later version adds are ignored

    batch_id = ma.fields.String(metadata={
        "lenient": True, "description": "UUID of the batch; missing or malformed: kept empty"})
    sent_at = ma.fields.String(metadata={
        "lenient": True,
        "description": "RFC 3339 with offset, when the device sent the batch; missing or "
                       "unparseable: no clock information (no correction)"})
    device = ma.fields.Nested(DeviceHealthSchema, metadata={
        "lenient": True, "description": "The device's health; a field that does not fit "
                                        "(or cannot be stored) is not kept"})
    events = ma.fields.List(
        ma.fields.Nested(PushEventSchema, metadata={
            "lenient": True, "description": "An event; one that does not fit is quarantined "
                                            "as malformed, and the others stored"}),
        required=True, metadata={"description": "At most limits.max_events (1000) events "
                                                "and max_bytes (2 MiB), or 413 "
                                                "batch_too_large"})


class PushResultSchema(ma.Schema):
    id = ma.fields.Raw()
    status = ma.fields.String(metadata={"description": "accepted | duplicate | conflict | "
                                                       "quarantined"})
    code = ma.fields.String()
    message = ma.fields.String()


class PushResponseSchema(ma.Schema):
    server_time = ma.fields.String()
    clock_offset_s = ma.fields.Float()
    results = ma.fields.List(ma.fields.Nested(PushResultSchema))
    missing_seq = ma.fields.List(ma.fields.List(ma.fields.Integer()))


class QuarantineArgs(ma.Schema):
    status = ma.fields.String(load_default="waiting",
                              validate=validate.OneOf(["waiting", "conflict", "resolved",
                                                       "dismissed"]))
    reason = ma.fields.String(load_default=None, validate=validate.Length(max=40))


class QuarantinedOutSchema(ma.Schema):
    id = ma.fields.Integer(metadata={"description": "Quarantine entry number"})
    event_id = ma.fields.String(allow_none=True)
    device = ma.fields.Function(lambda q: q.device.code)
    batch_id = ma.fields.String()
    seq = ma.fields.Integer(allow_none=True)
    reason = ma.fields.String()
    message = ma.fields.String()
    status = ma.fields.String()
    missing_code = ma.fields.String(allow_none=True)
    raw = ma.fields.String()
    received_at = Timestamp()
    resolved_at = Timestamp(allow_none=True)
    resolved_by = ma.fields.String(allow_none=True)


class ReplaySchema(ma.Schema):
    event = ma.fields.Dict(load_default=None, allow_none=True,
                           metadata={"description": "Corrected event JSON (same id)"})


class DismissSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=validate.Length(1, 500))
