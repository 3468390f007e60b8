"""Who may see and change what: one table of rules per kind of object.

Each role covers a subtree: an area administrator the areas below their
area (and what sits in them), a branch secretary the organisations below
their organisation (and their members), a station manager their stations.
``visible(principal, Model)`` gives the SQL filter for lists;
``may_manage(principal, obj)`` answers for one object.

A station manager sees who served at their stations and when (the sessions
held there, read-only, and the reports made of them), not those people's
service elsewhere, nor anyone's membership, attendance or review: the
station's host organisation is visible to them as a name, not its members
(docs/api.md, "Roles and scopes").
"""
from __future__ import annotations

from sqlalchemy import and_, exists, false, literal, or_, select, true

from server.activities.models import Activity
from server.auth.principal import Principal
from server.devices.models import Device
from server.displays.models import StationDisplay
from server.extensions import db
from server.org.models import Area, Membership, Organisation
from server.people.models import Person
from server.service_sessions.models import ServiceSession
from server.stations.models import Station


# Each helper gives false() for an empty grant list rather than a subquery
# that finds nothing: or_() drops false() terms, so a branch secretary's
# filter is one path prefix that an index answers, not an OR with empty
# subqueries that made PostgreSQL scan every organisation (docs/benchmarks.md).

def _under(column, paths: list[str]):
    if not paths:
        return false()
    if db.session.get_bind().dialect.name == "sqlite":
        # SQLite does not search an index for LIKE with an escape or a
        # computed pattern; a byte range (its default collation compares
        # bytes) leads it to the subtree, the LIKE stays the exact test.
        # Not on PostgreSQL: there, ranges follow the database's collation,
        # and a prefix index answers the LIKE (server/org/models.py).
        return or_(*(and_(column >= path, column < path[:-1] + _AFTER_SLASH,
                          column.startswith(path, autoescape=True))
                     if path.endswith("/") else column.startswith(path, autoescape=True)
                     for path in paths))
    return or_(*(column.startswith(path, autoescape=True) for path in paths))


#: The character after "/": every path below "/A/" sorts before "/A" + this.
_AFTER_SLASH = chr(ord("/") + 1)


def _in_areas(column, paths: list[str]):
    """``column`` (an area id) names an area below one of ``paths``."""
    return column.in_(_area_ids_under(paths)) if paths else false()


def _in_organisations_under(column, paths: list[str]):
    return column.in_(_organisation_ids_under(paths)) if paths else false()


def _in_stations(column, station_ids: list[int]):
    return column.in_(station_ids) if station_ids else false()


def _area_ids_under(paths):
    return select(Area.id).where(_under(Area.path, paths))


def _organisation_ids_under(paths):
    return select(Organisation.id).where(_under(Organisation.path, paths))


def _organisations_in_areas(paths):
    return select(Organisation.id).where(_in_areas(Organisation.area_id, paths))


def _current_member_of(organisation_ids):
    # A scalar subquery with LIMIT 1, not EXISTS: PostgreSQL turns EXISTS
    # into a semi-join and, for a district, hashed a million memberships to
    # show a page of 20 people (0.5 s); this form probes each person's
    # memberships by index as a person list is walked in order.
    return (select(literal(1)).where(
        Membership.person_id == Person.id, Membership.ended_on.is_(None),
        Membership.organisation_id.in_(organisation_ids)).limit(1)
        .scalar_subquery().is_not(None))


def visible(principal: Principal, model):
    """A WHERE clause limiting ``model`` rows to what ``principal`` may read."""
    if principal.is_admin:
        return true()
    p = principal
    if model is Area:
        # The area tree is reference data every console user needs for forms.
        return true()
    if model is Organisation:
        hosts = (Organisation.id.in_(select(Station.host_organisation_id)
                                     .where(Station.id.in_(p.station_ids)))
                 if p.station_ids else false())
        return or_(_managed_organisations(p), hosts)
    if model is Person:
        return _current_member_of(select(Organisation.id).where(_managed_organisations(p)))
    if model is ServiceSession:
        # Credited to an organisation they manage, or held at a station
        # they manage. Not by the station's host organisation: its members'
        # service elsewhere is not the station manager's to see.
        # Sessions of no branch (the person belonged to none that day): by
        # whoever manages the person now, who reviews them (docs/pairing.md).
        if not (p.area_paths or p.organisation_paths):
            return _in_stations(ServiceSession.station_id, p.station_ids)
        managed = select(Organisation.id).where(_managed_organisations(p))
        credited = or_(ServiceSession.branch_id.in_(managed), and_(
            ServiceSession.branch_id.is_(None),
            ServiceSession.person_id.in_(select(Membership.person_id).where(
                Membership.ended_on.is_(None), Membership.organisation_id.in_(managed)))))
        return or_(credited, _in_stations(ServiceSession.station_id, p.station_ids))
    if model is Station:
        # Stations are public places; any console user may read them.
        return true()
    if model is Activity:
        return or_(Activity.organisation_id.in_(_organisations_in_areas(p.area_paths))
                   if p.area_paths else false(),
                   _in_organisations_under(Activity.organisation_id, p.organisation_paths),
                   _in_stations(Activity.station_id, p.station_ids))
    if model is Device:
        return or_(*(_device_within(p) or [false()]))
    if model is StationDisplay:
        # Those who manage the station: a display is its equipment.
        return StationDisplay.station_id.in_(select(Station.id).where(_manageable_stations(p)))
    return false()


def managed_organisations(principal: Principal):
    """A WHERE clause on Organisation: those whose members, attendance and
    sessions ``principal`` manages (area and organisation grants; a
    station's host organisation is not among them)."""
    return true() if principal.is_admin else _managed_organisations(principal)


def _managed_organisations(p: Principal):
    return or_(_in_areas(Organisation.area_id, p.area_paths),
               _under(Organisation.path, p.organisation_paths))


def may_read_members(principal: Principal, organisation: Organisation) -> bool:
    """Whether ``principal`` may read who belongs to ``organisation``: its
    roster, its meetings' attendance (names, leave and its reasons) and its
    members' reports. Those who manage it; not the manager of a station it
    hosts."""
    return may_manage(principal, organisation)


def _manageable_stations(p: Principal):
    """A WHERE clause on Station: those ``p`` manages (``may_manage``'s rule)."""
    return or_(_in_areas(Station.area_id, p.area_paths),
               _in_organisations_under(Station.host_organisation_id, p.organisation_paths),
               _in_stations(Station.id, p.station_ids))


def _device_within(p: Principal):
    from server.devices.models import device_organisation, device_station
    clauses = []
    manageable_stations = _manageable_stations(p)
    manageable_orgs = _managed_organisations(p)
    has_scope = or_(
        exists().where(device_station.c.device_id == Device.id),
        exists().where(device_organisation.c.device_id == Device.id))
    no_foreign_station = ~exists().where(
        device_station.c.device_id == Device.id,
        device_station.c.station_id == Station.id, ~manageable_stations)
    no_foreign_org = ~exists().where(
        device_organisation.c.device_id == Device.id,
        device_organisation.c.organisation_id == Organisation.id, ~manageable_orgs)
    clauses.append(and_(has_scope, no_foreign_station, no_foreign_org))
    return clauses


def may_manage(principal: Principal, obj) -> bool:
    """Whether ``principal`` may create, change or act on ``obj``."""
    if principal.is_admin:
        return True
    p = principal
    if isinstance(obj, Area):
        return p.covers_area_path(obj.path)
    if isinstance(obj, Organisation):
        return (p.covers_area_path(obj.area.path if obj.area else None)
                or p.covers_organisation_path(obj.path))
    if isinstance(obj, Person):
        branch = obj.current_branch
        return branch is not None and may_manage(p, branch)
    if isinstance(obj, Station):
        return (p.covers_area_path(obj.area.path if obj.area else None)
                or (obj.host_organisation is not None
                    and p.covers_organisation_path(obj.host_organisation.path))
                or obj.id in p.station_ids)
    if isinstance(obj, Activity):
        # Station managers read the activities at their station but do not plan them.
        return may_manage(p, obj.organisation)
    if isinstance(obj, Device):
        scope = list(obj.stations) + list(obj.organisations)
        return bool(scope) and all(may_manage(p, item) for item in scope)
    if isinstance(obj, StationDisplay):
        return may_manage(p, obj.station)
    return False
