"""Stations: the places that carry a signed QR code."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db_types import UTCDateTime, utcnow
from server.extensions import db

STATION_KINDS = {
    "party_mass_centre": "党群服务中心",
    "warm_bee": "暖蜂驿站",
    "drivers_home": "司机之家",
    "caring_merchant": "爱心商户",
    "spark_micro": "薪火小站",
    "enterprise_service": "惠企服务站",
    "volunteer_u": "志愿者U站",
    "lawyer_post": "党员律师进社区",
}
STATION_STATUSES = ("active", "retired")


class Station(db.Model):
    __tablename__ = "station"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable public identifier printed in the QR code, e.g. ``BA-XH-0001``.
    code: Mapped[str] = mapped_column(String(64), unique=True)
    #: Chinese name as on the door.
    name: Mapped[str] = mapped_column(String(200))
    #: One of STATION_KINDS.
    kind: Mapped[str] = mapped_column(String(30))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"), index=True)
    #: The organisation that runs the station.
    host_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation.id"), index=True)
    address: Mapped[str | None] = mapped_column(String(300))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    #: Scans with a location farther than this are flagged ``outside_geofence``.
    geofence_radius_m: Mapped[int] = mapped_column(default=200)
    #: Free text such as ``09:00-21:00`` or ``24h``.
    opening_hours: Mapped[str | None] = mapped_column(Text)
    #: Version printed in the current QR; older versions count as revoked.
    qr_version: Mapped[int] = mapped_column(default=1)
    #: One of STATION_STATUSES; scans at a retired station are flagged.
    status: Mapped[str] = mapped_column(String(10), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    area = relationship("Area")
    host_organisation = relationship("Organisation")

    @property
    def kind_label(self) -> str:
        return STATION_KINDS.get(self.kind, self.kind)
