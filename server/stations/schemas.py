"""Wire shapes of stations."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from server.common.schemas import Code
from server.stations.models import STATION_KINDS, STATION_STATUSES


class StationSchema(ma.Schema):
    code = Code(required=True)
    name = ma.fields.String(required=True, validate=validate.Length(1, 200))
    kind = ma.fields.String(required=True, validate=validate.OneOf(list(STATION_KINDS)))
    area = Code(load_default=None, allow_none=True)
    host_organisation = Code(load_default=None, allow_none=True)
    address = ma.fields.String(load_default=None, allow_none=True,
                               validate=validate.Length(max=300))
    latitude = ma.fields.Float(load_default=None, allow_none=True,
                               validate=validate.Range(-90, 90))
    longitude = ma.fields.Float(load_default=None, allow_none=True,
                                validate=validate.Range(-180, 180))
    geofence_radius_m = ma.fields.Integer(load_default=200, validate=validate.Range(10, 100000))
    opening_hours = ma.fields.String(load_default=None, allow_none=True,
                                     validate=validate.Length(max=200))


class StationUpdateSchema(ma.Schema):
    name = ma.fields.String(validate=validate.Length(1, 200))
    kind = ma.fields.String(validate=validate.OneOf(list(STATION_KINDS)))
    area = Code(allow_none=True)
    host_organisation = Code(allow_none=True)
    address = ma.fields.String(allow_none=True, validate=validate.Length(max=300))
    latitude = ma.fields.Float(allow_none=True, validate=validate.Range(-90, 90))
    longitude = ma.fields.Float(allow_none=True, validate=validate.Range(-180, 180))
    geofence_radius_m = ma.fields.Integer(validate=validate.Range(10, 100000))
    opening_hours = ma.fields.String(allow_none=True, validate=validate.Length(max=200))


class StationOutSchema(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    kind = ma.fields.String()
    kind_label = ma.fields.String()
    area = ma.fields.Function(lambda s: s.area.code if s.area else None)
    host_organisation = ma.fields.Function(
        lambda s: s.host_organisation.code if s.host_organisation else None)
    address = ma.fields.String(allow_none=True)
    latitude = ma.fields.Float(allow_none=True)
    longitude = ma.fields.Float(allow_none=True)
    geofence_radius_m = ma.fields.Integer()
    opening_hours = ma.fields.String(allow_none=True)
    qr_version = ma.fields.Integer()
    status = ma.fields.String(validate=validate.OneOf(STATION_STATUSES))
