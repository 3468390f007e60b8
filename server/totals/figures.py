"""Reading the trigger-kept figures (``server/totals/models.py``).

They answer for whole months, quarters and years, for callers whose sessions
are exactly those of the branches they may see (everyone but station
managers, who also see the sessions at their stations). Other questions go
to the sessions themselves.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from server.auth.policy import managed_organisations, visible
from server.auth.principal import Principal
from server.common.rawsql import fetch_plain, in_values
from server.extensions import db
from server.org.models import Organisation
from server.totals.models import BranchPeriodTotal, PeriodMover, PersonBranchPeriod


@dataclass(slots=True)
class Figures:
    credited_seconds: int = 0
    pending_seconds: int = 0
    #: Of the credited seconds: approved by a reviewer, entered afterwards.
    reviewed_seconds: int = 0
    entered_seconds: int = 0
    sessions: int = 0
    people: int = 0

    def row(self) -> dict:
        """The report row's figures, with the credited seconds split by what
        credits them (docs/trust.md): proven by scans, reviewed, entered."""
        return {"credited_seconds": self.credited_seconds,
                "pending_seconds": self.pending_seconds,
                "proven_seconds": (self.credited_seconds - self.reviewed_seconds
                                   - self.entered_seconds),
                "reviewed_seconds": self.reviewed_seconds,
                "entered_seconds": self.entered_seconds,
                "sessions": self.sessions, "people": self.people}


def period_key(start: date, end: date) -> str | None:
    """``2026-11``, ``2026-Q4`` or ``2026`` when [start, end] is exactly one."""
    if start.day != 1 or end.year != start.year:
        return None
    last_day = end.day == calendar.monthrange(end.year, end.month)[1]
    if not last_day:
        return None
    if start.month == end.month:
        return f"{start:%Y-%m}"
    if start.month == 1 and end.month == 12:
        return f"{start:%Y}"
    if start.month % 3 == 1 and end.month == start.month + 2:
        return f"{start.year}-Q{(start.month + 2) // 3}"
    return None


def answers_for(principal: Principal) -> bool:
    """Whether the kept figures are exactly what ``principal`` may count."""
    return not principal.station_ids


def visible_organisations(principal: Principal) -> dict[int, tuple[str, str, str]]:
    """id -> (code, name, path) of every organisation ``principal`` may see,
    read once per request. Reports filter by these ids: the policy's OR of
    subqueries, inlined into a report, led the planners to read a whole
    month of sessions instead of the branches' index ranges."""
    if "organisations" not in principal.memo:
        query = select(Organisation.id, Organisation.code, Organisation.name, Organisation.path)
        if not principal.is_admin:
            query = query.where(visible(principal, Organisation))
        principal.memo["organisations"] = {
            row.id: (row.code, row.name, row.path) for row in db.session.execute(query)}
    return principal.memo["organisations"]


def managed_organisation_ids(principal: Principal):
    """The ids of the organisations whose sessions ``principal`` counts
    (policy.managed_organisations): the visible ones, less the host
    organisations of a station manager's stations."""
    if not principal.station_ids:
        return visible_organisations(principal).keys()
    if "managed" not in principal.memo:
        principal.memo["managed"] = set(db.session.scalars(
            select(Organisation.id).where(managed_organisations(principal))))
    return principal.memo["managed"]


def _visible_branches(principal: Principal):
    return None if principal.is_admin else in_values(
        BranchPeriodTotal.branch_id, visible_organisations(principal))


def branch_figures(principal: Principal, period: str) -> dict[int, Figures]:
    """Each visible branch's own figures in ``period``.

    Reads the visible organisations in the same statement, and keeps them
    for the request as ``visible_organisations`` would: a district's 3,449
    organisations read once, joined to their figures by index, cost half of
    reading them and then binding their ids to a second query.
    """
    t = BranchPeriodTotal
    query = (select(Organisation.id, Organisation.code, Organisation.name, Organisation.path,
                    t.credited_seconds, t.pending_seconds, t.reviewed_seconds,
                    t.entered_seconds, t.sessions, t.people)
             .outerjoin(t, (t.branch_id == Organisation.id) & (t.period == period)))
    if not principal.is_admin:
        query = query.where(visible(principal, Organisation))
    organisations: dict[int, tuple[str, str, str]] = {}
    figures: dict[int, Figures] = {}
    for id_, code, name, path, *sums in fetch_plain(db.session.connection(), query):
        organisations[id_] = (code, name, path)
        if sums[-2]:  # sessions
            figures[id_] = Figures(*sums)
    principal.memo.setdefault("organisations", organisations)
    return figures


def movers(principal: Principal, periods: list[str]) -> dict[tuple[str, int], list[int]]:
    """(period, person) -> the visible branches the person served in, for the
    few people who served in more than one in a period."""
    query = (select(PersonBranchPeriod.period, PersonBranchPeriod.person_id,
                    PersonBranchPeriod.branch_id)
             .join(PeriodMover, (PeriodMover.period == PersonBranchPeriod.period)
                   & (PeriodMover.person_id == PersonBranchPeriod.person_id))
             .where(PeriodMover.period.in_(periods), PersonBranchPeriod.sessions > 0))
    # Filtered here, not in SQL: movers are few, a scope's ids many.
    organisations = None if principal.is_admin else visible_organisations(principal)
    found: dict[tuple[str, int], list[int]] = {}
    for period, person, branch in db.session.execute(query):
        if organisations is None or branch in organisations:
            found.setdefault((period, person), []).append(branch)
    return {key: members for key, members in found.items() if len(members) > 1}


def scope_figures(principal: Principal, periods: list[str]) -> dict[str, Figures]:
    """Everything ``principal`` may count, per period: one sum per period,
    people counted once even when they served in two visible branches."""
    t = BranchPeriodTotal
    query = (select(t.period, func.sum(t.credited_seconds), func.sum(t.pending_seconds),
                    func.sum(t.reviewed_seconds), func.sum(t.entered_seconds),
                    func.sum(t.sessions), func.sum(t.people))
             .where(BranchPeriodTotal.period.in_(periods))
             .group_by(BranchPeriodTotal.period))
    branches = _visible_branches(principal)
    if branches is not None:
        query = query.where(branches)
    result = {period: Figures() for period in periods}
    for period, *sums in db.session.execute(query):
        result[period] = Figures(*(int(value or 0) for value in sums))
    for (period, _), members in movers(principal, periods).items():
        result[period].people -= len(members) - 1
    return result
