"""QR codes, posters and signing keys."""
from __future__ import annotations

from flask import Response
from flask.views import MethodView
from sqlalchemy import select

from server.auth.boundary import current_principal, require_admin
from server.auth.policy import visible
from server.common.blueprint import Blueprint
from server.common.listing import visible_one
from server.common.lookup import by_code
from server.errors import ValidationFailed
from server.extensions import db
from server.org.models import Area, Organisation
from server.qr import keys, services
from server.qr.images import qr_png, qr_svg
from server.qr.models import SigningKey
from server.qr.posters import PosterStation, render_posters
from server.qr.schemas import (PosterArgs, ReasonSchema, SigningKeySchema, StationQrSchema)
from server.qr.signer import StationSigner
from server.stations.models import Station
from server.stations.schemas import StationOutSchema

blp = Blueprint("qr", __name__, url_prefix="",
                description="Signed station QR codes, posters and signing keys.")

#: Posters per request; a district's warm-bee stations (753) fit easily.
MAX_POSTERS = 5000


@blp.route("/stations/<code>/qr")
class StationQr(MethodView):
    @blp.response(200, StationQrSchema)
    def get(self, code):
        """The text of a station's current QR code"""
        station = visible_one(Station, code, "station")
        signer = StationSigner()
        return {"station": station.code, "version": station.qr_version,
                "key_id": signer.key_id, "url": signer.url_for(station)}


@blp.route("/stations/<code>/qr.png")
class StationQrPng(MethodView):
    @blp.response(200, content_type="image/png")
    def get(self, code):
        """The station's current QR code as PNG"""
        station = visible_one(Station, code, "station")
        return Response(qr_png(StationSigner().url_for(station)), mimetype="image/png")


@blp.route("/stations/<code>/qr.svg")
class StationQrSvg(MethodView):
    @blp.response(200, content_type="image/svg+xml")
    def get(self, code):
        """The station's current QR code as SVG"""
        station = visible_one(Station, code, "station")
        return Response(qr_svg(StationSigner().url_for(station)), mimetype="image/svg+xml")


@blp.route("/stations/<code>/qr/reissue")
class ReissueQr(MethodView):
    @blp.arguments(ReasonSchema, required=False)
    @blp.response(200, StationOutSchema)
    def post(self, data, code):
        """Reissue a station's QR code; older versions count as revoked from now on"""
        station = visible_one(Station, code, "station")
        return services.reissue_qr(current_principal(), station, data["reason"])


@blp.route("/stations/<code>/retire")
class RetireStation(MethodView):
    @blp.arguments(ReasonSchema, required=False)
    @blp.response(200, StationOutSchema)
    def post(self, data, code):
        """Retire a station; scans of its codes are kept but sent to review"""
        station = visible_one(Station, code, "station")
        return services.retire_station(current_principal(), station, data["reason"])


@blp.route("/posters.pdf")
class Posters(MethodView):
    @blp.arguments(PosterArgs, location="query")
    @blp.response(200, content_type="application/pdf")
    def get(self, args):
        """Print-ready posters for a selection of stations (A4, A5 or A6 per sheet)

        Select by ``station`` codes, an ``area`` subtree, a ``kind`` and/or a
        ``host_organisation`` subtree; the filters combine.
        """
        principal = current_principal()
        query = select(Station).where(visible(principal, Station),
                                      Station.status == "active").order_by(Station.code)
        if args["station"]:
            query = query.where(Station.code.in_(args["station"]))
        if args["area"]:
            area = by_code(Area, args["area"], "area")
            query = query.where(Station.area_id.in_(
                select(Area.id).where(Area.path.startswith(area.path, autoescape=True))))
        if args["kind"]:
            query = query.where(Station.kind == args["kind"])
        if args["host_organisation"]:
            host = by_code(Organisation, args["host_organisation"], "organisation")
            query = query.where(Station.host_organisation_id.in_(
                select(Organisation.id).where(
                    Organisation.path.startswith(host.path, autoescape=True))))
        stations = db.session.scalars(query.limit(MAX_POSTERS + 1)).all()
        if len(stations) > MAX_POSTERS:
            raise ValidationFailed(f"At most {MAX_POSTERS} posters at once; narrow the selection.",
                                   {"station": ["too many"]}, code="too_many_posters")
        pdf = render_posters(poster_stations(stations), args["layout"])
        return Response(pdf, mimetype="application/pdf", headers={
            "Content-Disposition": 'inline; filename="station-posters.pdf"'})


def poster_stations(stations):
    signer = StationSigner()
    for station in stations:
        yield PosterStation(code=station.code, name=station.name, kind_label=station.kind_label,
                            address=station.address or "", url=signer.url_for(station),
                            version=station.qr_version)


@blp.route("/signing-keys")
class SigningKeys(MethodView):
    @blp.response(200, SigningKeySchema(many=True))
    @blp.public
    def get(self):
        """Public station-signing keys (for offline verification), newest first"""
        keys.active_signing_key()
        return db.session.scalars(select(SigningKey).order_by(SigningKey.created_at.desc(),
                                                              SigningKey.id.desc())).all()


@blp.route("/signing-keys/rotate")
class RotateKey(MethodView):
    @blp.response(201, SigningKeySchema)
    def post(self):
        """Start signing new codes with a new key (older keys keep verifying)"""
        return keys.create_signing_key(require_admin().actor)


@blp.route("/signing-keys/<key_id>/retire")
class RetireKey(MethodView):
    @blp.response(200, SigningKeySchema)
    def post(self, key_id):
        """Retire a key: codes it signed stop verifying"""
        return keys.retire_signing_key(key_id, require_admin().actor)
