"""Wire shapes of areas and organisations."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from server.common.schemas import Code
from server.org.models import AREA_KINDS, ORGANISATION_KINDS


class AreaSchema(ma.Schema):
    code = Code(required=True)
    name = ma.fields.String(required=True, validate=validate.Length(1, 200))
    kind = ma.fields.String(required=True, validate=validate.OneOf(AREA_KINDS))
    parent = Code(load_default=None, allow_none=True,
                  metadata={"description": "Code of the parent area"})


class AreaOutSchema(AreaSchema):
    parent = ma.fields.Function(lambda a: a.parent.code if a.parent else None)
    path = ma.fields.String(dump_only=True)


class AreaUpdateSchema(ma.Schema):
    name = ma.fields.String(validate=validate.Length(1, 200))
    kind = ma.fields.String(validate=validate.OneOf(AREA_KINDS))


class OrganisationSchema(ma.Schema):
    code = Code(required=True)
    name = ma.fields.String(required=True, validate=validate.Length(1, 200))
    kind = ma.fields.String(required=True, validate=validate.OneOf(ORGANISATION_KINDS))
    parent = Code(load_default=None, allow_none=True,
                  metadata={"description": "Code of the parent organisation"})
    area = Code(load_default=None, allow_none=True,
                metadata={"description": "Code of the area it sits in"})


class OrganisationOutSchema(OrganisationSchema):
    parent = ma.fields.Function(lambda o: o.parent.code if o.parent else None)
    area = ma.fields.Function(lambda o: o.area.code if o.area else None)
    path = ma.fields.String(dump_only=True)


class OrganisationUpdateSchema(ma.Schema):
    name = ma.fields.String(validate=validate.Length(1, 200))
    kind = ma.fields.String(validate=validate.OneOf(ORGANISATION_KINDS))
    area = Code(allow_none=True)
