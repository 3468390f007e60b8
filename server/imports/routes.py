"""Bulk import from CSV or XLSX spreadsheets."""
from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from flask_smorest.fields import Upload

from server.auth.boundary import current_principal
from server.common.blueprint import Blueprint
from server.imports.services import import_file

blp = Blueprint("imports", __name__, url_prefix="/imports",
                description="Bulk import of organisations, people and stations.")


class UploadSchema(ma.Schema):
    file = Upload(required=True, metadata={"description": ".csv (UTF-8 or GB18030) or .xlsx"})


class ImportResultSchema(ma.Schema):
    kind = ma.fields.String()
    created = ma.fields.Integer()


@blp.route("/<any(organisations, people, stations):kind>")
class Import(MethodView):
    @blp.arguments(UploadSchema, location="files")
    @blp.response(201, ImportResultSchema)
    def post(self, files, kind):
        """Import organisations, people or stations from a spreadsheet

        Columns may be named in English or Chinese (编码, 名称, 类型, 上级, 支部…).
        Either every row is imported or none is; errors name the line.
        """
        upload = files["file"]
        return import_file(current_principal(), kind, upload.filename or "", upload.read())
