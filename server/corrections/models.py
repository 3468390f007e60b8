"""A volunteer's request to correct their service record (更正申请)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db_types import UTCDateTime, utcnow
from server.extensions import db

OPEN = "open"
#: How a secretary closes a request: the session was amended, the service
#: entered after the fact (补录), or the request declined with a reason.
OUTCOMES = ("amended", "entered", "declined")


class CorrectionRequest(db.Model):
    """Volunteers "may ask for a correction and the organisation must check
    and amend" (docs/domain.md, rule 2). Sent from the volunteer's own phone, closed
    by a secretary who manages the person; never deleted."""

    __tablename__ = "correction_request"
    __table_args__ = (Index("ix_correction_request_open", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: UUID chosen by the phone: a request written offline and sent twice is stored once.
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    #: The phone it came from.
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"))
    #: The session it is about (its first event's id); None: service with no session at all.
    session_id: Mapped[str | None] = mapped_column(String(64))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("station.id"))
    #: When the volunteer says they served.
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message: Mapped[str] = mapped_column(Text)
    #: open, or one of OUTCOMES.
    status: Mapped[str] = mapped_column(String(20), default=OPEN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    #: What the secretary tells the volunteer.
    answer: Mapped[str | None] = mapped_column(Text)

    person = relationship("Person")
    station = relationship("Station")
    closed_by = relationship("User")
