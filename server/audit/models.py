"""The audit log: who changed what, when, and why. Rows are only added, and
each is chained to the one before (server/audit/chain.py, docs/audit.md)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db_types import Int64, UTCDateTime, utcnow
from server.extensions import db


class AuditEntry(db.Model):
    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The entry's place in the chain: 1, 2, 3, ... in commit order, no gaps.
    seq: Mapped[int] = mapped_column(Int64, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    #: ``user:<username>``, ``device:<code>`` or ``system``.
    actor: Mapped[str] = mapped_column(String(100))
    #: snake_case verb, e.g. ``create_station``, ``amend_session``.
    action: Mapped[str] = mapped_column(String(50))
    object_type: Mapped[str] = mapped_column(String(30))
    #: The object's public code (never an internal id).
    object_code: Mapped[str] = mapped_column(String(100), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    #: Changed fields: {"field": [before, after]}.
    changes: Mapped[dict | None] = mapped_column(JSON)
    #: The entry_hash of the entry before (seq - 1); None for the first.
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    #: sync.chain.link_hash(prev_hash, the fields above): lowercase hex SHA-256.
    entry_hash: Mapped[str] = mapped_column(String(64))
