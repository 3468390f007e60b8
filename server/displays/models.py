"""A station display: a screen at the station that signs its own codes."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db_types import UTCDateTime, utcnow
from server.extensions import db


class StationDisplay(db.Model):
    """A screen's Ed25519 public key, registered for one station.

    The private key never leaves the screen's browser (generated there, not
    extractable); the server and the phones keep only the public key, to
    verify the codes it shows (docs/sync-protocol.md, "Station QR codes").
    Never deleted: a display taken out of service is revoked, and its codes
    stop proving presence.
    """

    __tablename__ = "station_display"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Public identifier, in every code the display shows as ``d``.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    #: Raw 32-byte Ed25519 public key; one display per key.
    public_key: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    #: What the staff call the screen ("前台平板").
    name: Mapped[str] = mapped_column(String(200))
    #: Who registered it: a console user, or a station device with its token.
    registered_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    registered_by_device_id: Mapped[int | None] = mapped_column(ForeignKey("device.id"))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    station = relationship("Station")
    registered_by_user = relationship("User", foreign_keys=[registered_by_user_id])
    registered_by_device = relationship("Device", foreign_keys=[registered_by_device_id])
    revoked_by_user = relationship("User", foreign_keys=[revoked_by_user_id])

    @property
    def status(self) -> str:
        return "revoked" if self.revoked_at else "active"

    @property
    def registered_by(self) -> str:
        """``user:NAME`` or ``device:CODE``, as the audit trail names actors."""
        if self.registered_by_user is not None:
            return f"user:{self.registered_by_user.username}"
        if self.registered_by_device is not None:
            return f"device:{self.registered_by_device.code}"
        return "system"
