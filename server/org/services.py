"""Creating and changing the area and organisation trees."""
from __future__ import annotations

from server.audit.services import record_audit
from server.auth.policy import may_manage
from server.auth.principal import Principal
from server.common.lookup import apply_changes, ensure_code_free, reference
from server.errors import Forbidden
from server.extensions import db
from server.org.models import Area, Organisation


def _child_path(parent, code: str) -> str:
    return f"{parent.path if parent else '/'}{code}/"


def create_area(principal: Principal, data: dict) -> Area:
    """:raise Forbidden: the parent is outside the caller's subtree (roots: admins only)."""
    parent = reference(Area, data.get("parent"), "parent", "area")
    if not (principal.is_admin or (parent is not None and may_manage(principal, parent))):
        raise Forbidden("You may add areas only inside your own area.")
    ensure_code_free(Area, data["code"], "area")
    area = Area(code=data["code"], name=data["name"], kind=data["kind"], parent=parent,
                path=_child_path(parent, data["code"]))
    db.session.add(area)
    record_audit(principal.actor, "create_area", "area", area.code)
    return area


def update_area(principal: Principal, area: Area, data: dict) -> Area:
    if not may_manage(principal, area):
        raise Forbidden()
    changes = apply_changes(area, data)
    record_audit(principal.actor, "update_area", "area", area.code, changes=changes)
    return area


def create_organisation(principal: Principal, data: dict) -> Organisation:
    """:raise Forbidden: the parent (or, for a root, the area) is outside the caller's scope."""
    parent = reference(Organisation, data.get("parent"), "parent", "organisation")
    area = reference(Area, data.get("area"), "area", "area")
    if area is None and parent is not None:
        area = parent.area
    allowed = principal.is_admin or (
        parent is not None and may_manage(principal, parent)) or (
        parent is None and area is not None and principal.covers_area_path(area.path))
    if not allowed:
        raise Forbidden("You may add organisations only inside your own subtree.")
    ensure_code_free(Organisation, data["code"], "organisation")
    organisation = Organisation(code=data["code"], name=data["name"], kind=data["kind"],
                                parent=parent, area=area,
                                path=_child_path(parent, data["code"]))
    db.session.add(organisation)
    record_audit(principal.actor, "create_organisation", "organisation", organisation.code)
    return organisation


def update_organisation(principal: Principal, organisation: Organisation,
                        data: dict) -> Organisation:
    if not may_manage(principal, organisation):
        raise Forbidden()
    if "area" in data:
        area = reference(Area, data.pop("area"), "area", "area")
        if area is not None and not (principal.is_admin or may_manage(principal, area)):
            raise Forbidden("You may not move an organisation into that area.")
        data["area"] = area
    changes = apply_changes(organisation, data)
    if "area" in changes:
        changes["area"] = [getattr(v, "code", v) for v in changes["area"]]
    record_audit(principal.actor, "update_organisation", "organisation", organisation.code,
                 changes=changes)
    return organisation
