"""Administration API for stations."""
from __future__ import annotations

from flask.views import MethodView

from server.auth.boundary import current_principal
from server.common.blueprint import Blueprint
from server.common.listing import page_of, scoped_query, visible_one
from server.common.schemas import ListArgs
from server.stations import services
from server.stations.models import Station
from server.stations.schemas import StationOutSchema, StationSchema, StationUpdateSchema

blp = Blueprint("stations", __name__, url_prefix="/stations",
                description="Stations: the places that carry a signed QR code.")


@blp.route("")
class Stations(MethodView):
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, StationOutSchema(many=True))
    @blp.paginate()
    def get(self, args, pagination_parameters):
        """List stations"""
        return page_of(scoped_query(Station, args), pagination_parameters)

    @blp.arguments(StationSchema)
    @blp.response(201, StationOutSchema)
    def post(self, data):
        """Create a station"""
        return services.create_station(current_principal(), data)


@blp.route("/<code>")
class StationByCode(MethodView):
    @blp.response(200, StationOutSchema)
    def get(self, code):
        """Read a station

        :raise 404: no such station.
        """
        return visible_one(Station, code, "station")

    @blp.arguments(StationUpdateSchema)
    @blp.response(200, StationOutSchema)
    def patch(self, data, code):
        """Change a station"""
        return services.update_station(current_principal(), visible_one(Station, code, "station"),
                                       data)
