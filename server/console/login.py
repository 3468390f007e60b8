"""Signing in to the console: Flask-Login sessions over the same users as the API.

Flask's session is a signed cookie, which the server cannot take back; the
cookie's user id therefore carries ``User.console_session`` too, which
signing out and a new password replace (server/auth/services.py): a copied
cookie stops working then.
"""
from __future__ import annotations

import hmac

from flask import Flask
from flask_login import LoginManager, UserMixin

from server.auth.models import User
from server.auth.principal import Principal
from server.extensions import db

login_manager = LoginManager()
login_manager.login_view = "console.sign_in"
#: A changed address or browser drops the session (cookie theft).
login_manager.session_protection = "strong"


class ConsoleUser(UserMixin):
    """The signed-in user, with the subtrees their grants cover."""

    def __init__(self, user: User):
        self.user = user
        self.principal = Principal.of(user)

    def get_id(self) -> str:
        # open_console_session gave it a value before login_user.
        return f"{self.user.id}:{self.user.console_session}"


@login_manager.user_loader
def load_user(user_id: str):
    number, _, stamp = user_id.partition(":")
    if not number.isdigit():
        return None
    user = db.session.get(User, int(number))
    if (user is None or not user.active or user.console_session is None
            or not hmac.compare_digest(user.console_session, stamp)):
        return None
    return ConsoleUser(user)


def init_console_login(app: Flask) -> None:
    login_manager.init_app(app)
