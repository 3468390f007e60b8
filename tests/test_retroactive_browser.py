"""Retroactive entries (补录) in the console, in a real headless Chromium
against gunicorn: entered by one secretary, certified by another."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from sync.timeutil import BUSINESS_TZ
from tests.browser import screenshot, serious_accessibility_violations
from tests.sync_helpers import recent
from tests.test_console_browser import _desk, _user

pytestmark = pytest.mark.slow


def _local(moment) -> str:
    return moment.astimezone(BUSINESS_TZ).strftime("%Y-%m-%dT%H:%M")


def test_one_secretary_enters_service_after_the_fact_and_another_approves_it(browser, live,
                                                                             world):
    _user("sec-enters", "branch_secretary", "BA-ZB1")
    _user("sec-certifies", "branch_secretary", "BA-ZB1")
    server = live(SESSION_COOKIE_SECURE="0")
    start = recent(30).replace(second=0, microsecond=0)

    context, page = _desk(browser, server, "sec-enters")
    page.goto(server.url + "/console/people")
    with page.expect_navigation():
        page.click("a[href$='/console/sessions/new?person=P-BA-1']")
    assert page.input_value("#r-person") == "P-BA-1"
    assert serious_accessibility_violations(page) == []

    # End before start: refused in Chinese, what was typed is kept.
    page.fill("#r-station", "ST-BA-1")
    page.fill("#r-start", _local(start))
    page.fill("#r-end", _local(start - timedelta(hours=1)))
    page.fill("#r-reason", "手机没电，站长王芳确认到岗")
    with page.expect_navigation():
        page.click("#retroactive button[type=submit]")
    assert "补录的开始或结束时间不符合要求" in page.inner_text(".flash.error")
    assert page.input_value("#r-reason") == "手机没电，站长王芳确认到岗"

    page.fill("#r-end", _local(start + timedelta(hours=3)))
    with page.expect_navigation():
        page.click("#retroactive button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/sessions/[0-9a-f-]{36}$"))
    session_url = page.url
    assert "需审核" in page.inner_text("#status")
    assert "手机没电" in page.inner_text("#retroactive-entries")
    assert page.is_visible("#self-entered")
    assert page.locator("form[action$='/approved']").count() == 0
    assert page.locator("#amend").count() == 0 and page.locator("form[action$='/rejected']").count()
    screenshot(page, "console-retroactive-entered")
    assert serious_accessibility_violations(page) == []
    # Nor does approving in bulk from the queue certify one's own entry.
    page.goto(server.url + "/console/review?flag=retroactive")
    assert page.locator("input[name=session]").count() == 1
    assert serious_accessibility_violations(page) == []
    page.locator("input[name=session]").check()
    with page.expect_navigation():
        page.click("#bulk button[type=submit]")
    assert "已通过 0 条记录" in page.content()
    assert "其中 1 条已留给其他审核人" in page.inner_text(".flash.error")
    context.close()

    context, page = _desk(browser, server, "sec-certifies")
    page.goto(session_url)
    assert not page.is_visible("#self-entered")
    with page.expect_navigation():
        page.click("form[action$='/approved'] button[type=submit]")
    page.goto(session_url)
    assert "已通过" in page.inner_text("#status")
    assert "3.00" in page.inner_text(".facts")
    context.close()
