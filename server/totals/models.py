"""Precomputed service figures per branch and period, kept by database triggers.

A period is a month (``2026-11``), a quarter (``2026-Q4``) or a year
(``2026``). Sums add up the tree, but people do not: a person who served in
two branches of one subtree in a period is one person there. So besides the
sums we keep each person's presence per branch and period, and the few
people present in more than one branch (``PeriodMover``), which is all a
rollup needs to count people exactly. The triggers live in
``server/totals/triggers.py``; they run in the transaction that changes
the session, whatever code changes it. They are derived data, hence no
foreign keys: checking them would cost every push and protect nothing.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db


class BranchPeriodTotal(db.Model):
    """Counted (not rejected) sessions attached to one branch in one period."""

    __tablename__ = "branch_period_total"
    __table_args__ = (
        # A period's figures for many branches straight from the index, in
        # key order, without visiting rows spread over the table.
        Index("ix_branch_period_total_figures", "period", "branch_id", "credited_seconds",
              "pending_seconds", "reviewed_seconds", "entered_seconds", "sessions", "people"),
    )

    #: First in the key: reports read one period for many branches.
    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    branch_id: Mapped[int] = mapped_column(primary_key=True)
    credited_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    pending_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Of the credited seconds, those a reviewer approved or amended, and
    #: those entered afterwards (补录); the rest were proven by scans alone.
    reviewed_seconds: Mapped[int] = mapped_column(BigInteger, default=0,
                                                  server_default=text("0"))
    entered_seconds: Mapped[int] = mapped_column(BigInteger, default=0,
                                                 server_default=text("0"))
    sessions: Mapped[int] = mapped_column(default=0)
    #: Distinct people with a counted session in this branch and period.
    people: Mapped[int] = mapped_column(default=0)


class PersonBranchPeriod(db.Model):
    """How many counted sessions a person has in a branch in a period."""

    __tablename__ = "person_branch_period"

    person_id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    branch_id: Mapped[int] = mapped_column(primary_key=True)
    sessions: Mapped[int] = mapped_column(default=0)


class PeriodMover(db.Model):
    """A person with counted sessions in more than one branch in a period."""

    __tablename__ = "period_mover"

    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    person_id: Mapped[int] = mapped_column(primary_key=True)


class ServiceTotalChange(db.Model):
    """SQLite only: the sessions a transaction counted in or out, waiting to be
    folded into the figures above before it commits (``triggers.fold``).

    SQLite has row triggers only; updating nine figures per changed session
    from them cost a push more than writing the sessions. The triggers now
    append one row here instead, and the fold applies a transaction's rows
    set-based, as PostgreSQL's statement triggers do. Empty between
    transactions; unused on PostgreSQL.
    """

    __tablename__ = "service_total_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column()
    branch_id: Mapped[int] = mapped_column()
    local_date: Mapped[date] = mapped_column(Date)
    credited_seconds: Mapped[int] = mapped_column(BigInteger)
    pending_seconds: Mapped[int] = mapped_column(BigInteger)
    reviewed_seconds: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    entered_seconds: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    #: +1: counted in; -1: counted out.
    sign: Mapped[int] = mapped_column()
