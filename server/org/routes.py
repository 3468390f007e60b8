"""Administration API for areas and organisations."""
from __future__ import annotations

from flask.views import MethodView

from server.activities.attendance import meetings_in_period
from server.activities.schemas import AttendanceSummarySchema, MeetingsArgs
from server.auth.boundary import current_principal
from server.common.blueprint import Blueprint
from server.common.listing import page_of, scoped_query, visible_one
from server.common.schemas import ListArgs
from server.org import services
from server.org.models import Area, Organisation
from server.org.schemas import (AreaOutSchema, AreaSchema, AreaUpdateSchema,
                                OrganisationOutSchema, OrganisationSchema,
                                OrganisationUpdateSchema)

areas_blp = Blueprint("areas", __name__, url_prefix="/areas",
                      description="The area tree: city, district, street, community, estate.")
organisations_blp = Blueprint("organisations", __name__, url_prefix="/organisations",
                              description="The party organisation tree and volunteer teams.")


@areas_blp.route("")
class Areas(MethodView):
    @areas_blp.arguments(ListArgs, location="query")
    @areas_blp.response(200, AreaOutSchema(many=True))
    @areas_blp.paginate()
    def get(self, args, pagination_parameters):
        """List areas"""
        return page_of(scoped_query(Area, args, order_by=Area.path), pagination_parameters)

    @areas_blp.arguments(AreaSchema)
    @areas_blp.response(201, AreaOutSchema)
    def post(self, data):
        """Create an area"""
        return services.create_area(current_principal(), data)


@areas_blp.route("/<code>")
class AreaByCode(MethodView):
    @areas_blp.response(200, AreaOutSchema)
    def get(self, code):
        """Read an area

        :raise 404: no such area.
        """
        return visible_one(Area, code, "area")

    @areas_blp.arguments(AreaUpdateSchema)
    @areas_blp.response(200, AreaOutSchema)
    def patch(self, data, code):
        """Change an area's name or kind"""
        return services.update_area(current_principal(), visible_one(Area, code, "area"), data)


@organisations_blp.route("")
class Organisations(MethodView):
    @organisations_blp.arguments(ListArgs, location="query")
    @organisations_blp.response(200, OrganisationOutSchema(many=True))
    @organisations_blp.paginate()
    def get(self, args, pagination_parameters):
        """List organisations in the caller's scope"""
        return page_of(scoped_query(Organisation, args, order_by=Organisation.path),
                       pagination_parameters)

    @organisations_blp.arguments(OrganisationSchema)
    @organisations_blp.response(201, OrganisationOutSchema)
    def post(self, data):
        """Create an organisation"""
        return services.create_organisation(current_principal(), data)


@organisations_blp.route("/<code>")
class OrganisationByCode(MethodView):
    @organisations_blp.response(200, OrganisationOutSchema)
    def get(self, code):
        """Read an organisation

        :raise 404: no such organisation in the caller's scope.
        """
        return visible_one(Organisation, code, "organisation")

    @organisations_blp.arguments(OrganisationUpdateSchema)
    @organisations_blp.response(200, OrganisationOutSchema)
    def patch(self, data, code):
        """Change an organisation"""
        organisation = visible_one(Organisation, code, "organisation")
        return services.update_organisation(current_principal(), organisation, data)


@organisations_blp.route("/<code>/meetings")
class OrganisationMeetings(MethodView):
    @organisations_blp.arguments(MeetingsArgs, location="query")
    @organisations_blp.response(200, AttendanceSummarySchema(many=True))
    def get(self, args, code):
        """A branch's meetings in a month, each with its attendance figures

        (Under the organisation, not ``/activities/meetings``: that path
        shadowed the activity coded ``meetings``.)

        :raise 403: the caller sees the organisation (hosting a station they
            manage) but not its members.
        """
        from server.activities.routes import require_members_of
        from server.reports.services import period_of
        branch = visible_one(Organisation, code, "organisation")
        require_members_of(branch)
        start, end = period_of({"month": args["month"]})
        return meetings_in_period(branch, start, end)
