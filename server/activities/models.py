"""Activities: meetings of organisational life and volunteer services."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db_types import UTCDateTime, utcnow
from server.extensions import db

ACTIVITY_KINDS = {
    "branch_general_meeting": "支部党员大会",
    "branch_committee_meeting": "支部委员会",
    "group_meeting": "党小组会",
    "party_lecture": "党课",
    "themed_party_day": "主题党日",
    "election": "换届选举",
    "volunteer_service": "志愿服务",
}
#: Kinds whose attendance is read against the branch roster.
MEETING_KINDS = tuple(k for k in ACTIVITY_KINDS if k != "volunteer_service")


class Activity(db.Model):
    __tablename__ = "activity"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable public identifier, e.g. ``ACT-2026-0042``.
    code: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    #: One of ACTIVITY_KINDS.
    kind: Mapped[str] = mapped_column(String(30))
    #: The organisation that holds it and whose roster it is read against.
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("station.id"), index=True)
    planned_start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    planned_end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Meeting record: host, recorder and topic (三会一课 rules).
    host_name: Mapped[str | None] = mapped_column(String(100))
    recorder_name: Mapped[str | None] = mapped_column(String(100))
    topic: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    organisation = relationship("Organisation")
    station = relationship("Station")


class AttendanceLeave(db.Model):
    """A member excused from a meeting (请假), marked by the secretary with a reason."""

    __tablename__ = "attendance_leave"
    __table_args__ = (db.UniqueConstraint("activity_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    reason: Mapped[str] = mapped_column(Text)
    #: ``user:<name>`` who marked it.
    marked_by: Mapped[str] = mapped_column(String(100))
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    person = relationship("Person")
