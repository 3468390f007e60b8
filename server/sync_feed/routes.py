"""GET /api/v1/sync/pull: reference data for offline work, as pages of changes."""
from __future__ import annotations

import marshmallow as ma
from flask import jsonify
from flask.views import MethodView
from marshmallow import validate

from server.common.blueprint import Blueprint
from server.devices.services import current_device
from server.sync_feed.services import pull_changes

blp = Blueprint("sync_pull", __name__, url_prefix="/sync",
                description="Pull: stations, people, activities, signing keys and "
                            "station displays' keys a device needs offline.")


class PullArgs(ma.Schema):
    cursor = ma.fields.String(load_default=None, validate=validate.Length(max=200),
                              metadata={"description": "From the previous page; absent = all"})
    limit = ma.fields.Integer(load_default=None, validate=validate.Range(1, 100000),
                              metadata={"description": "Changes per page (capped by the server)"})


class PulledStation(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    kind = ma.fields.String()
    address = ma.fields.String(allow_none=True)
    latitude = ma.fields.Float(allow_none=True)
    longitude = ma.fields.Float(allow_none=True)
    geofence_radius_m = ma.fields.Integer()
    opening_hours = ma.fields.String(allow_none=True)
    qr_version = ma.fields.Integer()
    status = ma.fields.String()


class PulledPerson(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    kind = ma.fields.String()
    branch = ma.fields.String(allow_none=True)


class PulledActivity(ma.Schema):
    code = ma.fields.String()
    title = ma.fields.String()
    kind = ma.fields.String()
    organisation = ma.fields.String()
    station = ma.fields.String(allow_none=True)
    planned_start_at = ma.fields.String()
    planned_end_at = ma.fields.String()


class PulledKey(ma.Schema):
    key_id = ma.fields.String()
    public_key = ma.fields.String(metadata={"description": "Raw Ed25519 key, base64url"})
    active = ma.fields.Boolean()
    retired_at = ma.fields.String(allow_none=True)


class PulledDisplay(ma.Schema):
    code = ma.fields.String(metadata={"description": "The display, `d` in its codes"})
    station = ma.fields.String()
    public_key = ma.fields.String(metadata={"description": "Raw Ed25519 key, base64url"})


class Deletion(ma.Schema):
    type = ma.fields.String(metadata={"description": "station | person | activity | "
                                                     "signing_key | display"})
    code = ma.fields.String()


class PullPage(ma.Schema):
    cursor = ma.fields.String(metadata={"description": "Opaque; send it to get the next page"})
    has_more = ma.fields.Boolean()
    server_time = ma.fields.String()
    stations = ma.fields.List(ma.fields.Nested(PulledStation))
    people = ma.fields.List(ma.fields.Nested(PulledPerson))
    activities = ma.fields.List(ma.fields.Nested(PulledActivity))
    signing_keys = ma.fields.List(ma.fields.Nested(PulledKey))
    displays = ma.fields.List(ma.fields.Nested(PulledDisplay), metadata={
        "description": "Station displays' keys, to verify their codes offline; a revoked "
                       "display comes as a deletion"})
    deletions = ma.fields.List(ma.fields.Nested(Deletion))


@blp.route("/pull")
class Pull(MethodView):
    @blp.arguments(PullArgs, location="query")
    @blp.response(200, PullPage)
    @blp.alt_response(400, description="invalid_cursor")
    @blp.alt_response(401, description="Missing or revoked device token")
    @blp.device_token
    def get(self, args):
        """Changes of reference data since a cursor

        Objects are sent whole in their current state; ones that left the
        device's scope (or were deactivated) come as deletions. Keep calling
        with the returned cursor while ``has_more``; store the cursor only
        after the page is applied, and a cut-off pull resumes where it was.
        """
        page = pull_changes(current_device(), args["cursor"], args["limit"])
        return jsonify(page)
