"""API for volunteers' phones: invitation (by secretaries), enrolment, own summary."""
from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from marshmallow import validate

from server.auth.boundary import current_principal
from server.common.blueprint import Blueprint
from server.common.listing import visible_one
from server.common.schemas import Code, Timestamp
from server.db_types import utcnow
from server.devices.services import current_device
from server.extensions import limiter
from server.people.models import Person
from server.service_sessions.schemas import EVIDENCE
from server.devices.routes import _enrol_limit
from server.volunteer import services

blp = Blueprint("volunteer", __name__, url_prefix="",
                description="Volunteers' own phones: invitation codes, enrolment, own hours.")


class InvitationOut(ma.Schema):
    person = ma.fields.String()
    code = ma.fields.String(metadata={"description": "Eight digits, shown once"})
    expires_at = Timestamp()


class PhoneEnrol(ma.Schema):
    person = Code(required=True)
    code = ma.fields.String(required=True, validate=validate.Regexp(r"^\d{8}$"))


class PhoneToken(ma.Schema):
    person = ma.fields.String()
    name = ma.fields.String()
    token = ma.fields.String()
    server_time = Timestamp()


class RecentSession(ma.Schema):
    id = ma.fields.String(metadata={"description": "The session's id, to ask for a correction"})
    station = ma.fields.String()
    start_at = Timestamp(allow_none=True)
    end_at = Timestamp(allow_none=True)
    status = ma.fields.String()
    credited_seconds = ma.fields.Integer()
    evidence = ma.fields.String(metadata={"description": EVIDENCE})
    flags = ma.fields.List(ma.fields.String(), metadata={
        "description": "Why it waits for review, if it does (docs/trust.md)"})


class Summary(ma.Schema):
    person = ma.fields.Dict()
    month = ma.fields.String()
    credited_seconds = ma.fields.Integer()
    pending_seconds = ma.fields.Integer()
    credited_hours_total = ma.fields.Float(metadata={"description": "Over all time"})
    star_level = ma.fields.Integer(metadata={"description": "志愿者星级, 0-5"})
    hours_to_next_star = ma.fields.Float(allow_none=True)
    recent = ma.fields.List(ma.fields.Nested(RecentSession))


@blp.route("/people/<code>/invitation")
class Invitation(MethodView):
    @blp.response(201, InvitationOut)
    def post(self, code):
        """A one-time code for a volunteer to bind their phone (earlier codes stop working)"""
        person = visible_one(Person, code, "person")
        secret, invitation = services.invite(current_principal(), person)
        return {"person": person.code, "code": secret, "expires_at": invitation.expires_at}


@blp.route("/volunteer/enrol")
class EnrolPhone(MethodView):
    decorators = [limiter.limit(_enrol_limit)]

    @blp.arguments(PhoneEnrol)
    @blp.response(200, PhoneToken)
    @blp.public
    def post(self, data):
        """Bind a phone: person code and one-time code in, a personal device token out"""
        person, token = services.enrol_phone(data["person"], data["code"])
        return {"person": person.code, "name": person.name, "token": token,
                "server_time": utcnow()}


@blp.route("/volunteer/me")
class Me(MethodView):
    @blp.response(200, Summary)
    @blp.device_token
    def get(self):
        """The phone owner's recent sessions and this month's hours"""
        return services.my_summary(services.person_of_device(current_device()))
