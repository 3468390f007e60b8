"""Users, passwords, grants and API tokens."""
from __future__ import annotations

import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update
from werkzeug.security import check_password_hash, generate_password_hash

from server.audit.services import record_audit
from server.auth.models import ApiToken, RoleGrant, User
from server.auth.tokens import hash_token, new_token
from server.common.lookup import apply_changes, ensure_code_free, reference
from server.db_types import utcnow
from server.errors import AppError
from server.extensions import db
from server.org.models import Area, Organisation
from server.stations.models import Station

#: Failed sign-ins in a row before the account is locked for LOCKOUT.
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
#: Compared against when the user does not exist, so timing does not tell.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def _hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def create_user(actor: str, data: dict) -> User:
    ensure_code_free(User, data["username"], "user", field="username")
    # ``active`` set here, not left to the column default: the answer is
    # written before the insert.
    user = User(username=data["username"], display_name=data["display_name"],
                password_hash=_hash_password(data["password"]), active=True)
    user.grants = [_grant(g) for g in data.get("grants", [])]
    db.session.add(user)
    record_audit(actor, "create_user", "user", user.username,
                 changes={"grants": [None, [g["role"] for g in data.get("grants", [])]]})
    return user


def update_user(actor: str, user: User, data: dict) -> User:
    data = dict(data)
    changes = {}
    if "password" in data:
        user.password_hash = _hash_password(data.pop("password"))
        _revoke_credentials(user)
        changes["password"] = ["***", "***"]
    if "grants" in data:
        user.grants = [_grant(g) for g in data.pop("grants")]
        changes["grants"] = [None, "replaced"]
        _revoke_credentials(user)
    changes.update(apply_changes(user, data))
    if data.get("active") is False:
        _revoke_credentials(user)
    record_audit(actor, "update_user", "user", user.username, changes=changes)
    return user


def _grant(data: dict) -> RoleGrant:
    return RoleGrant(role=data["role"],
                     area=reference(Area, data.get("area"), "area", "area"),
                     organisation=reference(Organisation, data.get("organisation"),
                                            "organisation", "organisation"),
                     station=reference(Station, data.get("station"), "station", "station"))


def _revoke_credentials(user: User) -> None:
    """Revoke the user's API tokens and end their console sessions."""
    end_console_sessions(user)
    for token in db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                           ApiToken.revoked_at.is_(None))):
        token.revoked_at = utcnow()


def authenticate(username: str, password: str) -> User:
    """The user with these credentials.

    :raise AppError: ``invalid_credentials`` (401) or ``account_locked`` (429)
        after MAX_FAILED_LOGINS failures in a row.
    """
    user = db.session.scalar(select(User).where(User.username == username))
    now = utcnow()
    if user is not None and user.locked_until is not None and user.locked_until > now:
        raise AppError("account_locked", "Too many failed sign-ins; try again later.",
                       status=429, headers={"Retry-After": str(int(
                           (user.locked_until - now).total_seconds()) + 1)})
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password)
        raise AppError("invalid_credentials", "Wrong user name or password.", status=401)
    if not check_password_hash(user.password_hash, password):
        _count_failure(user.id, now)
        raise AppError("invalid_credentials", "Wrong user name or password.", status=401)
    user.failed_logins = 0
    user.locked_until = None
    return user


def _count_failure(user_id: int, now) -> None:
    """Count one more wrong password in the database and lock the account at
    every MAX_FAILED_LOGINS-th in a row, deciding from the count the UPDATE
    returns: concurrent sign-ins each add theirs (a count read, incremented in
    Python and written back lost the ones in between). The count runs on
    until a sign-in succeeds, so the same attempt is never counted twice."""
    failures = db.session.execute(
        update(User).where(User.id == user_id)
        .values(failed_logins=User.failed_logins + 1).returning(User.failed_logins)
        .execution_options(synchronize_session=False)).scalar_one()
    if failures % MAX_FAILED_LOGINS == 0:
        db.session.execute(update(User).where(User.id == user_id)
                           .values(locked_until=now + LOCKOUT)
                           .execution_options(synchronize_session=False))
    # The failure must survive the error response's rollback.
    db.session.commit()


def open_console_session(user: User) -> str:
    """The value the console's session cookie carries for ``user`` (with
    their id): the open one, shared by the browsers they are signed in on,
    or a new one."""
    if user.console_session is None:
        user.console_session = secrets.token_urlsafe(32)
    return user.console_session


def end_console_sessions(user: User) -> None:
    """Sign ``user`` out of the console everywhere: every cookie that carries
    the old value, a copied one included, is refused from now on."""
    user.console_session = None


def issue_api_token(user: User) -> tuple[str, ApiToken]:
    token = new_token("usr_")
    api_token = ApiToken(user=user, token_hash=hash_token(token), expires_at=utcnow() + timedelta(
        seconds=current_app.config["API_TOKEN_TTL_S"]))
    db.session.add(api_token)
    return token, api_token


def revoke_api_token(token: str) -> None:
    api_token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if api_token is not None and api_token.revoked_at is None:
        api_token.revoked_at = utcnow()
