"""People who serve: party members and volunteers."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db_types import UTCDateTime, utcnow
from server.extensions import db

PERSON_KINDS = ("party_member", "volunteer", "both")
#: The kinds as rosters write them (类型); imports take these as well.
PERSON_KIND_LABELS = {"party_member": "党员", "volunteer": "志愿者", "both": "党员志愿者"}


class Person(db.Model):
    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable public identifier, e.g. ``P-0001234``; printed on volunteer cards.
    code: Mapped[str] = mapped_column(String(64), unique=True)
    #: Real name, as volunteer records require.
    name: Mapped[str] = mapped_column(String(100))
    #: One of PERSON_KINDS.
    kind: Mapped[str] = mapped_column(String(20))
    #: Phone with the middle digits masked (``138****5678``); the full number is not kept.
    phone_masked: Mapped[str | None] = mapped_column(String(20))
    #: National volunteer number (志愿者编号), when known.
    volunteer_number: Mapped[str | None] = mapped_column(String(64))
    #: Residential community for working party members' dual reporting (双报到).
    home_area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"))
    #: False when the person left; kept for the record, hidden from devices.
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    memberships = relationship("Membership", order_by="Membership.started_on",
                               cascade="all, delete-orphan")
    home_area = relationship("Area")

    def branch_on(self, day):
        """The organisation the person belonged to on a local date, or None
        (``server.org.models.branch_on`` says which)."""
        from server.org.models import branch_on
        membership = branch_on(self.memberships, day)
        return membership.organisation if membership is not None else None

    @property
    def current_branch(self):
        current = [m for m in self.memberships if m.ended_on is None]
        return current[-1].organisation if current else None


class PersonInvitation(db.Model):
    """A one-time code a secretary or station shows a volunteer, to bind a phone."""

    __tablename__ = "person_invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    #: SHA-256 of the code; codes are short, so they expire fast and are rate-limited.
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
