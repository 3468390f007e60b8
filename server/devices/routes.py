"""Devices: administration, enrolment and token rotation."""
from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView

from server.auth.boundary import current_principal
from server.common.blueprint import Blueprint
from server.common.listing import page_of, scoped_query, visible_one
from server.common.schemas import ListArgs
from server.db_types import utcnow
from server.devices import services
from server.devices.chain import verify_chain
from server.devices.health import missing_scans
from server.devices.models import Device
from server.devices.schemas import (DeviceDetailSchema, DeviceOutSchema, DeviceSchema,
                                    DeviceTokenSchema, DeviceUpdateSchema, DeviceWithChainSchema,
                                    EnrolmentOutSchema, EnrolSchema)
from server.extensions import limiter

blp = Blueprint("devices", __name__, url_prefix="/devices",
                description="Field devices: enrolment, tokens, scope and health.")


class RevokeSchema(ma.Schema):
    reason = ma.fields.String(load_default=None, allow_none=True)


def _enrolment(device, token):
    return {"device": device, "enrolment_token": token,
            "enrolment_expires_at": device.enrolment_expires_at,
            "enrolment_qr": services.enrolment_qr_text(token)}


@blp.route("")
class Devices(MethodView):
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, DeviceDetailSchema(many=True))
    @blp.paginate()
    def get(self, args, pagination_parameters):
        """List devices in the caller's scope, with their health and the scans never received"""
        devices = page_of(scoped_query(Device, args), pagination_parameters)
        missing = missing_scans([d.id for d in devices])  # one query for the page
        for device in devices:
            device.missing_seq_ranges = missing[device.id].ranges
        return devices

    @blp.arguments(DeviceSchema)
    @blp.response(201, EnrolmentOutSchema)
    def post(self, data):
        """Create a device and its one-time enrolment code"""
        device, token = services.create_device(current_principal(), data)
        return _enrolment(device, token)


@blp.route("/<except(enrol):code>")
class DeviceByCode(MethodView):
    @blp.response(200, DeviceWithChainSchema)
    def get(self, code):
        """Read a device, its last reported health, the scans never received,
        and the breaks in its chain of scans"""
        device = visible_one(Device, code, "device")
        device.chain_report = verify_chain(device).as_dict()
        return device

    @blp.arguments(DeviceUpdateSchema)
    @blp.response(200, DeviceDetailSchema)
    def patch(self, data, code):
        """Change a device: name, notes, can_push, or its scope (stations and
        organisations, each a whole new list). What entered or left the scope
        reaches the device by pull; its scans waiting as out_of_scope are
        replayed at once."""
        return services.update_device(current_principal(),
                                      visible_one(Device, code, "device"), data)


@blp.route("/<except(enrol):code>/enrolment")
class DeviceEnrolment(MethodView):
    @blp.response(201, EnrolmentOutSchema)
    def post(self, code):
        """Issue a new enrolment code (the device must enrol again)"""
        device = visible_one(Device, code, "device")
        return _enrolment(device, services.renew_enrolment(current_principal(), device))


@blp.route("/<except(enrol):code>/revoke")
class DeviceRevoke(MethodView):
    @blp.arguments(RevokeSchema, required=False)
    @blp.response(200, DeviceOutSchema)
    def post(self, data, code):
        """Revoke a device; its token stops working at once"""
        return services.revoke_device(current_principal(), visible_one(Device, code, "device"),
                                      data["reason"])


def _enrol_limit() -> str:
    from flask import current_app
    return current_app.config["ENROL_RATE_LIMIT"]


@blp.route("/enrol")
class Enrol(MethodView):
    decorators = [limiter.limit(_enrol_limit)]

    @blp.arguments(EnrolSchema)
    @blp.response(200, DeviceTokenSchema)
    @blp.public
    def post(self, data):
        """Exchange a one-time enrolment token for the device's bearer token

        :raise 401: ``invalid_enrolment``.
        """
        device, token = services.enrol_device(data["token"], data["app_version"])
        return {"device": device.code, "token": token, "server_time": utcnow()}


@blp.route("/token/rotate")
class RotateToken(MethodView):
    @blp.response(200, DeviceTokenSchema)
    @blp.device_token
    def post(self):
        """Rotate the calling device's bearer token"""
        device = services.current_device()
        return {"device": device.code, "token": services.rotate_device_token(device),
                "server_time": utcnow()}
