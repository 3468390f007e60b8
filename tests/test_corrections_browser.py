"""A correction request (更正申请) end to end in headless Chromium: written on
the volunteer's phone while offline, sent when the network returns, acted on
and answered in the secretary's console, the answer read on the phone."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from sync.timeutil import BUSINESS_TZ
from tests.browser import screenshot, serious_accessibility_violations
from tests.conftest import auth
from tests.sync_helpers import batch, push, recent, scan
from tests.test_checkin_page_browser import _enrolled_phone, _path, _wait_uploaded
from tests.test_console_browser import _desk, _user

pytestmark = pytest.mark.slow


def test_a_request_written_offline_is_answered_in_the_console(
        browser, live, client, world, admin_token):
    server = live(SESSION_COOKIE_SECURE="0")
    station_path = _path(client.get("/api/v1/stations/ST-BA-1/qr",
                                    headers=auth(admin_token)).json["url"])
    phone, page = _enrolled_phone(browser, server, client, admin_token, station_path,
                                  timezone_id="Asia/Shanghai")
    _wait_uploaded(page)
    page.wait_for_function(  # the star level line (志愿者星级), none yet
        "document.getElementById('stars').textContent.includes('满 100 小时即为一星级志愿者')")

    served_from = recent(28).astimezone(BUSINESS_TZ).replace(minute=0, second=0,
                                                             microsecond=0)
    phone.set_offline(True)
    page.click("#ask-missing")
    assert page.input_value("#c-station") == "ST-BA-1"
    page.fill("#c-start", served_from.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#c-end", (served_from + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#c-message", "手机没电了，站长王芳可以证明")
    assert serious_accessibility_violations(page) == []
    page.click("#correction button[type=submit]")
    page.wait_for_function(
        "document.getElementById('correction-status').textContent.includes('联网后自动提交')")
    assert "尚未提交" in page.inner_text("#corrections")
    phone.set_offline(False)
    page.wait_for_function(
        "document.getElementById('corrections').textContent.includes('等待答复')",
        timeout=20000)
    assert "已提交" in page.inner_text("#correction-status")
    screenshot(page, "checkin-correction-sent")

    _user("sec-corr", "branch_secretary", "BA-ZB1")
    console, desk = _desk(browser, server, "sec-corr")
    assert desk.inner_text("#open-corrections") == "1"  # on the dashboard
    with desk.expect_navigation():
        desk.click("nav >> text=更正申请")
    assert "手机没电了" in desk.inner_text("#corrections")
    assert serious_accessibility_violations(desk) == []
    screenshot(desk, "console-corrections")
    # The retroactive entry form, filled in from the request.
    with desk.expect_navigation():
        desk.click("#corrections >> text=补录")
    assert desk.input_value("#r-person") == "P-BA-1"
    assert desk.input_value("#r-station") == "ST-BA-1"
    assert desk.input_value("#r-start") == served_from.strftime("%Y-%m-%dT%H:%M")
    assert "手机没电了" in desk.input_value("#r-reason")
    with desk.expect_navigation():
        desk.click("#retroactive button[type=submit]")
    desk.wait_for_url(re.compile(r".*/console/sessions/.+"))
    assert "需审核" in desk.inner_text("#status")

    desk.goto(server.url + "/console/corrections")
    desk.select_option("#corrections select[name=outcome]", "entered")
    desk.fill("#corrections textarea[name=answer]", "已补录，待其他审核人确认后计入")
    with desk.expect_navigation():
        desk.click("#corrections button[type=submit]")
    assert "已答复" in desk.inner_text(".flash.ok")
    assert "无" in desk.inner_text("#corrections") or "None" in desk.inner_text("#corrections")
    desk.goto(server.url + "/console/")
    assert desk.inner_text("#open-corrections") == "0"
    console.close()

    page.reload()
    page.wait_for_function(
        "document.getElementById('corrections').textContent.includes('已补录，待其他审核人确认')",
        timeout=20000)
    assert "补录" in page.inner_text("#corrections")
    phone.close()


def test_a_request_about_one_of_the_recent_sessions(
        browser, live, client, make_device, admin_token):
    _, tablet = make_device()
    began = recent(6)
    push(client, tablet, batch([scan("P-BA-1", "check_in", began),
                                scan("P-BA-1", "check_out", recent(5))]))
    server = live(SESSION_COOKIE_SECURE="0")
    station_path = _path(client.get("/api/v1/stations/ST-BA-1/qr",
                                    headers=auth(admin_token)).json["url"])
    phone, page = _enrolled_phone(browser, server, client, admin_token, station_path,
                                  timezone_id="Asia/Shanghai")
    page.wait_for_selector("#recent button.ask")
    page.click("#recent button.ask")
    # About a session: its times filled in, no station to name.
    assert not page.is_visible("#c-station")
    started = began.astimezone(BUSINESS_TZ).strftime("%Y-%m-%dT%H:%M")
    assert page.input_value("#c-start") == started
    page.fill("#c-message", "签退时间晚了半小时")
    page.click("#correction button[type=submit]")
    page.wait_for_function(
        "document.getElementById('corrections').textContent.includes('等待答复')")
    [sent] = client.get("/api/v1/corrections", headers=auth(admin_token)).json
    assert sent["session"] and sent["message"] == "签退时间晚了半小时"
    phone.close()
