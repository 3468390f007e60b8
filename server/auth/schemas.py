"""Wire shapes of users, grants and tokens."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate, validates_schema

from server.auth.models import ROLE_SCOPES
from server.common.schemas import Code, Timestamp


class GrantSchema(ma.Schema):
    role = ma.fields.String(required=True, validate=validate.OneOf(list(ROLE_SCOPES)))
    area = Code(load_default=None, allow_none=True)
    organisation = Code(load_default=None, allow_none=True)
    station = Code(load_default=None, allow_none=True)

    @validates_schema
    def _scope_matches_role(self, data, **kwargs):
        needed = ROLE_SCOPES[data["role"]]
        given = [k for k in ("area", "organisation", "station") if data.get(k)]
        if needed is None and given:
            raise ma.ValidationError("an admin grant has no scope", given[0])
        if needed is not None and given != [needed]:
            raise ma.ValidationError(f"role {data['role']} needs exactly a {needed}", needed)


class GrantOutSchema(ma.Schema):
    role = ma.fields.String()
    area = ma.fields.Function(lambda g: g.area.code if g.area else None)
    organisation = ma.fields.Function(lambda g: g.organisation.code if g.organisation else None)
    station = ma.fields.Function(lambda g: g.station.code if g.station else None)


class UserSchema(ma.Schema):
    username = Code(required=True)
    display_name = ma.fields.String(required=True, validate=validate.Length(1, 100))
    password = ma.fields.String(required=True, load_only=True,
                                validate=validate.Length(10, 200))
    grants = ma.fields.List(ma.fields.Nested(GrantSchema), load_default=list)


class UserOutSchema(ma.Schema):
    username = ma.fields.String()
    display_name = ma.fields.String()
    active = ma.fields.Boolean()
    grants = ma.fields.List(ma.fields.Nested(GrantOutSchema))


class UserUpdateSchema(ma.Schema):
    display_name = ma.fields.String(validate=validate.Length(1, 100))
    password = ma.fields.String(load_only=True, validate=validate.Length(10, 200))
    active = ma.fields.Boolean()
    grants = ma.fields.List(ma.fields.Nested(GrantSchema))


class CredentialsSchema(ma.Schema):
    #: Checked as a code, as usernames are made: anything else cannot match.
    username = Code(required=True)
    password = ma.fields.String(required=True, load_only=True, validate=validate.Length(1, 200))


class TokenOutSchema(ma.Schema):
    token = ma.fields.String()
    expires_at = Timestamp()
    username = ma.fields.String()
    roles = ma.fields.List(ma.fields.String())
