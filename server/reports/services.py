"""Service hours: credited and pending seconds, sessions and people, grouped
by branch, person, station or area, optionally rolled up the trees.

A session belongs to the local date of its start and to the branch its
person belonged to on that date (both stored on the session). Rejected
sessions count nowhere.
"""
from __future__ import annotations

import calendar
from collections import Counter
from datetime import date

from sqlalchemy import and_, false, func, or_, select, true

from server.auth.policy import visible
from server.auth.principal import Principal
from server.common.rawsql import in_values
from server.errors import ValidationFailed
from server.extensions import db
from server.org.models import Area, Membership, Organisation
from server.people.models import Person
from server.totals import figures as totals
from server.totals.rules import SUMMED
from server.service_sessions.models import ServiceSession, counted
from server.stations.models import Station

GROUPS = ("branch", "person", "station", "area")


def period_of(args: dict) -> tuple[date, date]:
    """``from``/``to``, or ``month`` (2026-11), ``quarter`` (2026-Q4), ``year`` (2026).

    :raise ValidationFailed: ``invalid_period``.
    """
    try:
        if args.get("month"):
            year, month = (int(x) for x in args["month"].split("-"))
            return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
        if args.get("quarter"):
            year, q = args["quarter"].upper().split("-Q")
            first = (int(q) - 1) * 3 + 1
            last = first + 2
            return (date(int(year), first, 1),
                    date(int(year), last, calendar.monthrange(int(year), last)[1]))
        if args.get("year"):
            return date(int(args["year"]), 1, 1), date(int(args["year"]), 12, 31)
    except (ValueError, TypeError):
        raise ValidationFailed("Give month as 2026-11, quarter as 2026-Q4, year as 2026.",
                               {"period": ["unreadable"]}, code="invalid_period")
    start, end = args.get("date_from"), args.get("date_to")
    if not start or not end:
        raise ValidationFailed("Give from and to, or month, quarter or year.",
                               {"from": ["required"]}, code="invalid_period")
    if end < start or (end - start).days > 366 * 3:
        raise ValidationFailed("The period must run forwards and span at most three years.",
                               {"to": ["out of range"]}, code="invalid_period")
    return start, end


def session_scope(principal: Principal):
    """Sessions the caller may read and count: ``policy.visible(principal,
    ServiceSession)`` (credited to organisations they manage, or held at
    stations they manage), with the organisations bound as ids."""
    if principal.is_admin:
        return true()
    credited = _credited_to(totals.managed_organisation_ids(principal))
    if principal.station_ids:
        return or_(credited, ServiceSession.station_id.in_(principal.station_ids))
    return credited


def review_scope(principal: Principal):
    """Sessions the caller may review (``services.may_review`` as SQL): those
    credited to organisations they manage. A station manager reads the
    sessions at their station but reviews none of them."""
    if principal.is_admin:
        return true()
    return _credited_to(totals.managed_organisation_ids(principal))


def _credited_to(organisation_ids):
    """Sessions credited to ``organisation_ids``; and sessions of no branch
    (their person belonged to none that day) of people whose current branch
    is among them, who review them (docs/pairing.md, section 4)."""
    if not organisation_ids:
        return false()
    return or_(in_values(ServiceSession.branch_id, organisation_ids), and_(
        ServiceSession.branch_id.is_(None), ServiceSession.person_id.in_(
            select(Membership.person_id).where(
                Membership.ended_on.is_(None),
                in_values(Membership.organisation_id, organisation_ids)))))


def _measures(s=ServiceSession):
    """The figures of a group of sessions, in ``totals.Figures``' order."""
    return (*(func.coalesce(func.sum(getattr(s, column)), 0).label(column)
              for column in SUMMED),
            func.count(s.id).label("sessions"),
            func.count(func.distinct(s.person_id)).label("people"))


def service_hours(principal: Principal, group_by: str, start: date, end: date,
                  rollup: bool = False) -> list[dict]:
    """Rows of ``code``, ``name``, ``credited_seconds`` (and their split:
    ``proven_seconds``, ``reviewed_seconds``, ``entered_seconds``),
    ``pending_seconds``, ``sessions``, ``people``, ordered by code."""
    if group_by == "branch":
        period = totals.period_key(start, end)
        if period and totals.answers_for(principal):
            return _branches_from_totals(principal, period, rollup)
    where = and_(ServiceSession.local_date >= start, ServiceSession.local_date <= end,
                 counted(), session_scope(principal))
    if group_by == "person":
        query = (select(Person.code, Person.name, *_measures())
                 .join(Person, Person.id == ServiceSession.person_id)
                 .where(where).group_by(Person.id, Person.code, Person.name))
    elif group_by == "station":
        query = (select(Station.code, Station.name, *_measures())
                 .join(Station, Station.id == ServiceSession.station_id)
                 .where(where).group_by(Station.id, Station.code, Station.name))
    elif group_by == "branch":
        node_filter = None if principal.is_admin else visible(principal, Organisation)
        if rollup:
            return _rolled_up(Organisation, ServiceSession.branch_id, where, node_filter)
        query = _tree_query(Organisation, ServiceSession.branch_id, where)
        query = query.where(node_filter) if node_filter is not None else query
    else:
        station_area = select(Station.id, Station.area_id).subquery()
        join = (station_area, station_area.c.id == ServiceSession.station_id)
        if rollup:
            return _rolled_up(Area, station_area.c.area_id, where, None, join=join)
        query = _tree_query(Area, station_area.c.area_id, where, join=join)
    return [_report_row(row) for row in db.session.execute(query.order_by("code"))]


def _report_row(row) -> dict:
    """A grouped SQL row with whole numbers (PostgreSQL sums bigints as numeric)."""
    figures = totals.Figures(*(int(getattr(row, column)) for column in SUMMED),
                             row.sessions, row.people)
    return {"code": row.code, "name": row.name, **figures.row()}


def _branches_from_totals(principal: Principal, period: str, rollup: bool) -> list[dict]:
    """The branch report of a whole month, quarter or year, from the kept figures."""
    figures = totals.branch_figures(principal, period)
    organisations = totals.visible_organisations(principal)
    if rollup:
        return _roll_up(figures, totals.movers(principal, [period]),
                        {branch: organisations[branch][2] for branch in figures},
                        {code: name for code, name, _ in organisations.values()})
    return sorted(({"code": organisations[branch][0], "name": organisations[branch][1],
                    **own.row()} for branch, own in figures.items()),
                  key=lambda row: row["code"])


def _tree_query(model, member_column, where, join=None):
    """Group by the node each session is attached to."""
    query = select(model.code, model.name, *_measures()).select_from(ServiceSession)
    if join is not None:
        query = query.join(*join)
    return (query.join(model, model.id == member_column).where(where)
            .group_by(model.id, model.code, model.name))


def _rolled_up(model, member_column, where, node_filter, join=None) -> list[dict]:
    """Rollup straight from the sessions: figures per attached node in SQL,
    and the distinct (node, person) pairs for the people who served at more
    than one node."""
    def base(*columns):
        query = select(*columns).select_from(ServiceSession)
        return (query.join(*join) if join is not None else query).where(where)

    sums = db.session.execute(base(member_column.label("member"), *_measures())
                              .group_by(member_column)).all()
    if not sums:
        return []
    figures = {row[0]: totals.Figures(*(int(value or 0) for value in row[1:]))
               for row in sums}
    members_of: dict[int, list[int]] = {}
    for member, person in db.session.execute(
            base(member_column.label("member"), ServiceSession.person_id).distinct()):
        members_of.setdefault(person, []).append(member)
    paths = dict(db.session.execute(select(model.id, model.path).where(
        in_values(model.id, figures))).all())
    codes_on_paths = {code for path in paths.values() for code in path.strip("/").split("/")}
    node_query = select(model.code, model.name).where(in_values(model.code, codes_on_paths))
    if node_filter is not None:
        node_query = node_query.where(node_filter)
    names = dict(db.session.execute(node_query).all())
    return _roll_up(figures, {person: members for person, members in members_of.items()
                              if len(members) > 1}, paths, names)


def _roll_up(figures: dict[int, "totals.Figures"], movers: dict, paths: dict[int, str],
             names: dict[str, str]) -> list[dict]:
    """Each node with its whole subtree, from the figures of the nodes
    sessions are attached to (``paths``: their materialised paths), added to
    every ancestor the caller may see (``names``: code -> name).

    People add up too, except those who served at several nodes (``movers``:
    any key -> their nodes): they count once in each common ancestor.
    Summing per node first leaves a few thousand rows to walk; joining
    sessions to ancestors by path prefix made the database compare each
    session with every node.

    Bottom up: each node's sums are added to its parent's once, deepest
    level first, so a node's work is one addition whatever its depth (the
    city's 30,000 organisations: 31,000 additions, where adding each node to
    each of its ancestors took 120,000; docs/benchmarks.md, "Reports through
    gunicorn").
    """
    # path -> the Figures fields in order; plain lists, not Figures.
    sums: dict[str, list[int]] = {}
    for member, own in figures.items():
        path = paths[member]
        node = sums.get(path)
        values = [getattr(own, name) for name in _FIGURES]
        if node is None:
            sums[path] = values
        else:  # two members on one path: only if a path were reused
            node[:] = [a + b for a, b in zip(node, values)]
    levels: dict[int, list[str]] = {}
    for path in sums:
        levels.setdefault(path.count("/"), []).append(path)
    # "/X/" (two slashes) is a root: nothing above it.
    for depth in range(max(levels, default=0), 2, -1):
        above = levels.setdefault(depth - 1, [])
        for path in levels.get(depth, ()):
            node = sums[path]
            parent_path = path[:path.rfind("/", 0, len(path) - 1) + 1]
            parent = sums.get(parent_path)
            if parent is None:
                sums[parent_path] = node.copy()
                above.append(parent_path)
            else:
                for n, value in enumerate(node):
                    parent[n] += value
    rolled = {path[path.rfind("/", 0, len(path) - 1) + 1:-1]: node
              for path, node in sums.items()}
    for members in movers.values():
        shared = Counter(code for member in members if member in paths
                         for code in paths[member].strip("/").split("/"))
        for code, times in shared.items():
            rolled[code][-1] -= times - 1  # people
    return [{"code": code, "name": names[code], **totals.Figures(*node).row()}
            for code, node in sorted(rolled.items()) if code in names]


#: The fields of ``totals.Figures``, in order (people last).
_FIGURES = ("credited_seconds", "pending_seconds", "reviewed_seconds", "entered_seconds",
            "sessions", "people")


#: Beyond this many branches (a district and up), the stations behind a
#: report are those of the caller's own scope rather than found session by
#: session: reading a district's month of sessions cost more than the report.
WIDE_SCOPE_BRANCHES = 500


def _stations_behind(principal: Principal, start: date, end: date):
    """A SELECT of the ids of the stations whose devices the figures wait for."""
    if principal.is_admin:
        return select(Station.id)
    organisations = totals.visible_organisations(principal)
    if len(organisations) <= WIDE_SCOPE_BRANCHES:
        # Through the (branch, date, station) index, without reading sessions.
        return select(ServiceSession.station_id).where(
            in_values(ServiceSession.branch_id, organisations),
            ServiceSession.local_date >= start, ServiceSession.local_date <= end
        ).union(select(Station.id).where(Station.id.in_(principal.station_ids or [-1])))
    # A wide scope: the stations in the caller's areas, those its
    # organisations host, and those it manages, as a subquery (binding the
    # thousands of visible ids, or sorting stations out in Python, cost more).
    return select(Station.id).where(or_(
        Station.host_organisation_id.in_(
            select(Organisation.id).where(visible(principal, Organisation))),
        Station.area_id.in_(select(Area.id).where(or_(*(
            Area.path.startswith(path, autoescape=True) for path in principal.area_paths))))
        if principal.area_paths else false(),
        Station.id.in_(principal.station_ids) if principal.station_ids else false()))


def sync_completeness(principal: Principal, start: date, end: date) -> dict:
    """How far the devices of the stations behind the figures have synced.

    A device is behind when, once its last batch was stored, it still held
    a scan queued before the period's end, or when it has been silent: no
    push since the period ended or, for a period still running, for
    SILENT_AFTER. (Until this rule, every device was behind for a running
    period, since none had pushed after its end.) The stations behind the
    figures are those where the caller's sessions of the period took place;
    for a scope wider than WIDE_SCOPE_BRANCHES, those of the caller's
    devices (all, for an administrator).
    """
    from datetime import datetime, time, timedelta

    from server.db_types import utcnow
    from server.devices.health import SILENT_AFTER
    from server.devices.models import Device, device_station
    from server.pairing.models import PairingDue
    from sync.timeutil import BUSINESS_TZ
    period_end = datetime.combine(end + timedelta(days=1), time.min, BUSINESS_TZ)
    now = utcnow()
    heard_by = period_end if period_end <= now else now - SILENT_AFTER
    rows = db.session.execute(
        select(Station.code, Device.code.label("device"), Device.last_push_at,
               Device.queue_length, Device.oldest_queued_at)
        .join(device_station, device_station.c.station_id == Station.id)
        .join(Device, Device.id == device_station.c.device_id)
        # On the link table's station, which its own index answers: on
        # Station.id, SQLite walked all devices and probed each listed station
        # (72 ms for a district, 3.5 ms this way; docs/benchmarks.md).
        .where(device_station.c.station_id.in_(_stations_behind(principal, start, end)),
               Device.revoked_at.is_(None))
        .order_by(Station.code, Device.code)).all()
    devices = []
    may_change = False
    for row in rows:
        behind = (row.last_push_at is None or row.last_push_at < heard_by
                  or bool(row.queue_length and row.oldest_queued_at
                          and row.oldest_queued_at < period_end))
        may_change = may_change or behind
        devices.append({"station": row.code, "device": row.device,
                        "last_push_at": row.last_push_at, "queue_length": row.queue_length,
                        "oldest_queued_at": row.oldest_queued_at, "behind": behind})
    queued = [d["oldest_queued_at"] for d in devices if d["queue_length"] and d["oldest_queued_at"]]
    pushes = [d["last_push_at"] for d in devices if d["last_push_at"]]
    # Scans the server holds but has not paired yet (it pairs just after
    # answering a push, later for a backlog): of anyone, not only this
    # scope's, which is cheap to ask and errs on the side of "may change".
    unpaired = db.session.scalar(select(func.min(PairingDue.queued_at)).where(
        PairingDue.since_at < period_end))
    return {"may_change": may_change or unpaired is not None, "devices": devices,
            "oldest_unsynced_scan_at": min(queued) if queued else None,
            "least_recent_push_at": min(pushes) if pushes else None,
            "unpaired_scans_since": unpaired}


def dual_reporting(principal: Principal, branch: Organisation, start: date,
                   end: date) -> list[dict]:
    """双报到: service that the branch's members did in their residential
    community (stations in their home area's subtree), for their branch."""
    home = Area.__table__.alias("home")
    station_area = Area.__table__.alias("station_area")
    query = (
        select(Person.code, Person.name, home.c.code.label("home_area"),
               home.c.name.label("home_area_name"),
               func.coalesce(func.sum(ServiceSession.credited_seconds), 0)
               .label("credited_seconds"),
               func.coalesce(func.sum(ServiceSession.pending_seconds), 0)
               .label("pending_seconds"),
               func.count(ServiceSession.id).label("sessions"))
        .select_from(ServiceSession)
        .join(Person, Person.id == ServiceSession.person_id)
        .join(home, home.c.id == Person.home_area_id)
        .join(Station, Station.id == ServiceSession.station_id)
        .join(station_area, station_area.c.id == Station.area_id)
        .join(Organisation, Organisation.id == ServiceSession.branch_id)
        .where(func.substr(station_area.c.path, 1, func.length(home.c.path)) == home.c.path,
               Organisation.path.startswith(branch.path, autoescape=True),
               ServiceSession.local_date >= start, ServiceSession.local_date <= end,
               counted(), session_scope(principal))
        .group_by(Person.id, Person.code, Person.name, home.c.code, home.c.name)
        .order_by(Person.code))
    return [dict(row._mapping) for row in db.session.execute(query)]
