"""Field devices: phones and station tablets that sync."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db_types import Int64, UTCDateTime, utcnow
from server.extensions import db

device_station = Table(
    "device_station", db.metadata,
    Column("device_id", ForeignKey("device.id"), primary_key=True),
    # Indexed on its own too: "the devices of these stations" (a report's
    # completeness) walked every device and probed each station without it.
    Column("station_id", ForeignKey("station.id"), primary_key=True, index=True),
)
device_organisation = Table(
    "device_organisation", db.metadata,
    Column("device_id", ForeignKey("device.id"), primary_key=True),
    Column("organisation_id", ForeignKey("organisation.id"), primary_key=True),
)


class Device(db.Model):
    __tablename__ = "device"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable public identifier, e.g. ``TAB-BA-XH-0001``.
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: SHA-256 of the one-time enrolment token; cleared once used.
    enrolment_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    enrolment_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: SHA-256 of the bearer token; tokens are 256-bit random, so a fast hash is enough.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Set when an administrator revokes the device; its token stops at once.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: False for devices that only pull (a display, a read-only kiosk): push is 403.
    can_push: Mapped[bool] = mapped_column(default=True)
    #: A personal phone (the volunteers' page) pushes only its person's scans.
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_push_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Health the device reported on its last push.
    app_version: Mapped[str | None] = mapped_column(String(40))
    queue_length: Mapped[int | None]
    oldest_queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_clock_offset_s: Mapped[float | None]
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    stations = relationship("Station", secondary=device_station)
    organisations = relationship("Organisation", secondary=device_organisation)
    person = relationship("Person")

    @property
    def status(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.token_hash:
            return "enrolled"
        return "pending"


class DeviceChainCheck(db.Model):
    """How far a device's scan chain has been verified (server/devices/chain.py;
    its breaks: DeviceChainBreak). Derived from the stored events alone:
    deleting a device's rows of both only makes the next check read its
    history again."""

    __tablename__ = "device_chain_check"

    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"), primary_key=True)
    #: Every scan numbered up to this one has been judged.
    through_seq: Mapped[int] = mapped_column(Int64)
    #: The lowest scan number that carried a link, if any did.
    linked_from: Mapped[int | None] = mapped_column(Int64)
    #: JSON ``{block: rows}``: stored versions per block of numbers (seq //
    #: BLOCK) up to through_seq, both tables; a block whose count changed
    #: (a late scan, a replay) is judged again, with everything after it.
    row_counts: Mapped[str] = mapped_column(Text)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeviceChainBreak(db.Model):
    """A break found in a device's chain, up to its check's through_seq
    (sync.event_chain.Break; derived, like the check)."""

    __tablename__ = "device_chain_break"
    __table_args__ = (Index("ix_device_chain_break_device_seq", "device_id", "seq", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"))
    #: The scan concerned.
    seq: Mapped[int] = mapped_column(Int64)
    #: removed | altered | fork | malformed_link | unlinked
    kind: Mapped[str] = mapped_column(String(20))
    #: The scan whose link or versions showed it: seq, or seq + 1.
    found_at: Mapped[int] = mapped_column(Int64)
    #: The hash the next scan names (removed, altered).
    expected: Mapped[str | None] = mapped_column(String(64))
    #: JSON list of the hashes stored for the scan (altered, fork).
    stored: Mapped[str | None] = mapped_column(Text)
