"""Sessions: lists for review, one session's evidence, and decisions."""
from __future__ import annotations

from flask.views import MethodView
from sqlalchemy import select, true

from server.auth.boundary import current_principal, require_admin
from server.auth.policy import visible
from server.common.blueprint import Blueprint
from server.common.listing import page_of
from server.common.lookup import by_code
from server.errors import NotFound
from server.extensions import db
from server.org.models import Organisation
from server.people.models import Person
from server.pairing import queue as pairing_queue
from server.service_sessions import retroactive, services
from server.service_sessions.models import ServiceSession, flagged
from server.service_sessions.schemas import (PairingBacklogSchema, RetroactiveEntrySchema,
                                             ReviewSchema, SessionArgs, SessionOutSchema)
from server.stations.models import Station

blp = Blueprint("sessions", __name__, url_prefix="/sessions",
                description="Service sessions derived from scans, and their review.")


def _visible_sessions(principal):
    # Station managers read the sessions at their stations (server/auth/policy.py).
    return select(ServiceSession).where(visible(principal, ServiceSession))


@blp.route("")
class Sessions(MethodView):
    @blp.arguments(SessionArgs, location="query")
    @blp.response(200, SessionOutSchema(many=True))
    @blp.paginate()
    def get(self, args, pagination_parameters):
        """List sessions of the caller's organisations or at their stations, newest first"""
        principal = current_principal()
        query = _visible_sessions(principal)
        if args["person"]:
            query = query.where(ServiceSession.person_id == by_code(Person, args["person"]).id)
        if args["station"]:
            query = query.where(ServiceSession.station_id == by_code(Station, args["station"]).id)
        if args["branch"]:
            branch = by_code(Organisation, args["branch"])
            query = query.where(ServiceSession.branch_id.in_(select(Organisation.id).where(
                Organisation.path.startswith(branch.path, autoescape=True))))
        if args["status"]:
            query = query.where(ServiceSession.status == args["status"])
        if args["flag"]:
            query = query.where(flagged(args["flag"]))
        if args["needs_review"]:
            query = query.where(ServiceSession.awaiting_review == true())
        if args["date_from"]:
            query = query.where(ServiceSession.local_date >= args["date_from"])
        if args["date_to"]:
            query = query.where(ServiceSession.local_date <= args["date_to"])
        query = query.order_by(ServiceSession.key_at.desc(), ServiceSession.id.desc())
        return page_of(query, pagination_parameters)


def _visible_session(key_event_id: str) -> ServiceSession:
    principal = current_principal()
    session = services.session_by_id(key_event_id)
    allowed = db.session.scalar(_visible_sessions(principal).where(
        ServiceSession.id == session.id).with_only_columns(ServiceSession.id))
    if allowed is None:
        raise NotFound("session", key_event_id)
    return session


@blp.get("/pairing-backlog")
@blp.response(200, PairingBacklogSchema)
def pairing_backlog():
    """How much re-pairing waits after pushes (administrators)

    Pushes answer before their sessions are paired; this says how many
    people's sessions may still change. Zero rows: everything pushed is paired.
    """
    require_admin()
    return pairing_queue.backlog()


@blp.post("/retroactive")
@blp.arguments(RetroactiveEntrySchema)
@blp.response(201, SessionOutSchema)
def enter_retroactive(data):
    """Enter a session served without a scan (补录)

    Stored as a check-in and a check-out flagged `retroactive`, paired like
    scans; the session waits for review, and whoever entered it may reject
    it but not approve or amend it (`self_certification`, 403).

    :raise 403: the session would count for a branch outside the caller's scope.
    :raise 404: unknown person, station or activity (or one the caller cannot see).
    :raise 409: `overlaps_session`: the person has a session at that time; amend it.
    :raise 422: `invalid_times`: end before start, in the future, longer than
        `MAX_SESSION_S`, or older than `MAX_EVENT_AGE_DAYS`.
    """
    return retroactive.enter_retroactively(current_principal(), data)


@blp.route("/<except(retroactive, 'pairing-backlog'):session_id>")
class SessionById(MethodView):
    @blp.response(200, SessionOutSchema)
    def get(self, session_id):
        """One session

        :raise 404: no such session in the caller's scope.
        """
        return _visible_session(session_id)


@blp.route("/<except(retroactive, 'pairing-backlog'):session_id>/review")
class ReviewSession(MethodView):
    @blp.arguments(ReviewSchema)
    @blp.response(200, SessionOutSchema)
    def post(self, data, session_id):
        """Approve, reject or amend a session (the original is kept, the trail audited)"""
        return services.review_session(current_principal(), _visible_session(session_id), data)
