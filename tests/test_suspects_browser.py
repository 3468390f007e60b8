"""The suspicious-records page (可疑记录) in a real headless Chromium against
gunicorn: from the dashboard to the flagged person, to the review queue
filtered by the pattern, each page accessible."""
from __future__ import annotations

import re
from datetime import datetime, time

import pytest

from sync.timeutil import BUSINESS_TZ, local_today
from tests.browser import screenshot, serious_accessibility_violations
from tests.sync_helpers import batch, push, scan
from tests.test_console_browser import _sign_in, _user

pytestmark = pytest.mark.slow


def _this_month(hh_mm: str) -> datetime:
    """A time on the first day of this month (in the future by a few hours
    at most on the 1st, which a push accepts)."""
    hours, minutes = (int(x) for x in hh_mm.split(":"))
    return datetime.combine(local_today().replace(day=1), time(hours, minutes), BUSINESS_TZ)


def test_a_secretary_finds_impossible_travel_from_the_dashboard(browser, live, client,
                                                                make_device):
    _, at_ba = make_device(stations=["ST-BA-1"])
    _, at_ns = make_device(stations=["ST-NS-1"])
    push(client, at_ba, batch([scan("P-BA-1", "check_in", _this_month("09:00")),
                               scan("P-BA-1", "check_out", _this_month("10:00"))]))
    push(client, at_ns, batch([scan("P-BA-1", "check_in", _this_month("10:01"),
                                    station="ST-NS-1"),
                               scan("P-BA-1", "check_out", _this_month("11:00"),
                                    station="ST-NS-1")]))
    _user("sec-flags", "branch_secretary", "BA-ZB1")
    server = live(SESSION_COOKIE_SECURE="0")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = _sign_in(context, server, "sec-flags")

    assert page.inner_text("#suspects") == "2"
    with page.expect_navigation():
        page.click("#suspects")
    page.wait_for_url(re.compile(r".*/console/flags$"))
    assert page.locator("nav >> text=可疑记录").count() == 1
    people = page.inner_text("#suspect-people")
    assert "人P-BA-1 (P-BA-1)" in people
    stations = page.inner_text("#suspect-stations")
    assert "ST-BA-1" in stations and "ST-NS-1" in stations
    screenshot(page, "console-suspects")
    assert serious_accessibility_violations(page) == []

    with page.expect_navigation():
        page.click("#suspect-people a[href*='flag=impossible_travel']")
    page.wait_for_url(re.compile(r".*/console/review\?flag=impossible_travel&person=P-BA-1$"))
    assert page.locator("text=两次扫码的站点相距太远，其间的时间不可能到达").count() == 2
    assert "仅显示 P-BA-1 的服务记录" in page.inner_text("#person-filter")
    assert serious_accessibility_violations(page) == []

    page.goto(server.url + "/console/flags")
    with page.expect_navigation():
        page.click("#suspect-people >> text=人P-BA-1 (P-BA-1)")
    page.wait_for_url(re.compile(r".*/console/people/P-BA-1\?.*"))
    context.close()
