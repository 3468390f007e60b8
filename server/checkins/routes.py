"""Sync push, and the quarantine for administrators."""
from __future__ import annotations

from flask import current_app, jsonify, request
from flask.views import MethodView

from server.auth.boundary import require_admin
from server.auth.tokens import bearer_token, hash_token
from server.checkins import ingest, reprocess
from server.checkins.models import QuarantinedEvent
from server.checkins.schemas import (DismissSchema, PushResponseSchema, PushSchema,
                                     QuarantineArgs, QuarantinedOutSchema, ReplaySchema)
from server.common.blueprint import Blueprint
from server.common.listing import page_of
from server.database_faults import driver_error_classes, worth_retrying
from server.devices.services import current_device
from server.errors import AppError, NotFound
from server.extensions import db, limiter

blp = Blueprint("sync", __name__, url_prefix="/sync",
                description="The device sync contract (docs/sync-protocol.md).")
quarantine_blp = Blueprint("quarantine", __name__, url_prefix="/quarantine",
                           description="Events that reached the server but cannot count yet.")

#: Times a batch is tried when the database says to try again (``worth_retrying``).
PUSH_ATTEMPTS = 3


def _device_key() -> str:
    token = bearer_token(request.headers.get("Authorization")) or request.remote_addr or ""
    return "device:" + hash_token(token)[:16]


def _push_limit() -> str:
    return current_app.config["PUSH_RATE_LIMIT"]


@blp.route("/push")
class Push(MethodView):
    decorators = [limiter.limit(_push_limit, key_func=_device_key)]

    @blp.doc(requestBody={"required": True, "content": {"application/json": {
        "schema": PushSchema}}})
    @blp.response(200, PushResponseSchema)
    @blp.alt_response(400, description="Not JSON, or no events list")
    @blp.alt_response(401, description="Missing or revoked device token")
    @blp.alt_response(403, description="A device that may not push at all")
    @blp.alt_response(413, description="More events or bytes than the limits in the body")
    @blp.alt_response(429, description="Too many requests; see Retry-After")
    @blp.device_token
    def post(self):
        """Upload a batch of queued scans

        One result per event, in request order; the batch is durable before
        the answer. Re-sending a batch is safe.
        """
        device = current_device()
        if not device.can_push:
            raise AppError("push_not_allowed", "This device may only pull.", status=403)
        if (request.content_length or 0) > current_app.config["PUSH_MAX_BYTES"]:
            raise AppError("batch_too_large", "The batch has more bytes than allowed.",
                           status=413, limits=ingest.push_limits())
        body = request.get_data(cache=False)
        for attempt in range(1, PUSH_ATTEMPTS + 1):
            try:
                # Serialised by hand: the answer is plain data, and the schema
                # (kept above for the OpenAPI description) cost ~15 ms a batch.
                # The pairing worker pairs what the batch queued.
                return jsonify(ingest.record_batch(device, body))
            except tuple(driver_error_classes()) as error:
                # The fast paths raise the drivers' own errors, the rest
                # SQLAlchemy's: both are judged alike.
                if not worth_retrying(error) or attempt == PUSH_ATTEMPTS:
                    raise
                # The rollback expires ``device``; it reloads on next use.
                db.session.rollback()


@quarantine_blp.route("")
class Quarantine(MethodView):
    @quarantine_blp.arguments(QuarantineArgs, location="query")
    @quarantine_blp.response(200, QuarantinedOutSchema(many=True))
    @quarantine_blp.paginate()
    def get(self, args, pagination_parameters):
        """List quarantined events (administrators)"""
        require_admin()
        return page_of(reprocess.listing(args["status"], args["reason"]),
                       pagination_parameters)


def _entry(entry_id: int) -> QuarantinedEvent:
    entry = db.session.get(QuarantinedEvent, entry_id)
    if entry is None:
        raise NotFound("quarantined event", str(entry_id))
    return entry


# Entry numbers are 32-bit on PostgreSQL: a larger one is no entry (404), not
# a number the database refuses (500).
@quarantine_blp.route("/<int(max=2147483647):entry_id>/replay")
class Replay(MethodView):
    @quarantine_blp.arguments(ReplaySchema, required=False)
    @quarantine_blp.response(200, QuarantinedOutSchema)
    def post(self, data, entry_id):
        """Replay a quarantined event, optionally repaired"""
        principal = require_admin()
        entry = _entry(entry_id)
        reprocess.replay_for_administrator(entry, principal.actor, data["event"])
        return entry


@quarantine_blp.route("/<int(max=2147483647):entry_id>/dismiss")
class Dismiss(MethodView):
    @quarantine_blp.arguments(DismissSchema)
    @quarantine_blp.response(200, QuarantinedOutSchema)
    def post(self, data, entry_id):
        """Dismiss a quarantined event with a reason (it stays on record)"""
        principal = require_admin()
        entry = _entry(entry_id)
        reprocess.dismiss_for_administrator(entry, principal.actor, data["reason"])
        return entry
