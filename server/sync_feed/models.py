"""The change feed that devices pull: one row per change of a pulled object."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db_types import UTCDateTime, utcnow
from server.extensions import db

#: Kinds of object a device pulls.
FEED_ENTITIES = ("station", "person", "activity", "signing_key", "display")


class SyncChange(db.Model):
    """``entity`` with ``code`` changed; ``seq`` orders changes in commit order.

    ``seq`` comes from SyncCounter at commit time, under its row lock, so a
    change with a lower seq is always committed before one with a higher seq:
    a reader that has seen seq N can never later find a new change below N.
    """

    __tablename__ = "sync_change"
    __table_args__ = (Index("ix_sync_change_entity_code", "entity", "code"),)

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"),
                                     primary_key=True, autoincrement=False)
    #: One of FEED_ENTITIES.
    entity: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SyncCounter(db.Model):
    """The single row whose lock hands out ``SyncChange.seq`` in commit order."""

    __tablename__ = "sync_counter"

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"),
                                       default=0)
