"""Administration API for activities."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from server.activities import services
from server.activities.models import Activity
from server.activities.attendance import attendance, mark_leave, meetings_in_period
from server.activities.schemas import (ActivityOutSchema, ActivitySchema, ActivityUpdateSchema,
                                       AttendanceSchema, AttendanceSummarySchema, LeaveSchema,
                                       MeetingsArgs)
from server.auth.boundary import current_principal
from server.auth.policy import may_read_members
from server.common.listing import page_of, scoped_query, visible_one
from server.common.schemas import ListArgs
from server.errors import Forbidden

blp = Blueprint("activities", __name__, url_prefix="/activities",
                description="Meetings of organisational life and volunteer services.")


@blp.route("")
class Activities(MethodView):
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, ActivityOutSchema(many=True))
    @blp.paginate()
    def get(self, args, pagination_parameters):
        """List activities in the caller's scope"""
        query = scoped_query(Activity, args, order_by=Activity.planned_start_at.desc(),
                             text_columns=("code", "title"))
        return page_of(query, pagination_parameters)

    @blp.arguments(ActivitySchema)
    @blp.response(201, ActivityOutSchema)
    def post(self, data):
        """Plan an activity"""
        return services.create_activity(current_principal(), data)


@blp.route("/<code>")
class ActivityByCode(MethodView):
    @blp.response(200, ActivityOutSchema)
    def get(self, code):
        """Read an activity

        :raise 404: no such activity in the caller's scope.
        """
        return visible_one(Activity, code, "activity")

    @blp.arguments(ActivityUpdateSchema)
    @blp.response(200, ActivityOutSchema)
    def patch(self, data, code):
        """Change an activity"""
        return services.update_activity(current_principal(),
                                        visible_one(Activity, code, "activity"), data)


@blp.route("/<code>/attendance")
class Attendance(MethodView):
    @blp.response(200, AttendanceSchema)
    def get(self, code):
        """Attendance of an activity against its organisation's roster, with quorum

        :raise 403: the caller sees the activity (at a station they manage)
            but not its organisation's members.
        """
        activity = visible_one(Activity, code, "activity")
        _require_members_of(activity.organisation)
        return attendance(activity)


@blp.route("/<code>/leave")
class Leave(MethodView):
    @blp.arguments(LeaveSchema)
    @blp.response(200, AttendanceSchema)
    def post(self, data, code):
        """Mark a member on leave for a meeting, with the reason"""
        activity = visible_one(Activity, code, "activity")
        mark_leave(current_principal(), activity, data["person"], data["reason"])
        return attendance(activity)


@blp.route("/meetings")
class Meetings(MethodView):
    @blp.arguments(MeetingsArgs, location="query")
    @blp.response(200, AttendanceSummarySchema(many=True))
    def get(self, args):
        """A branch's meetings in a month, each with its attendance figures

        :raise 403: the caller sees the organisation (hosting a station they
            manage) but not its members.
        """
        from server.org.models import Organisation
        from server.reports.services import period_of
        branch = visible_one(Organisation, args["branch"], "organisation")
        _require_members_of(branch)
        start, end = period_of({"month": args["month"]})
        return meetings_in_period(branch, start, end)


def _require_members_of(organisation) -> None:
    """Attendance names an organisation's members (and their reasons for
    leave): for those who manage it, not for a station it hosts."""
    if not may_read_members(current_principal(), organisation):
        raise Forbidden("Only those who manage the organisation see its attendance.")
