"""Wire shapes of activities."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate, validates_schema

from server.activities.models import ACTIVITY_KINDS
from server.common.schemas import MONTH_PATTERN, Code, Timestamp


class _Times:
    @validates_schema
    def _end_after_start(self, data, **kwargs):
        start, end = data.get("planned_start_at"), data.get("planned_end_at")
        if start and end and end <= start:
            raise ma.ValidationError("must be after planned_start_at", "planned_end_at")


class ActivitySchema(_Times, ma.Schema):
    code = Code(required=True)
    title = ma.fields.String(required=True, validate=validate.Length(1, 200))
    kind = ma.fields.String(required=True, validate=validate.OneOf(list(ACTIVITY_KINDS)))
    organisation = Code(required=True)
    station = Code(load_default=None, allow_none=True)
    planned_start_at = Timestamp(required=True)
    planned_end_at = Timestamp(required=True)
    host_name = ma.fields.String(load_default=None, allow_none=True,
                                 validate=validate.Length(max=100))
    recorder_name = ma.fields.String(load_default=None, allow_none=True,
                                     validate=validate.Length(max=100))
    topic = ma.fields.String(load_default=None, allow_none=True,
                             validate=validate.Length(max=2000))


class ActivityUpdateSchema(_Times, ma.Schema):
    title = ma.fields.String(validate=validate.Length(1, 200))
    kind = ma.fields.String(validate=validate.OneOf(list(ACTIVITY_KINDS)))
    station = Code(allow_none=True)
    planned_start_at = Timestamp()
    planned_end_at = Timestamp()
    host_name = ma.fields.String(allow_none=True, validate=validate.Length(max=100))
    recorder_name = ma.fields.String(allow_none=True, validate=validate.Length(max=100))
    topic = ma.fields.String(allow_none=True, validate=validate.Length(max=2000))


class ActivityOutSchema(ma.Schema):
    code = ma.fields.String()
    title = ma.fields.String()
    kind = ma.fields.String()
    organisation = ma.fields.Function(lambda a: a.organisation.code)
    station = ma.fields.Function(lambda a: a.station.code if a.station else None)
    planned_start_at = Timestamp()
    planned_end_at = Timestamp()
    host_name = ma.fields.String(allow_none=True)
    recorder_name = ma.fields.String(allow_none=True)
    topic = ma.fields.String(allow_none=True)


class LeaveSchema(ma.Schema):
    person = Code(required=True)
    reason = ma.fields.String(required=True, validate=validate.Length(1, 500))


class AttendeeSchema(ma.Schema):
    person = ma.fields.String()
    name = ma.fields.String()
    state = ma.fields.String(metadata={"description": "present | late | on_leave | absent"})
    arrived_at = Timestamp(allow_none=True)
    leave_reason = ma.fields.String(allow_none=True)


class AttendanceSummarySchema(ma.Schema):
    activity = ma.fields.String()
    title = ma.fields.String()
    kind = ma.fields.String()
    organisation = ma.fields.String()
    date = ma.fields.Date()
    planned_start_at = Timestamp()
    expected = ma.fields.Integer()
    present = ma.fields.Integer()
    late = ma.fields.Integer()
    on_leave = ma.fields.Integer()
    absent = ma.fields.Integer()
    attendance_rate = ma.fields.Float(allow_none=True)
    quorum_rule = ma.fields.String()
    quorate = ma.fields.Boolean()


class AttendanceSchema(AttendanceSummarySchema):
    people = ma.fields.List(ma.fields.Nested(AttendeeSchema))
    visitors = ma.fields.List(ma.fields.Dict())


class MeetingsArgs(ma.Schema):
    month = ma.fields.String(required=True, validate=validate.Regexp(MONTH_PATTERN),
                             metadata={"example": "2026-11"})
