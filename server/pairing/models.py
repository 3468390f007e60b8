"""The pairing queue, and the pairing workers' heartbeats."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db_types import UTCDateTime, utcnow
from server.extensions import db


class PairingDue(db.Model):
    """A person whose sessions must be re-paired from ``since_at`` on.

    Written by a push in the same transaction as its events, so the work
    survives any crash before the pairing; deleted by the transaction that
    does the pairing (server/pairing/queue.py). Several rows for one person
    coalesce into one re-pairing.
    """

    __tablename__ = "pairing_due"
    __table_args__ = (
        Index("ix_pairing_due_ready", "ready_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column()
    #: effective_at of the earliest event added for the person.
    since_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: effective_at of the latest; NULL: re-pair to the end of their history.
    until_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The device whose push queued this; its last batch releases what it held.
    device_id: Mapped[int | None] = mapped_column(index=True)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Not paired before this: a device that says more of its backlog is on
    #: the way gets its batches paired together.
    ready_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PairingWorker(db.Model):
    """A running pairing worker (``flask pairing worker``), as it last said.

    Each worker writes its row every ``PAIRING_BEAT_S`` seconds; the
    dashboard and ``/health/pairing`` call the pairing stopped when no row
    is younger than ``PAIRING_WORKER_STALE_S``.
    """

    __tablename__ = "pairing_worker"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``host:pid``: one row per process.
    name: Mapped[str] = mapped_column(String(200), unique=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The last time the worker said it was alive.
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: People re-paired since it started.
    paired_people: Mapped[int] = mapped_column(BigInteger, default=0)
    #: When it last paired anyone.
    last_paired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
