"""Device lifecycle: create, enrol once, rotate, revoke; and device sign-in."""
from __future__ import annotations

import json
from datetime import timedelta

from flask import current_app, g, request
from sqlalchemy import select

from server.audit.services import record_audit
from server.auth.policy import may_manage
from server.auth.principal import Principal
from server.auth.tokens import bearer_token, hash_token, new_token
from server.common.lookup import apply_changes, ensure_code_free, reference
from server.db_types import utcnow
from server.devices.models import Device
from server.errors import AppError, Forbidden, Unauthorized, ValidationFailed
from server.extensions import db
from server.org.models import Organisation
from server.stations.models import Station


def create_device(principal: Principal, data: dict) -> tuple[Device, str]:
    """Create a device and its one-time enrolment token.

    :raise Forbidden: a station or organisation of its scope is outside the caller's.
    """
    if not data["stations"] and not data["organisations"]:
        raise ValidationFailed("A device needs at least one station or organisation.",
                               {"stations": ["give stations or organisations"]})
    ensure_code_free(Device, data["code"], "device")
    device = Device(code=data["code"], name=data["name"], notes=data.get("notes"),
                    can_push=data.get("can_push", True))
    device.stations = [reference(Station, c, "stations", "station") for c in data["stations"]]
    device.organisations = [reference(Organisation, c, "organisations", "organisation")
                            for c in data["organisations"]]
    if not may_manage(principal, device):
        raise Forbidden("The device's scope must lie inside yours.")
    db.session.add(device)
    token = _new_enrolment(device)
    record_audit(principal.actor, "create_device", "device", device.code)
    return device, token


def create_personal_device(person, code: str, actor: str) -> tuple[Device, str]:
    """A phone that belongs to one person and pushes only that person's scans."""
    device = Device(code=code, name=f"personal:{person.code}", person=person)
    db.session.add(device)
    token = new_token("dev_")
    device.token_hash = hash_token(token)
    device.enrolled_at = utcnow()
    record_audit(actor, "create_personal_device", "device", device.code)
    return device, token


def renew_enrolment(principal: Principal, device: Device) -> str:
    """A fresh enrolment token; the old one, and the device's token if any, stop working."""
    if not may_manage(principal, device):
        raise Forbidden()
    device.token_hash = None
    device.revoked_at = None
    token = _new_enrolment(device)
    record_audit(principal.actor, "renew_enrolment", "device", device.code)
    return token


def _new_enrolment(device: Device) -> str:
    token = new_token("enr_")
    device.enrolment_token_hash = hash_token(token)
    device.enrolment_expires_at = utcnow() + timedelta(
        seconds=current_app.config["ENROLMENT_TTL_S"])
    return token


def enrolment_qr_text(token: str) -> str:
    """What the device's enrolment QR code holds (sync-protocol.md)."""
    url = current_app.config["PUBLIC_BASE_URL"] + "/api/v1/devices/enrol"
    return json.dumps({"v": 1, "url": url, "token": token}, separators=(",", ":"))


def enrol_device(token: str, app_version: str | None) -> tuple[Device, str]:
    """Exchange a one-time enrolment token for the device's bearer token.

    :raise AppError: ``invalid_enrolment`` (401) for an unknown, used or expired token.
    """
    device = db.session.scalar(select(Device).where(
        Device.enrolment_token_hash == hash_token(token)).with_for_update())
    if device is None or device.enrolment_expires_at is None \
            or device.enrolment_expires_at <= utcnow():
        raise AppError("invalid_enrolment", "The enrolment code is unknown, used or expired.",
                       status=401)
    bearer = new_token("dev_")
    device.enrolment_token_hash = None
    device.enrolment_expires_at = None
    device.token_hash = hash_token(bearer)
    device.enrolled_at = device.last_seen_at = utcnow()
    device.app_version = app_version
    record_audit(f"device:{device.code}", "enrol_device", "device", device.code)
    return device, bearer


def rotate_device_token(device: Device) -> str:
    """A new bearer token for the calling device; the old one stops at once."""
    bearer = new_token("dev_")
    device.token_hash = hash_token(bearer)
    record_audit(f"device:{device.code}", "rotate_device_token", "device", device.code)
    return bearer


def update_device(principal: Principal, device: Device, data: dict) -> Device:
    """Change a device's name, notes, ``can_push`` or scope (its stations and
    organisations), inside the caller's scope before and after.

    A new scope reaches the device by pull (what entered it is sent, what
    left it comes as deletions), and its scans waiting as ``out_of_scope``
    are replayed at once.

    :raise Forbidden: the device, or its new scope, is outside the caller's.
    :raise ValidationFailed: a scope left empty, or one given to a personal phone.
    """
    from server.checkins.reprocess import reprocess_out_of_scope
    from server.sync_feed.services import PullScope, note_scope_change
    if not may_manage(principal, device):
        raise Forbidden()
    rescoped = {"stations", "organisations"} & data.keys()
    if rescoped and device.person_id is not None:
        raise ValidationFailed("A personal phone's scope is its owner.",
                               {name: ["not for a personal phone"] for name in rescoped})
    before = PullScope(device)
    codes_before = {name: sorted(o.code for o in getattr(device, name)) for name in rescoped}
    values = dict(data)
    if "stations" in values:
        values["stations"] = [reference(Station, c, "stations", "station")
                              for c in values["stations"]]
    if "organisations" in values:
        values["organisations"] = [reference(Organisation, c, "organisations", "organisation")
                                   for c in values["organisations"]]
    changes = apply_changes(device, values)
    for name in rescoped & changes.keys():
        changes[name] = [codes_before[name], sorted(o.code for o in getattr(device, name))]
    if device.person_id is None and not device.stations and not device.organisations:
        raise ValidationFailed("A device needs at least one station or organisation.",
                               {"stations": ["give stations or organisations"]})
    if not may_manage(principal, device):
        raise Forbidden("The device's scope must lie inside yours.")
    record_audit(principal.actor, "update_device", "device", device.code, changes=changes)
    if rescoped & changes.keys():
        db.session.flush()
        note_scope_change(before, device)
        reprocess_out_of_scope(device)
    return device


def revoke_device(principal: Principal, device: Device, reason: str | None) -> Device:
    if not may_manage(principal, device):
        raise Forbidden()
    device.revoked_at = utcnow()
    device.token_hash = None
    device.enrolment_token_hash = None
    record_audit(principal.actor, "revoke_device", "device", device.code, reason=reason)
    return device


def current_device() -> Device:
    """The device whose bearer token signs this request.

    :raise Unauthorized: missing, unknown or revoked token.
    """
    if "device" in g:
        return g.device
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        raise Unauthorized()
    device = db.session.scalar(select(Device).where(Device.token_hash == hash_token(token)))
    if device is None or device.revoked_at is not None:
        raise Unauthorized("invalid_token", "The device token is unknown or revoked.")
    g.device = device
    return device
