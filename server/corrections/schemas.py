"""Wire shapes of correction requests."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from server.common.schemas import Code, Timestamp
from server.corrections.models import OPEN, OUTCOMES
from sync.protocol import EVENT_ID_RE


class CorrectionIn(ma.Schema):
    """What a volunteer's phone sends: which session, or where and when."""

    id = ma.fields.String(required=True, validate=validate.Regexp(EVENT_ID_RE),
                          metadata={"description": "UUID chosen by the phone; resending "
                                                   "the same id is safe"})
    session = ma.fields.String(load_default=None, allow_none=True,
                               validate=validate.Regexp(EVENT_ID_RE),
                               metadata={"description": "The session's id, from "
                                                        "`/volunteer/me`"})
    station = Code(load_default=None, allow_none=True)
    start_at = Timestamp(load_default=None, allow_none=True)
    end_at = Timestamp(load_default=None, allow_none=True)
    message = ma.fields.String(required=True, validate=validate.Length(min=2, max=500))

    @ma.validates_schema
    def _message_is_not_blank(self, data, **kwargs):
        if not data.get("message", "").strip():
            raise ma.ValidationError("say what is wrong", "message")


class CorrectionOut(ma.Schema):
    id = ma.fields.String(attribute="request_id")
    person = ma.fields.Function(lambda r: r.person.code)
    person_name = ma.fields.Function(lambda r: r.person.name)
    session = ma.fields.String(attribute="session_id", allow_none=True)
    station = ma.fields.Function(lambda r: r.station.code if r.station else None)
    station_name = ma.fields.Function(lambda r: r.station.name if r.station else None)
    start_at = Timestamp(allow_none=True)
    end_at = Timestamp(allow_none=True)
    message = ma.fields.String()
    status = ma.fields.String(metadata={"description": f"{OPEN}, or how it was closed: "
                                                       + ", ".join(OUTCOMES)})
    created_at = Timestamp()
    closed_at = Timestamp(allow_none=True)
    answer = ma.fields.String(allow_none=True)


class CorrectionArgs(ma.Schema):
    status = ma.fields.String(load_default=OPEN, validate=validate.OneOf((OPEN, *OUTCOMES)))


class CloseCorrection(ma.Schema):
    outcome = ma.fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    answer = ma.fields.String(load_default=None, allow_none=True,
                              validate=validate.Length(max=2000),
                              metadata={"description": "Shown to the volunteer; required "
                                                       "when declining"})
