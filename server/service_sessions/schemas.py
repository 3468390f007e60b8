"""Wire shapes of sessions and reviews."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate, validates_schema

from server.common.schemas import Code, Timestamp
from server.service_sessions.models import SESSION_FLAGS
from server.service_sessions.status import credited_by
from sync.evidence import ORDER as EVIDENCE_ORDER

#: The API's words for a session's evidence and its credited-seconds split.
EVIDENCE = ("What proves the person was there, the weaker of the session's two scans: "
            "station_device, display_code, location, signed_code, none, or entered "
            "(补录; docs/trust.md)")
CREDITED_BY = ("The credited seconds by what credits them: the scans alone (proven), a "
               "reviewer's decision (reviewed), an entry made afterwards and approved "
               "(entered); they add up to credited_seconds")


class SessionArgs(ma.Schema):
    person = Code(load_default=None)
    station = Code(load_default=None)
    branch = Code(load_default=None, metadata={"description": "Sessions credited to this "
                                                              "organisation's subtree"})
    status = ma.fields.String(load_default=None, validate=validate.Length(max=20))
    flag = ma.fields.String(load_default=None, validate=validate.OneOf(SESSION_FLAGS),
                            metadata={"description": "Only sessions with this flag"})
    needs_review = ma.fields.Boolean(load_default=False,
                                     metadata={"description": "Only sessions waiting for a "
                                                              "decision"})
    date_from = ma.fields.Date(load_default=None, data_key="from")
    date_to = ma.fields.Date(load_default=None, data_key="to")


class SessionOutSchema(ma.Schema):
    id = ma.fields.String(attribute="key_event_id",
                          metadata={"description": "The session's first event id"})
    person = ma.fields.Function(lambda s: s.person.code)
    person_name = ma.fields.Function(lambda s: s.person.name)
    station = ma.fields.Function(lambda s: s.station.code)
    activity = ma.fields.Function(lambda s: s.activity.code if s.activity else None)
    branch = ma.fields.Function(lambda s: s.branch.code if s.branch else None)
    status = ma.fields.String()
    derived_status = ma.fields.String()
    start_at = Timestamp(allow_none=True)
    end_at = Timestamp(allow_none=True)
    derived_start_at = Timestamp(allow_none=True)
    derived_end_at = Timestamp(allow_none=True)
    flags = ma.fields.Function(
        lambda s: [f for f in s.flags.split(",") if f]
        + (["over_daily_limit"] if s.over_daily_limit else []),
        metadata={"description": "Its events' flags, and over_daily_limit: past the "
                                 "person's daily limits of what is credited without "
                                 "review (hours; pairs of one activity)"})
    review_stale = ma.fields.Boolean()
    credited_seconds = ma.fields.Integer()
    pending_seconds = ma.fields.Integer()
    evidence = ma.fields.String(metadata={"description": EVIDENCE,
                                          "enum": list(EVIDENCE_ORDER)})
    credited_by = ma.fields.Function(
        lambda s: credited_by(s.credited_seconds, s.reviewed_seconds, s.entered_seconds),
        metadata={"description": CREDITED_BY})
    local_date = ma.fields.Date()


class ReviewSchema(ma.Schema):
    decision = ma.fields.String(required=True,
                                validate=validate.OneOf(["approved", "rejected", "amended"]))
    reason = ma.fields.String(load_default=None, allow_none=True,
                              validate=validate.Length(max=2000))
    start_at = Timestamp(load_default=None, allow_none=True)
    end_at = Timestamp(load_default=None, allow_none=True)

    @validates_schema
    def _amendment_is_complete(self, data, **kwargs):
        if data["decision"] == "amended":
            if not data.get("start_at") or not data.get("end_at"):
                raise ma.ValidationError("an amendment needs start_at and end_at", "start_at")
            if data["end_at"] <= data["start_at"]:
                raise ma.ValidationError("must be after start_at", "end_at")
            if not data.get("reason"):
                raise ma.ValidationError("an amendment needs a reason", "reason")
        if data["decision"] == "rejected" and not data.get("reason"):
            raise ma.ValidationError("a rejection needs a reason", "reason")


class PairingBacklogSchema(ma.Schema):
    rows = ma.fields.Integer(metadata={"description": "Queued re-pairings"})
    people = ma.fields.Integer(metadata={"description": "Distinct people among them"})
    oldest_queued_at = Timestamp(allow_none=True)


class RetroactiveEntrySchema(ma.Schema):
    """A session entered after the fact (补录); see docs/api.md."""

    person = Code(required=True)
    station = Code(required=True)
    activity = Code(load_default=None, allow_none=True)
    start_at = Timestamp(required=True)
    end_at = Timestamp(required=True)
    reason = ma.fields.String(required=True, validate=validate.Length(min=2, max=2000),
                              metadata={"description": "Why no scan was recorded, and who "
                                                       "vouches for the service"})

    @validates_schema
    def _reason_is_not_blank(self, data, **kwargs):
        if not (data.get("reason") or "").strip():
            raise ma.ValidationError("a retroactive entry needs a reason", "reason")
