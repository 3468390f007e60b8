"""Service sessions (derived from events) and the reviews that judge them."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Computed, Date, ForeignKey, Index, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db_types import UTCDateTime, utcnow
from server.extensions import db
from server.service_sessions.status import REJECTED

REVIEW_DECISIONS = ("approved", "rejected", "amended")
#: Derived statuses a secretary has to look at.
REVIEW_QUEUE = ("missing_checkout", "too_long", "orphan_checkout", "needs_review")
#: Patterns of faked hours (sync/fraud.py), each a flag that sends a
#: session to review; the console's suspicious-records page counts them.
FRAUD_FLAGS = ("impossible_travel", "overlapping_sessions", "code_far_away",
               "backfilled_days")
#: Why a session may be flagged: its events' flags, the day's limits, and
#: the patterns of faked hours.
SESSION_FLAGS = ("unsigned_scan", "late_upload", "display_code_expired", "bad_display_code",
                 "retroactive", "over_daily_limit",
                 "no_branch", "outside_geofence", "clock_corrected", "revoked_qr",
                 "repeat_scan", *FRAUD_FLAGS)
#: SQL: a session flagged with one of FRAUD_FLAGS. Literal, not bound, so
#: that both databases match it to the partial index below.
FRAUD_FLAGGED_SQL = " OR ".join(f"flags LIKE '%{flag}%'" for flag in FRAUD_FLAGS)


def counted():
    """A WHERE clause: sessions that count in the figures (``status.counts``)."""
    return ServiceSession.status != REJECTED


def flagged(flag: str):
    """A WHERE clause: sessions with ``flag`` (one of SESSION_FLAGS)."""
    if flag == "over_daily_limit":
        return ServiceSession.over_daily_limit.is_(True)
    # Flags are sorted and comma-separated; none is part of another's name.
    return ServiceSession.flags.contains(flag, autoescape=True)


class ServiceSession(db.Model):
    """A check-in paired (or not) with a check-out.

    Derived data: rebuilt from events whenever events arrive, keyed by the
    id of its first event so reviews stay attached across rebuilds.
    """

    __tablename__ = "service_session"
    __table_args__ = (
        Index("ix_service_session_local_date", "local_date"),
        Index("ix_service_session_person_key_at", "person_id", "key_at"),
        # A branch's (or a street's branches') sessions in a period, and
        # the stations behind them without reading the rows (completeness).
        Index("ix_service_session_branch_date", "branch_id", "local_date", "station_id"),
        # The review queue of a subtree, newest first, without reading the
        # sessions that wait for nothing.
        Index("ix_service_session_review_queue", "awaiting_review", "branch_id", "key_at"),
        # ... and for wide scopes, newest first straight from the index
        # (sorting a city's 130,000 waiting sessions took 0.3 s).
        Index("ix_service_session_review_order", "awaiting_review", "key_at", "id"),
        # The few sessions flagged with a pattern of faked hours, by date:
        # the suspicious-records page of a city's month without reading the
        # month (server/reports/suspects.py).
        Index("ix_service_session_suspect", "local_date",
              postgresql_where=text(FRAUD_FLAGGED_SQL), sqlite_where=text(FRAUD_FLAGGED_SQL)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: event_id of the session's first event; reviews refer to it.
    key_event_id: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id"), index=True)
    #: effective_at of the first event: where re-pairing can restart from.
    key_at: Mapped[datetime] = mapped_column(UTCDateTime)
    checkin_event_id: Mapped[str | None] = mapped_column(String(64))
    checkout_event_id: Mapped[str | None] = mapped_column(String(64))
    #: Status from pairing alone: ok, open, missing_checkout, too_long,
    #: orphan_checkout, needs_review.
    derived_status: Mapped[str] = mapped_column(String(20))
    derived_start_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    derived_end_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Status after review: the derived one, or approved / rejected / amended.
    status: Mapped[str] = mapped_column(String(20), index=True)
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Sorted comma-separated flags of its events.
    flags: Mapped[str] = mapped_column(String(200), default="")
    #: True when a review exists but late events changed the derived times.
    review_stale: Mapped[bool] = mapped_column(default=False)
    #: An ``ok`` session past the person's daily limits of what is credited
    #: without review (DAILY_REVIEW_S hours, DAILY_PAIRS_PER_ACTIVITY pairs of
    #: one activity; sync/daily_limit.py): it waits for review.
    over_daily_limit: Mapped[bool] = mapped_column(default=False, server_default=false())
    #: In the review queue: flagged by pairing, or a review that no longer
    #: applies. Kept by the database so no write path can forget it.
    awaiting_review: Mapped[bool] = mapped_column(Computed(
        "status IN (" + ", ".join(f"'{s}'" for s in REVIEW_QUEUE) + ") OR review_stale",
        persisted=True))
    credited_seconds: Mapped[int] = mapped_column(default=0)
    pending_seconds: Mapped[int] = mapped_column(default=0)
    #: Of ``credited_seconds``: what a reviewer approved or amended, and what
    #: was entered afterwards (补录) and approved; the rest is proven by scans
    #: alone (``status.credit_split``).
    reviewed_seconds: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    entered_seconds: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    #: What proves the person was there: the weaker of its two scans'
    #: evidence (sync/evidence.py; docs/trust.md).
    evidence: Mapped[str] = mapped_column(String(20), default="none",
                                          server_default="none")
    #: Local date (Asia/Shanghai) the session belongs to: that of its start.
    local_date: Mapped[date] = mapped_column(Date)
    #: The person's organisation on local_date.
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    person = relationship("Person")
    station = relationship("Station")
    activity = relationship("Activity")
    branch = relationship("Organisation")


class Review(db.Model):
    """A secretary's decision on a session; the latest one per session counts."""

    __tablename__ = "review"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_event_id: Mapped[str] = mapped_column(String(64), index=True)
    #: One of REVIEW_DECISIONS.
    decision: Mapped[str] = mapped_column(String(10))
    amended_start_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    amended_end_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The derived times the reviewer saw; if they change, the review is stale.
    based_on_start_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    based_on_end_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User")


class RetroactiveEntry(db.Model):
    """A session entered after the fact (补录): a volunteer served but no scan
    was recorded (a flat phone, a broken tablet).

    The entry becomes a check-in and a check-out flagged ``retroactive``,
    stored beside the scans, so pairing treats it like any other pair of
    events; the flag sends its session to review, where someone other than
    whoever entered it must approve it (server/service_sessions/retroactive.py).
    """

    __tablename__ = "retroactive_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"))
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id"))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    entered_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The event ids of the check-in and check-out it stored.
    checkin_event_id: Mapped[str] = mapped_column(String(64), unique=True)
    checkout_event_id: Mapped[str] = mapped_column(String(64), unique=True)

    entered_by = relationship("User")
    person = relationship("Person")
    station = relationship("Station")
    activity = relationship("Activity")
