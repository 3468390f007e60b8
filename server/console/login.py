"""Signing in to the console: Flask-Login sessions over the same users as the API."""
from __future__ import annotations

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
        # The password hash's tail invalidates sessions when the password changes.
        return f"{self.user.id}:{self.user.password_hash[-12:]}"


@login_manager.user_loader
def load_user(user_id: str):
    number, _, stamp = user_id.partition(":")
    if not number.isdigit():
        return None
    user = db.session.get(User, int(number))
    if user is None or not user.active or user.password_hash[-12:] != stamp:
        return None
    return ConsoleUser(user)


def init_console_login(app: Flask) -> None:
    login_manager.init_app(app)
