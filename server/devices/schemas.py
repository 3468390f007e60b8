"""Wire shapes of devices and enrolment."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from server.common.schemas import Code, Timestamp


#: Device codes the API's paths use themselves (POST /devices/enrol).
RESERVED_DEVICE_CODES = ("enrol",)


class DeviceSchema(ma.Schema):
    code = Code(required=True, reserved=RESERVED_DEVICE_CODES)
    name = ma.fields.String(required=True, validate=validate.Length(1, 200))
    stations = ma.fields.List(Code(), load_default=list, validate=validate.Length(max=5000),
                              metadata={"description": "Codes of stations it serves"})
    organisations = ma.fields.List(Code(), load_default=list, validate=validate.Length(max=500),
                                   metadata={"description": "Codes of organisations it serves "
                                                            "(with their subtrees)"})
    notes = ma.fields.String(load_default=None, allow_none=True,
                             validate=validate.Length(max=2000))
    can_push = ma.fields.Boolean(load_default=True,
                                 metadata={"description": "False for pull-only devices"})


class DeviceUpdateSchema(ma.Schema):
    name = ma.fields.String(validate=validate.Length(1, 200))
    stations = ma.fields.List(Code(), validate=validate.Length(max=5000),
                              metadata={"description": "Codes of stations it serves (the "
                                                       "whole new list)"})
    organisations = ma.fields.List(Code(), validate=validate.Length(max=500),
                                   metadata={"description": "Codes of organisations it serves "
                                                            "(the whole new list)"})
    notes = ma.fields.String(allow_none=True, validate=validate.Length(max=2000))
    can_push = ma.fields.Boolean()


class DeviceOutSchema(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    status = ma.fields.String(metadata={"description": "pending | enrolled | revoked"})
    stations = ma.fields.Function(lambda d: sorted(s.code for s in d.stations))
    organisations = ma.fields.Function(lambda d: sorted(o.code for o in d.organisations))
    person = ma.fields.Function(lambda d: d.person.code if d.person else None)
    can_push = ma.fields.Boolean()
    enrolled_at = Timestamp(allow_none=True)
    revoked_at = Timestamp(allow_none=True)
    last_seen_at = Timestamp(allow_none=True)
    last_push_at = Timestamp(allow_none=True)
    app_version = ma.fields.String(allow_none=True)
    queue_length = ma.fields.Integer(allow_none=True)
    oldest_queued_at = Timestamp(allow_none=True)
    last_clock_offset_s = ma.fields.Float(allow_none=True)


class DeviceDetailSchema(DeviceOutSchema):
    missing_seq = ma.fields.Method("_missing_seq", metadata={
        "description": "[low, high] ranges of this device's seq never received, as a "
                       "push answers them (docs/sync-protocol.md)"})

    def _missing_seq(self, device):
        known = getattr(device, "missing_seq_ranges", None)  # a list fills it for its page
        if known is not None:
            return known
        from server.devices.health import missing_scans
        return missing_scans([device.id])[device.id].ranges


class ChainBreakSchema(ma.Schema):
    seq = ma.fields.Integer(metadata={"description": "The scan concerned"})
    kind = ma.fields.String(metadata={
        "description": "removed | altered | fork | malformed_link | unlinked "
                       "(docs/sync-protocol.md, \"Linked scans\")"})
    named_by = ma.fields.Integer(metadata={
        "description": "removed, altered: the later scan whose prev names it"})
    expected_hash = ma.fields.String(metadata={
        "description": "removed, altered: the hash that later scan names"})
    stored_hashes = ma.fields.List(ma.fields.String(), metadata={
        "description": "altered: the hashes of the versions that arrived; fork: the versions"})


class ChainSchema(ma.Schema):
    verified_through_seq = ma.fields.Integer(allow_none=True, metadata={
        "description": "Every scan numbered up to this one has been judged (null: no "
                       "numbered scan arrived)"})
    linked_from_seq = ma.fields.Integer(allow_none=True, metadata={
        "description": "The first scan that carried prev (null: the device does not link "
                       "its scans, as older apps do not)"})
    complete = ma.fields.Boolean(metadata={
        "description": "False while later scans are stored but not judged yet (the next "
                       "read goes on)"})
    break_count = ma.fields.Integer(metadata={"description": "How many breaks were found"})
    breaks = ma.fields.List(ma.fields.Nested(ChainBreakSchema), metadata={
        "description": "The first 1,000 breaks, by seq"})


class DeviceWithChainSchema(DeviceDetailSchema):
    chain = ma.fields.Nested(ChainSchema, attribute="chain_report", metadata={
        "description": "The device's scans as a hash chain: what was removed or changed on "
                       "the way (docs/sync-protocol.md, \"Linked scans\")"})


class EnrolmentOutSchema(ma.Schema):
    device = ma.fields.Nested(DeviceOutSchema)
    enrolment_token = ma.fields.String(metadata={"description": "Shown once; works once"})
    enrolment_expires_at = Timestamp()
    enrolment_qr = ma.fields.String(
        metadata={"description": 'QR text {"v":1,"url":...,"token":...}'})


class EnrolSchema(ma.Schema):
    token = ma.fields.String(required=True, validate=validate.Length(1, 200))
    app_version = ma.fields.String(load_default=None, allow_none=True,
                                   validate=validate.Length(max=40))


class DeviceTokenSchema(ma.Schema):
    device = ma.fields.String(metadata={"description": "The device's code"})
    token = ma.fields.String(metadata={"description": "Bearer token; store it securely"})
    server_time = Timestamp()
