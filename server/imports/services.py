"""Bulk import of organisations, people and stations: all rows or none.

Every row goes through the same schema and service as the single-object API,
so an import can do nothing that the API forbids. All row errors are
collected, with their line numbers, before anything is kept.
"""
from __future__ import annotations

import marshmallow as ma

from server.auth.principal import Principal
from server.errors import AppError, ValidationFailed
from server.extensions import db
from server.imports.reading import read_rows
from server.imports.values import translate
from server.org.schemas import OrganisationSchema
from server.org.services import create_organisation
from server.people.schemas import PersonSchema
from server.people.services import create_person
from server.stations.schemas import StationSchema
from server.stations.services import create_station

IMPORTERS = {
    "organisations": (OrganisationSchema, create_organisation),
    "people": (PersonSchema, create_person),
    "stations": (StationSchema, create_station),
}


def import_file(principal: Principal, kind: str, filename: str, data: bytes) -> dict:
    """Create one object per row.

    :raise ValidationFailed: ``import_failed`` with ``errors`` keyed by line
        number; nothing is written.
    """
    schema_class, create = IMPORTERS[kind]
    schema = schema_class()
    errors: dict[str, list[str]] = {}
    created = 0
    for line, row in read_rows(filename, data):
        try:
            values = schema.load(translate(kind, row))
        except ma.ValidationError as error:
            errors[str(line)] = _messages(error.messages)
            continue
        savepoint = db.session.begin_nested()
        try:
            create(principal, values)
            savepoint.commit()
            created += 1
        except AppError as error:
            savepoint.rollback()
            detail = error.detail
            if isinstance(error.extra.get("errors"), dict) and error.extra["errors"]:
                detail += " " + "; ".join(_messages(error.extra["errors"]))
            errors[str(line)] = [detail]
    if errors:
        raise ValidationFailed(f"{len(errors)} rows have errors; nothing was imported.",
                               errors, code="import_failed")
    return {"kind": kind, "created": created}


def _messages(messages) -> list[str]:
    flat = []
    for field, value in (messages.items() if isinstance(messages, dict) else [("", messages)]):
        items = value if isinstance(value, list) else [value]
        flat.extend(f"{field}: {item}" if field else str(item) for item in items)
    return flat
