"""Volunteers' offline check-in page in headless Chromium with a phone viewport."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from server.checkins.models import CheckinEvent
from server.extensions import db
from server.service_sessions.models import ServiceSession
from tests.browser import (CHROMIUM_FLAGS, chromium_path, screenshot,
                           serious_accessibility_violations)
from tests.conftest import auth
from tests.sync_helpers import settle_pairing

pytestmark = pytest.mark.slow
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "locale": "zh-CN",
         # Playwright evaluates its waits as strings; the pages themselves need no eval.
         "bypass_csp": True}


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def _invitation(client, admin_token, person="P-BA-1") -> str:
    response = client.post(f"/api/v1/people/{person}/invitation", headers=auth(admin_token))
    assert response.status_code == 201, response.json
    db.session.commit()
    return response.json["code"]


def _enrolled_phone(browser, server, client, admin_token, station_path, **options):
    """A phone bound to P-BA-1 on the station's page; ``options`` add to PHONE's."""
    context = browser.new_context(**{**PHONE, **options})
    return context, _enrol(context.new_page(), server, client, admin_token, station_path)


def _enrol(page, server, client, admin_token, station_path):
    """Bind the page's phone to P-BA-1 on the station's page; wait for its service worker."""
    page.goto(server.url + station_path)
    page.wait_for_selector("#enrol:not([hidden])")
    page.fill("#person-code", "P-BA-1")
    page.fill("#one-time-code", _invitation(client, admin_token))
    page.click("#enrol-form button[type=submit]")
    page.wait_for_selector("#scanner:not([hidden])")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_function("navigator.serviceWorker.controller !== null || true")
    page.wait_for_function("document.getElementById('queue').textContent.length > 0")
    return page


def _wait_uploaded(page):
    page.wait_for_function("document.getElementById('queue').textContent.includes('已全部上传')",
                           timeout=15000)


def test_offline_check_in_reload_check_out_then_sync(browser, live, client, world, admin_token):
    server = live(SESSION_COOKIE_SECURE="0")
    url = _path(client.get("/api/v1/stations/ST-BA-1/qr", headers=auth(admin_token)).json["url"])
    context, page = _enrolled_phone(browser, server, client, admin_token, url)
    assert serious_accessibility_violations(page) == []
    # Make sure the service worker controls the page before the network goes.
    page.reload()
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    _wait_uploaded(page)

    context.set_offline(True)
    page.reload()
    page.wait_for_selector("#scanner:not([hidden])")
    assert page.inner_text("#record") == "签到"
    page.click("#record")
    page.wait_for_function("document.getElementById('queue').textContent.includes('1 条')")
    page.reload()
    page.wait_for_selector("#scanner:not([hidden])")
    # The queue line is written once IndexedDB has answered, after the scanner shows.
    page.wait_for_function(
        "document.getElementById('queue').textContent.includes('1 条扫码待上传')")
    assert page.inner_text("#record") == "签退"
    page.wait_for_timeout(1100)
    page.click("#record")
    page.wait_for_function("document.getElementById('queue').textContent.includes('2 条')")
    screenshot(page, "checkin-offline-phone")

    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    _wait_uploaded(page)
    settle_pairing()
    sessions = db.session.scalars(select(ServiceSession)).all()
    db.session.rollback()
    assert [(s.status, s.person.code) for s in sessions] == [("ok", "P-BA-1")]
    assert 1 <= sessions[0].credited_seconds <= 120
    context.close()


def test_revoked_code_warns_but_is_kept_and_two_tabs_send_once(browser, live, client, world,
                                                               admin_token):
    server = live(SESSION_COOKIE_SECURE="0")
    old = _path(client.get("/api/v1/stations/ST-BA-1/qr", headers=auth(admin_token)).json["url"])
    context, page = _enrolled_phone(browser, server, client, admin_token, old)
    page.reload()
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    # The first sync is done (it ends with the volunteer's hours): the phone
    # holds the code's version as current, so no warning yet.
    page.wait_for_function("document.getElementById('hours').textContent.length > 0")
    assert page.is_hidden("#offline-warning")
    client.post("/api/v1/stations/ST-BA-1/qr/reissue", headers=auth(admin_token), json={})
    db.session.commit()
    # The page opens while the server is away (from the service worker's
    # cache), so its sync fails; nothing else happens on the page. The warning
    # can only come from the page trying again by itself once the server is back.
    server.stop()
    page.reload()
    page.wait_for_selector("#scanner:not([hidden])")
    server.start()
    page.wait_for_selector("#offline-warning:not([hidden])", timeout=20000)
    sent_ids = []
    context.on("request", lambda request: sent_ids.extend(
        e["id"] for e in json.loads(request.post_data or "{}").get("events", []))
        if request.url.endswith("/api/v1/sync/push") else None)
    second = context.new_page()
    second.goto(server.url + old)
    second.wait_for_selector("#scanner:not([hidden])")
    context.set_offline(True)
    page.click("#switch")
    page.wait_for_function("document.getElementById('record').textContent === '签退'")
    page.click("#switch")
    page.wait_for_function("document.getElementById('record').textContent === '签到'")
    page.click("#record")
    page.wait_for_function("document.getElementById('record').textContent === '签退'")
    page.wait_for_timeout(1100)
    page.click("#record")
    page.wait_for_function("document.getElementById('queue').textContent.includes('2 条')")
    context.set_offline(False)
    for tab in (page, second):
        tab.evaluate("window.dispatchEvent(new Event('online'))")
    _wait_uploaded(page)
    second.wait_for_timeout(500)
    assert len(sent_ids) == len(set(sent_ids)) == 2
    settle_pairing()
    flags = {s.flags for s in db.session.scalars(select(ServiceSession))}
    db.session.rollback()
    assert flags == {"revoked_qr"}
    context.close()


#: WeChat's built-in browser on an iPhone: no service worker there.
WECHAT_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
                 "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800323c) "
                 "NetType/WIFI Language/zh_CN")

NO_ONLINE_EVENTS = """{
  const listen = EventTarget.prototype.addEventListener;
  EventTarget.prototype.addEventListener = function (type, ...rest) {
    if (type !== "online") listen.call(this, type, ...rest);
  };
}"""


@pytest.mark.parametrize("then", ["page stays open", "page opened again"])
def test_in_wechat_without_a_service_worker_a_scan_offline_is_kept_and_sent(
        browser, live, client, world, admin_token, then):
    server = live(SESSION_COOKIE_SECURE="0")
    url = server.url + _path(client.get("/api/v1/stations/ST-BA-1/qr",
                                        headers=auth(admin_token)).json["url"])
    context = browser.new_context(**PHONE, user_agent=WECHAT_IPHONE, service_workers="block")
    # Nor, as with some in-app browsers, an "online" event when the network
    # is back: the page has to try again by itself.
    context.add_init_script(NO_ONLINE_EVENTS)
    page = context.new_page()
    page.goto(url)
    # Said at once, in Chinese: how to get a page that opens offline.
    page.wait_for_selector("#no-offline:not([hidden])")
    notice = page.inner_text("#no-offline")
    assert "在浏览器打开" in notice and "添加到主屏幕" in notice
    page.fill("#person-code", "P-BA-1")
    page.fill("#one-time-code", _invitation(client, admin_token))
    page.click("#enrol-form button[type=submit]")
    page.wait_for_selector("#scanner:not([hidden])")
    assert page.evaluate("navigator.serviceWorker.controller") is None
    # The opening's sync is over (it ends with the hours), so that none is
    # still under way, and failing, when the network goes.
    page.wait_for_function("document.getElementById('hours').textContent !== '—'")
    page.click("#record")
    # Recorded (the button turns), and then uploaded: the queue line said
    # "all uploaded" already before the tap.
    page.wait_for_function("document.getElementById('record').textContent === '签退'")
    _wait_uploaded(page)

    context.set_offline(True)
    page.wait_for_timeout(1100)
    page.click("#record")
    page.wait_for_function("document.getElementById('queue').textContent.includes('1 条')")
    screenshot(page, "checkin-wechat-offline")
    if then == "page opened again":
        page.close()
        context.set_offline(False)
        page = context.new_page()
        page.goto(url)
    else:
        context.set_offline(False)
    _wait_uploaded(page)
    settle_pairing()
    [session] = db.session.scalars(select(ServiceSession)).all()
    scans = dict(db.session.execute(select(CheckinEvent.event_id, CheckinEvent.type)).all())
    db.session.rollback()
    assert (session.status, session.person.code) == ("ok", "P-BA-1")
    assert scans == {session.checkin_event_id: "check_in", session.checkout_event_id: "check_out"}
    context.close()


def test_the_page_installs_as_an_app_that_opens_offline_at_its_start_page(
        browser, live, client, world, admin_token, tmp_path):
    server = live(SESSION_COOKIE_SECURE="0")
    station = _path(client.get("/api/v1/stations/ST-BA-1/qr", headers=auth(admin_token))
                    .json["url"])
    # Chromium installs nothing from an incognito profile, which new_context() makes.
    context = browser.browser_type.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=chromium_path(), args=CHROMIUM_FLAGS,
        **PHONE)
    page = _enrol(context.new_page(), server, client, admin_token, station)
    page.reload()
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    assert page.is_hidden("#no-offline")
    devtools = context.new_cdp_session(page)
    assert devtools.send("Page.getInstallabilityErrors") == {"installabilityErrors": []}
    manifest = devtools.send("Page.getAppManifest")
    assert manifest["url"] == server.url + "/manifest.webmanifest" and manifest["errors"] == []
    declared = json.loads(manifest["data"])
    assert (declared["name"], declared["short_name"]) == ("党群服务站点签到", "站点签到")
    assert (declared["display"], declared["start_url"]) == ("standalone", "/app/checkin")

    # Opened from the home screen without a network: the start page, which
    # has no station, says where scans begin instead of offering a button.
    context.set_offline(True)
    page.goto(server.url + declared["start_url"])
    page.wait_for_selector("#scanner:not([hidden])")
    assert page.is_visible("#scan-hint") and page.is_hidden("#scan-actions")
    assert page.inner_text("#station-name") == "站点签到"
    screenshot(page, "checkin-app-start-page-offline")
    assert serious_accessibility_violations(page) == []
    context.close()
