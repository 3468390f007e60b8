"""Check-in events as devices sent them, and the ones that cannot count yet.

Rows here are records: they are never updated in meaning or deleted.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db_types import Int64, UTCDateTime, utcnow
from server.extensions import db

QUARANTINE_STATUSES = ("waiting", "conflict", "resolved", "dismissed")
#: The statuses an administrator (or an automatic replay) may still act on.
QUARANTINE_OPEN = ("waiting", "conflict")
#: Why a scan cannot count: the codes of docs/sync-protocol.md, "Quarantine codes".
QUARANTINE_REASONS = ("malformed", "unknown_person", "unknown_station", "unknown_activity",
                      "bad_qr", "unknown_key", "bad_signature", "station_mismatch",
                      "out_of_scope", "time_out_of_range", "id_reused")


class CheckinEvent(db.Model):
    """An accepted scan. Immutable once stored."""

    __tablename__ = "checkin_event"
    __table_args__ = (Index("ix_checkin_event_person_effective", "person_id", "effective_at"),
                      # A device's scans in seq order, for verifying its chain
                      # (server/devices/chain.py); docs/benchmarks.md, "Scan chains".
                      Index("ix_checkin_event_device_seq", "device_id", "seq"))

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The device's UUID for the event; the idempotency key.
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    # No index on station_id or activity_id: nothing reads events by them
    # (sessions carry station and activity for reports), each would cost
    # every push (with device_id's: ~1 ms of the 11 a 500-row COPY takes
    # without the foreign-key checks) and ~1.3 GB at 20 million events, and
    # their parents are never deleted, only retired. device_id is read with
    # seq only, by the chain check: indexed together, above.
    #: NULL for a retroactive entry (补录), which a person entered in the
    #: console or API (server/service_sessions/retroactive.py), not a device.
    device_id: Mapped[int | None] = mapped_column(ForeignKey("device.id"))
    batch_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int | None] = mapped_column(Int64)
    #: check_in | check_out
    type: Mapped[str] = mapped_column(String(10))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"))
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id"))
    #: QR version and key id of the scanned code, when a code was sent.
    qr_version: Mapped[int | None]
    #: Device clock at the scan, as sent.
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: occurred_at corrected by the batch's clock offset when beyond tolerance.
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Server receive time minus the batch's sent_at.
    clock_offset_s: Mapped[float] = mapped_column(Float)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    #: Distance from the station, metres, when both locations are known.
    distance_m: Mapped[float | None] = mapped_column(Float)
    #: Sorted comma-separated flags (docs/sync-protocol.md, "Flags"), e.g.
    #: revoked_qr, outside_geofence, clock_corrected, retroactive, unsigned_scan.
    flags: Mapped[str] = mapped_column(String(200), default="")
    #: What proves the person was at the station (sync/evidence.py):
    #: station_device, display_code, location, signed_code, none, entered.
    evidence: Mapped[str] = mapped_column(String(20), default="none", server_default="none")
    #: SHA-256 of the canonical event JSON; tells a duplicate from a conflict.
    content_hash: Mapped[str] = mapped_column(String(64))
    #: The event exactly as the device sent it.
    raw: Mapped[str] = mapped_column(Text)

    device = relationship("Device")
    person = relationship("Person")
    station = relationship("Station")
    activity = relationship("Activity")


class QuarantinedEvent(db.Model):
    """A scan that reached the server but cannot count (yet), kept raw."""

    __tablename__ = "quarantined_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The event's id when it had a usable one.
    event_id: Mapped[str | None] = mapped_column(String(64), index=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"), index=True)
    batch_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int | None] = mapped_column(Int64)
    #: Stable reason code, e.g. unknown_person, bad_signature, id_reused.
    reason: Mapped[str] = mapped_column(String(40), index=True)
    message: Mapped[str] = mapped_column(Text)
    #: One of QUARANTINE_STATUSES.
    status: Mapped[str] = mapped_column(String(10), default="waiting", index=True)
    #: The code that was missing (person, station or activity), for automatic replay.
    missing_code: Mapped[str | None] = mapped_column(String(64), index=True)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    #: The event as the device sent it (or the best text of it).
    raw: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The batch's clock offset, so a replay corrects time as the first try would.
    clock_offset_s: Mapped[float] = mapped_column(Float, default=0.0)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: ``system`` for automatic replays, ``user:<name>`` otherwise.
    resolved_by: Mapped[str | None] = mapped_column(String(100))

    device = relationship("Device")


class DeviceSeqRange(db.Model):
    """A run ``[low, high]`` of seq numbers received from a device.

    Runs are merged as batches arrive, so a device's gaps are a few rows
    whatever its history.
    """

    __tablename__ = "device_seq_range"

    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"), primary_key=True)
    low: Mapped[int] = mapped_column(Int64, primary_key=True, autoincrement=False)
    high: Mapped[int] = mapped_column(Int64)
