"""Signing out in a real Chromium ends the session on the server: the same
cookie, copied into another browser before, no longer opens the console."""
from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.slow


def test_a_cookie_copied_before_sign_out_is_refused_after_it(browser, live, world):
    server = live(SESSION_COOKIE_SECURE="0")
    desk = browser.new_context(locale="zh-CN")
    page = desk.new_page()
    page.goto(server.url + "/console/sign-in")
    page.fill("#username", "root")
    page.fill("#password", "root-password-1")
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/$"))

    thief = browser.new_context(locale="zh-CN")
    thief.add_cookies(desk.cookies())
    stolen = thief.new_page()
    stolen.goto(server.url + "/console/")
    assert stolen.url.endswith("/console/")  # the copy works while signed in

    with page.expect_navigation():
        page.click("form[action$='/console/sign-out'] button")
    assert "/console/sign-in" in page.url

    stolen.goto(server.url + "/console/")
    assert "/console/sign-in" in stolen.url
    thief.close()
    desk.close()
