"""Suspicious records (可疑记录): the people and stations of a period whose
sessions carry a pattern of faked hours (sync/fraud.py), for the console.

Read like the reports: the sessions the caller may read
(``session_scope``), reviewed or not, rejected ones included (a rejected
session is still a pattern seen). Only flagged sessions are read, through a
partial index of them (``ix_service_session_suspect``), so a city's month
costs what its few flagged sessions cost.
"""
from __future__ import annotations

from datetime import date
from typing import NamedTuple

from sqlalchemy import and_, case, func, literal_column, select, text, true, union_all

from server.auth.policy import visible
from server.auth.principal import Principal
from server.checkins.models import CheckinEvent
from server.extensions import db
from server.people.models import Person
from server.reports.services import session_scope
from server.service_sessions.models import FRAUD_FLAGGED_SQL, FRAUD_FLAGS, ServiceSession
from server.stations.models import Station
from sync.fraud import CODE_FAR_AWAY

#: Rows of each list at most; the page says when there are more.
LIMIT = 200


class Suspect(NamedTuple):
    """A person or a station with flagged sessions in the period."""
    code: str
    name: str
    #: Sessions flagged with each of FRAUD_FLAGS (a session may carry several).
    counts: dict[str, int]
    #: Of those, how many wait for review now.
    waiting: int
    #: People: whether the caller may open their page. Stations: how many
    #: distinct personal phones scanned its printed code far from it.
    linkable: bool = False
    far_away_phones: int = 0


class Suspects(NamedTuple):
    people: list[Suspect]
    stations: list[Suspect]
    #: A list was cut at LIMIT rows.
    more_people: bool
    more_stations: bool


def _flagged_sessions(principal: Principal, start: date, end: date):
    # The predicate literal, as the partial index has it, so both databases
    # use the index.
    return and_(text(f"({FRAUD_FLAGGED_SQL})"), ServiceSession.local_date >= start,
                ServiceSession.local_date <= end, session_scope(principal))


def _measures():
    flags = ServiceSession.flags
    return (*(func.sum(case((flags.contains(flag, autoescape=True), 1), else_=0)).label(flag)
              for flag in FRAUD_FLAGS),
            func.sum(case((ServiceSession.awaiting_review == true(), 1), else_=0))
            .label("waiting"),
            func.count(ServiceSession.id).label("sessions"))


def suspects(principal: Principal, start: date, end: date) -> Suspects:
    """People and stations with sessions flagged with a pattern of faked hours
    between ``start`` and ``end`` (local dates, both included), most
    flagged sessions first."""
    where = _flagged_sessions(principal, start, end)
    people_rows = db.session.execute(
        select(Person.id, Person.code, Person.name, *_measures())
        .join(Person, Person.id == ServiceSession.person_id).where(where)
        .group_by(Person.id, Person.code, Person.name)
        .order_by(literal_column("sessions").desc(), Person.code).limit(LIMIT + 1)).all()
    station_rows = db.session.execute(
        select(Station.id, Station.code, Station.name, *_measures())
        .join(Station, Station.id == ServiceSession.station_id).where(where)
        .group_by(Station.id, Station.code, Station.name)
        .order_by(literal_column("sessions").desc(), Station.code).limit(LIMIT + 1)).all()
    linkable = _visible_people(principal, [r.id for r in people_rows[:LIMIT]])
    phones = _far_away_phones(where)
    return Suspects(
        people=[_suspect(r, linkable=r.id in linkable) for r in people_rows[:LIMIT]],
        stations=[_suspect(r, far_away_phones=phones.get(r.id, 0))
                  for r in station_rows[:LIMIT]],
        more_people=len(people_rows) > LIMIT, more_stations=len(station_rows) > LIMIT)


def _suspect(row, **extra) -> Suspect:
    return Suspect(row.code, row.name, {flag: int(getattr(row, flag)) for flag in FRAUD_FLAGS},
                   int(row.waiting), **extra)


def _visible_people(principal: Principal, person_ids: list[int]) -> set[int]:
    """Those of ``person_ids`` whose page the caller may open (a station
    manager reads the sessions at their station, not the people's pages)."""
    if not person_ids:
        return set()
    return set(db.session.scalars(select(Person.id).where(Person.id.in_(person_ids),
                                                          visible(principal, Person))))


def _far_away_phones(where) -> dict[int, int]:
    """Per station, the distinct devices that sent a scan flagged
    ``code_far_away`` beginning or ending one of the sessions ``where``
    selects (only personal phones are ever so flagged)."""
    sessions = (select(ServiceSession.station_id, ServiceSession.checkin_event_id,
                       ServiceSession.checkout_event_id)
                .where(where, ServiceSession.flags.contains(CODE_FAR_AWAY, autoescape=True))
                .subquery())
    scans = union_all(*(
        select(sessions.c.station_id, CheckinEvent.device_id)
        .join(CheckinEvent, CheckinEvent.event_id == column)
        .where(CheckinEvent.flags.contains(CODE_FAR_AWAY, autoescape=True))
        for column in (sessions.c.checkin_event_id, sessions.c.checkout_event_id))).subquery()
    return dict(db.session.execute(
        select(scans.c.station_id, func.count(func.distinct(scans.c.device_id)))
        .group_by(scans.c.station_id)).all())
