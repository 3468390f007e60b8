"""Administration API for people."""
from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from marshmallow import validate

from server.auth.boundary import current_principal
from server.common.blueprint import Blueprint
from server.common.listing import page_of, scoped_query, visible_one
from server.common.schemas import BINARY, ListArgs, Timestamp
from server.people import services
from server.people.models import Person
from server.people.star_levels import standings
from server.people.schemas import PersonOutSchema, PersonSchema, PersonUpdateSchema
from server.service_sessions.schemas import CREDITED_BY, EVIDENCE

blp = Blueprint("people", __name__, url_prefix="/people",
                description="Party members and volunteers, with branch history.")


@blp.route("")
class People(MethodView):
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, PersonOutSchema(many=True))
    @blp.paginate()
    def get(self, args, pagination_parameters):
        """List people in the caller's scope, with their hours and star level"""
        people = page_of(scoped_query(Person, args), pagination_parameters)
        found = standings([p.id for p in people])  # one query for the page
        for person in people:
            person.standing = found[person.id]
        return people

    @blp.arguments(PersonSchema)
    @blp.response(201, PersonOutSchema)
    def post(self, data):
        """Create a person"""
        return services.create_person(current_principal(), data)


@blp.route("/<code>")
class PersonByCode(MethodView):
    @blp.response(200, PersonOutSchema)
    def get(self, code):
        """Read a person

        :raise 404: no such person in the caller's scope.
        """
        return visible_one(Person, code, "person")

    @blp.arguments(PersonUpdateSchema)
    @blp.response(200, PersonOutSchema)
    def patch(self, data, code):
        """Change a person, or move them to another branch from a date"""
        return services.update_person(current_principal(), visible_one(Person, code, "person"),
                                      data)


class RecordArgs(ma.Schema):
    date_from = ma.fields.Date(required=True, data_key="from")
    date_to = ma.fields.Date(required=True, data_key="to")
    format = ma.fields.String(load_default="json", validate=validate.OneOf(["json", "pdf"]))


class RecordSessionSchema(ma.Schema):
    id = ma.fields.String()
    date = ma.fields.Date()
    station = ma.fields.String()
    station_name = ma.fields.String()
    activity = ma.fields.String(allow_none=True)
    organisation = ma.fields.String(allow_none=True)
    start_at = Timestamp(allow_none=True)
    end_at = Timestamp(allow_none=True)
    status = ma.fields.String()
    credited_seconds = ma.fields.Integer()
    pending_seconds = ma.fields.Integer()
    credited_by = ma.fields.Dict(metadata={"description": CREDITED_BY})
    evidence = ma.fields.String(metadata={"description": EVIDENCE})
    reviewed_by = ma.fields.String(allow_none=True)
    review_reason = ma.fields.String(allow_none=True)


class RecordSchema(ma.Schema):
    person = ma.fields.Dict()
    date_from = ma.fields.Date(data_key="from", attribute="from")
    date_to = ma.fields.Date(data_key="to", attribute="to")
    sessions = ma.fields.List(ma.fields.Nested(RecordSessionSchema))
    credited_seconds = ma.fields.Integer()
    pending_seconds = ma.fields.Integer()
    credited_by = ma.fields.Dict(metadata={"description": CREDITED_BY})


@blp.route("/<code>/record")
class ServiceRecord(MethodView):
    @blp.arguments(RecordArgs, location="query")
    @blp.response(200, RecordSchema)
    @blp.alt_response(200, success=True, content_type="application/pdf", schema=BINARY,
                      description="format=pdf")
    def get(self, args, code):
        """A person's service record (format=pdf: a draft certificate to seal)"""
        from flask import Response

        from server.service_sessions.record import record_pdf, service_record
        record = service_record(visible_one(Person, code, "person"), args["date_from"],
                                args["date_to"])
        if args["format"] == "pdf":
            return Response(record_pdf(record), mimetype="application/pdf", headers={
                "Content-Disposition": f'inline; filename="record-{code}.pdf"'})
        return record
