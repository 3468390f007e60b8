"""Console and API users, their role grants and bearer tokens."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db_types import UTCDateTime, utcnow
from server.extensions import db

#: Roles and the kind of subtree each is scoped to.
ROLE_SCOPES = {
    "admin": None,                     # everything
    "area_admin": "area",              # district or street administrator
    "branch_secretary": "organisation",
    "station_manager": "station",
}


class User(db.Model):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Sign-in name; also the user's public code.
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    #: werkzeug scrypt hash; never the password.
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(default=True)
    #: Wrong passwords since the last successful sign-in; every fifth locks
    #: the account (server/auth/services.py). Incremented in SQL.
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The console's sign-in: its session cookie carries this with the
    #: user's id. Signing out, a new password, new grants or deactivation
    #: clear it, which ends every console session of the user, copied
    #: cookies included (Flask's cookies cannot be revoked by themselves).
    #: NULL: none open.
    console_session: Mapped[str | None] = mapped_column(String(43))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    grants = relationship("RoleGrant", cascade="all, delete-orphan", lazy="selectin")


class RoleGrant(db.Model):
    """One role of a user over one subtree (an area, an organisation or a station)."""

    __tablename__ = "role_grant"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    #: One of ROLE_SCOPES.
    role: Mapped[str] = mapped_column(String(30))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("station.id"))

    area = relationship("Area", lazy="joined")
    organisation = relationship("Organisation", lazy="joined")
    station = relationship("Station", lazy="joined")


class ApiToken(db.Model):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    #: SHA-256 of the token.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User")
