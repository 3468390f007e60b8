"""Signing in to the console with Flask's test client, through the real form."""
from __future__ import annotations

import re

from sqlalchemy import select

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a console page."""
    found = _CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def sign_in(client, username: str, password: str):
    """Sign ``username`` in on ``client``; the answer of the form's POST."""
    token = csrf_token(client.get("/console/sign-in").get_data(as_text=True))
    return client.post("/console/sign-in", data={"username": username, "password": password,
                                                 "csrf_token": token})


def post_form(client, page: str, action: str, data: dict | None = None):
    """POST ``data`` to ``action`` with the CSRF token of ``page``."""
    token = csrf_token(client.get(page).get_data(as_text=True))
    return client.post(action, data={**(data or {}), "csrf_token": token})


def username_of(api_token: str) -> str:
    """The user name behind a bearer token (tests/conftest.py ``make_user``)."""
    from server.auth.models import ApiToken
    from server.auth.tokens import hash_token
    from server.extensions import db
    return db.session.scalar(select(ApiToken).where(
        ApiToken.token_hash == hash_token(api_token))).user.username
