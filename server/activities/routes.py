"""Administration API for activities."""
from __future__ import annotations

from flask.views import MethodView

from server.activities import services
from server.activities.models import Activity
from server.activities.attendance import attendance, mark_leave
from server.activities.schemas import (ActivityOutSchema, ActivitySchema, ActivityUpdateSchema,
                                       AttendanceSchema, LeaveSchema)
from server.auth.boundary import current_principal
from server.auth.policy import may_read_members
from server.common.blueprint import Blueprint
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
        require_members_of(activity.organisation)
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


def require_members_of(organisation) -> None:
    """Attendance names an organisation's members (and their reasons for
    leave): for those who manage it, not for a station it hosts.

    :raise Forbidden: the caller sees the organisation but not its members.
    """
    if not may_read_members(current_principal(), organisation):
        raise Forbidden("Only those who manage the organisation see its attendance.")
