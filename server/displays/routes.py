"""Station displays: register (a user who manages the station, or its device),
list, read, revoke."""
from __future__ import annotations

from flask.views import MethodView
from server.common.blueprint import Blueprint

from server.auth.boundary import current_principal
from server.common.listing import page_of
from server.devices.services import current_device
from server.displays import services
from server.displays.schemas import DisplayArgs, DisplayIn, DisplayOut, RevokeDisplay
from server.errors import Unauthorized

blp = Blueprint("displays", __name__, url_prefix="/displays",
                description="Station displays: screens showing a check-in code that "
                            "changes every 30 s, signed by their own key.")


def _registrant():
    """A user's token, or else a station device's."""
    try:
        return current_principal()
    except Unauthorized:
        return current_device()


@blp.route("")
class Displays(MethodView):
    @blp.arguments(DisplayArgs, location="query")
    @blp.response(200, DisplayOut(many=True))
    @blp.paginate()
    def get(self, args, pagination_parameters):
        """Displays of the stations the caller manages, newest first"""
        return page_of(services.visible_displays(current_principal(), args["station"],
                                                 args["status"]), pagination_parameters)

    @blp.user_or_device_token
    @blp.arguments(DisplayIn)
    @blp.response(201, DisplayOut)
    @blp.alt_response(200, schema=DisplayOut, description="This key was registered before")
    @blp.alt_response(403, description="`forbidden`: not a station you manage, or "
                                       "(a device's token) not one it serves")
    @blp.alt_response(409, description="`station_retired`, `duplicate_key`")
    def post(self, data):
        """Register a screen's public key as a display of a station

        With the token of a user who manages the station, or of a station
        device (not a personal phone) whose scope covers it. The screen keeps
        its private key; the codes it shows are verified with this key.
        """
        display, created = services.register_display(_registrant(), data)
        return display, 201 if created else 200


@blp.route("/<code>")
class DisplayByCode(MethodView):
    @blp.response(200, DisplayOut)
    def get(self, code):
        """Read a display of a station the caller manages"""
        return services.display_by_code(current_principal(), code)


@blp.route("/<code>/revoke")
class RevokeDisplayView(MethodView):
    @blp.arguments(RevokeDisplay)
    @blp.response(200, DisplayOut)
    def post(self, data, code):
        """Revoke a display: its codes no longer prove presence, devices drop its key"""
        principal = current_principal()
        return services.revoke_display(principal, services.display_by_code(principal, code),
                                       data["reason"])
