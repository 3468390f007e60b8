"""Administration API for people."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from server.auth.boundary import current_principal
from server.common.listing import page_of, scoped_query, visible_one
from server.common.schemas import ListArgs
from server.people import services
from server.people.models import Person
from server.people.schemas import PersonOutSchema, PersonSchema, PersonUpdateSchema

blp = Blueprint("people", __name__, url_prefix="/people",
                description="Party members and volunteers, with branch history.")


@blp.route("")
class People(MethodView):
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, PersonOutSchema(many=True))
    @blp.paginate()
    def get(self, args, pagination_parameters):
        """List people in the caller's scope"""
        return page_of(scoped_query(Person, args), pagination_parameters)

    @blp.arguments(PersonSchema)
    @blp.response(201, PersonOutSchema)
    def post(self, data):
        """Create a person"""
        return services.create_person(current_principal(), data)


@blp.route("/<code>")
class PersonByCode(MethodView):
    @blp.response(200, PersonOutSchema)
    def get(self, code):
        """Read a person

        :raise 404: no such person in the caller's scope.
        """
        return visible_one(Person, code, "person")

    @blp.arguments(PersonUpdateSchema)
    @blp.response(200, PersonOutSchema)
    def patch(self, data, code):
        """Change a person, or move them to another branch from a date"""
        return services.update_person(current_principal(), visible_one(Person, code, "person"),
                                      data)
