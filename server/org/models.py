"""Areas (geography) and organisations (the party tree), with membership history."""
from __future__ import annotations

import math
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db_types import UTCDateTime, utcnow
from server.extensions import db

AREA_KINDS = ("city", "district", "street", "community", "estate")
ORGANISATION_KINDS = (
    "committee",        # 党委
    "general_branch",   # 党总支
    "branch",           # 党支部
    "group",            # 党小组
    "joint_branch",     # 联合党支部
    "temporary",        # 临时党组织
    "functional",       # 功能型党组织
    "volunteer_team",   # 志愿服务队
)
#: Kinds whose people are counted as "a branch" in reports.
BRANCH_LIKE_KINDS = ("branch", "joint_branch", "temporary", "functional", "volunteer_team")


class TreeNode:
    """Shared behaviour of the two trees: a materialised path of codes.

    ``path`` is ``/CITY/DISTRICT/.../CODE/`` so a subtree is one prefix match,
    the same query on SQLite and PostgreSQL.
    """

    code: Mapped[str]
    path: Mapped[str]

    def is_within(self, ancestor_path: str) -> bool:
        return self.path.startswith(ancestor_path)


def _prefix_index(table: str) -> Index:
    """PostgreSQL: an index that answers ``path LIKE 'prefix%'`` under any
    collation (a plain one does only under "C"). A district secretary's
    organisations were a scan of all 30,000 without it. SQLite has no
    operator classes; its plain index on path stays the one it uses."""
    return Index(f"ix_{table}_path_prefix", "path",
                 postgresql_ops={"path": "varchar_pattern_ops"}).ddl_if(dialect="postgresql")


class Area(TreeNode, db.Model):
    __tablename__ = "area"
    __table_args__ = (_prefix_index("area"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable public identifier, e.g. ``SZ-BA-XX``.
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: One of AREA_KINDS.
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"))
    #: Materialised path of codes from the root, ending in this code and "/".
    path: Mapped[str] = mapped_column(String(1000), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    parent: Mapped[Area | None] = relationship(remote_side=[id])


class Organisation(TreeNode, db.Model):
    __tablename__ = "organisation"
    __table_args__ = (_prefix_index("organisation"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable public identifier, e.g. ``BA-XX-ZB01``.
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: One of ORGANISATION_KINDS.
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    #: The area the organisation sits in, for area-scoped administrators.
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"), index=True)
    path: Mapped[str] = mapped_column(String(1000), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    parent: Mapped[Organisation | None] = relationship(remote_side=[id])
    area: Mapped[Area | None] = relationship()


class Membership(db.Model):
    """A person's membership of an organisation over a period of dates.

    Reports credit a session to the branch its person belonged to on the
    session's local date, so periods are kept, never overwritten.
    """

    __tablename__ = "membership"
    __table_args__ = (Index("ix_membership_person_period", "person_id", "started_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    #: First local date (Asia/Shanghai) of the membership.
    started_on: Mapped[date] = mapped_column(Date)
    #: Last local date, inclusive; None while current.
    ended_on: Mapped[date | None] = mapped_column(Date)

    organisation: Mapped[Organisation] = relationship()


def branch_on(memberships, day: date):
    """The membership that holds on the local date ``day``, or None.

    The one rule for "a person's branch on a date" (docs/pairing.md): of the
    periods that cover the day, the one that started last; of two that
    started the same day, the one recorded last (the higher id). Takes any
    objects with ``id``, ``started_on`` and ``ended_on``.
    """
    covering = [m for m in memberships
                if m.started_on <= day and (m.ended_on is None or day <= m.ended_on)]
    # Not yet flushed (no id): recorded after every stored one.
    return max(covering, key=lambda m: (m.started_on, math.inf if m.id is None else m.id),
               default=None)
