"""Correction requests: sent and read from volunteers' phones, answered by secretaries."""
from __future__ import annotations

from flask.views import MethodView

from server.auth.boundary import current_principal
from server.checkins.routes import _device_key
from server.common.blueprint import Blueprint
from server.common.listing import page_of
from server.corrections import services
from server.corrections.schemas import (CloseCorrection, CorrectionArgs, CorrectionIn,
                                        CorrectionOut)
from server.devices.services import current_device
from server.extensions import limiter

blp = Blueprint("corrections", __name__, url_prefix="",
                description="Volunteers' requests to correct their service records (更正申请).")


@blp.route("/volunteer/corrections")
class OwnCorrections(MethodView):
    # Per phone: a person's requests are read by people, so a few an hour is plenty.
    decorators = [limiter.limit("30 per hour", key_func=_device_key, methods=["POST"])]

    @blp.arguments(CorrectionIn)
    @blp.response(201, CorrectionOut)
    @blp.alt_response(200, schema=CorrectionOut, description="The same id was sent before")
    @blp.device_token
    def post(self, data):
        """Ask for a correction from the volunteer's own phone

        Name the session (its `id` from `/volunteer/me`), or the station and
        when you served. Nothing changes until a secretary answers.

        :raise 403: not a personal phone.
        :raise 404: a session that is not yours, or an unknown station.
        :raise 409: `too_many_open_requests` (10 waiting), `id_reused`.
        """
        request, created = services.submit(current_device(), data)
        return request, 201 if created else 200

    @blp.response(200, CorrectionOut(many=True))
    @blp.device_token
    def get(self):
        """The phone owner's latest 20 requests and their answers"""
        return services.own_requests(current_device())


@blp.route("/corrections")
class Corrections(MethodView):
    @blp.arguments(CorrectionArgs, location="query")
    @blp.response(200, CorrectionOut(many=True))
    @blp.paginate()
    def get(self, args, pagination_parameters):
        """Requests of the caller's members, oldest first (default: open ones)"""
        return page_of(services.visible_requests(current_principal(), args["status"]),
                       pagination_parameters)


@blp.route("/corrections/<request_id>/close")
class CloseRequest(MethodView):
    @blp.arguments(CloseCorrection)
    @blp.response(200, CorrectionOut)
    def post(self, data, request_id):
        """Answer a request: `amended`, `entered` (补录) or `declined` (with an answer)

        :raise 404: no such request among the caller's members.
        :raise 409: `not_open`: answered already.
        """
        principal = current_principal()
        return services.close(principal, services.request_by_id(principal, request_id),
                              data["outcome"], data.get("answer"))
