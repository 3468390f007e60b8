"""Signing out of the console, and a new password, end the session on the
server: a copy of the session cookie is refused afterwards, on both databases."""
from __future__ import annotations

import pytest

from tests.conftest import auth
from tests.console_client import post_form, sign_in

pytestmark = pytest.mark.storage


def _signed_in(app):
    client = app.test_client()
    assert sign_in(client, "root", "root-password-1").status_code == 302
    assert client.get("/console/").status_code == 200
    return client


def _replay(app, cookie: str):
    """A second browser with a copy of the first one's session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief.get("/console/")


def _cookie(client) -> str:
    return client.get_cookie("session").value


def _refused(response) -> bool:
    return response.status_code == 302 and "/console/sign-in" in response.headers["Location"]


def test_a_copied_cookie_is_refused_after_sign_out(app, world):
    browser = _signed_in(app)
    copied = _cookie(browser)
    assert _replay(app, copied).status_code == 200  # the copy works while signed in
    assert post_form(browser, "/console/", "/console/sign-out").status_code == 302
    assert _refused(_replay(app, copied))
    assert _refused(browser.get("/console/"))


def test_signing_out_ends_the_other_browsers_too(app, world):
    office, home = _signed_in(app), _signed_in(app)
    post_form(office, "/console/", "/console/sign-out")
    assert _refused(home.get("/console/"))
    # Signing in again opens a new session; the old cookie stays dead.
    again = _signed_in(app)
    assert again.get("/console/").status_code == 200
    assert _refused(home.get("/console/"))


def test_a_copied_cookie_is_refused_after_a_password_change(app, world):
    browser = _signed_in(app)
    copied = _cookie(browser)
    changed = post_form(browser, "/console/password", "/console/password", {
        "current": "root-password-1", "new": "a-new-password-2", "confirm": "a-new-password-2"})
    assert changed.status_code == 302
    assert _refused(_replay(app, copied))
    # The browser that changed it stays signed in, with a new session.
    assert browser.get("/console/").status_code == 200


def test_a_password_set_by_an_administrator_ends_the_users_console_sessions(
        app, world, admin_token):
    browser = _signed_in(app)
    response = app.test_client().patch("/api/v1/users/root", headers=auth(admin_token),
                                       json={"password": "set-by-admin-3"})
    assert response.status_code == 200, response.json
    assert _refused(browser.get("/console/"))


def test_a_cookie_naming_the_user_without_the_session_is_refused(app, world):
    """Signed cookies that name the user but not the open console session (the
    old form carried the password hash's tail) are refused."""
    from server.auth.models import User
    from server.extensions import db
    with _signed_in(app).session_transaction() as session:
        browser_id = session["_id"]  # what session protection compares
    user = db.session.query(User).filter_by(username="root").one()

    def forged(user_id: str):
        forger = app.test_client()
        with forger.session_transaction() as session:
            session.update({"_user_id": user_id, "_fresh": True, "_id": browser_id})
        return forger.get("/console/")

    assert forged(f"{user.id}:{user.console_session}").status_code == 200  # the real one
    for user_id in (f"{user.id}:{user.password_hash[-12:]}", f"{user.id}:", str(user.id),
                    f"{user.id}:None"):
        assert _refused(forged(user_id)), user_id
