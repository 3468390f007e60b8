"""A station display and a volunteer's phone in headless Chromium, offline:
the display, set up from the console, shows a new code every 30 s without a
network; the phone verifies that code offline with the keys it pulled, says
it is current, queues the scan with the code as ``qr``; a code grown old says
so in Chinese."""
from __future__ import annotations

import io
import re
import time

import pytest
import zxingcpp
from PIL import Image

from server.extensions import db
from tests.browser import screenshot, serious_accessibility_violations
from tests.live_server import free_port
from tests.test_checkin_page_browser import PHONE, _enrol

pytestmark = pytest.mark.slow
TABLET = {"viewport": {"width": 1024, "height": 768}, "locale": "zh-CN",
          # Playwright evaluates its waits as strings; the pages themselves need no eval.
          "bypass_csp": True}


def _until(page, expression: str, timeout_s: float = 20):
    """The value of ``expression`` once truthy, asked from here: the pages'
    own timers (which Playwright's waits lean on) are stopped by the fake clock."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"never true: {expression}")
        time.sleep(0.1)


def _manager(username: str) -> None:
    from server.auth.services import create_user
    create_user("test", {"username": username, "display_name": "站长",
                         "password": "password-1234",
                         "grants": [{"role": "station_manager", "station": "ST-BA-1"}]})
    db.session.commit()


def _shown(page) -> dict:
    """What the display shows now: the code's text, its window, the image decoded."""
    image = Image.open(io.BytesIO(page.locator("#qr").screenshot()))
    decoded = [r.text for r in zxingcpp.read_barcodes(image,
                                                      formats=zxingcpp.BarcodeFormat.QRCode)]
    return {"url": page.evaluate("document.getElementById('qr').dataset.url"),
            "window": int(page.evaluate("document.getElementById('qr').dataset.window")),
            "decoded": decoded}


def _set_up_display(browser, server):
    """A tablet where the station's manager set up the display from the
    console; the page shows the code, under the service worker."""
    _manager("zhanzhang")
    context = browser.new_context(**TABLET)
    page = context.new_page()
    page.goto(server.url + "/console/sign-in")
    page.fill("#username", "zhanzhang")
    page.fill("#password", "password-1234")
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.goto(server.url + "/console/stations")
    with page.expect_navigation():
        page.click("a[href='/console/stations/ST-BA-1/display']")
    assert serious_accessibility_violations(page) == []
    screenshot(page, "console-station-display")
    page.fill("#display-name", "前台平板")
    with page.expect_navigation(url=re.compile(r".*/display$")):
        page.click("#display-setup button[type=submit]")
    page.wait_for_function("document.getElementById('qr').dataset.url !== undefined")
    assert page.inner_text("#station-name") == "站点ST-BA-1"
    # The page registered the service worker; reloaded once it is active,
    # the page is under it (as a screen left on would be within seconds).
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.wait_for_function("document.getElementById('qr').dataset.url !== undefined")
    assert serious_accessibility_violations(page) == []
    return context, page


def test_the_display_changes_code_offline_and_a_phone_accepts_it_offline(
        browser, live, client, world, admin_token):
    port = free_port()
    # The codes carry the address phones open: this server's, here.
    server = live(port=port, PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
                  SESSION_COOKIE_SECURE="0")
    tablet, display = _set_up_display(browser, server)
    first = _shown(display)
    assert first["decoded"] == [first["url"]]
    assert re.fullmatch(rf"{server.url}/q/ST-BA-1\?d=D-[0-9a-f]{{8}}&w={first['window']}"
                        r"&s=[A-Za-z0-9_-]{86}", first["url"])

    # A volunteer's phone, bound at the station online: it pulls the display's key.
    phone_context = browser.new_context(**PHONE)
    phone = _enrol(phone_context.new_page(), server, client, admin_token,
                   first["url"].replace(server.url, ""))
    phone.reload()
    phone.wait_for_function("navigator.serviceWorker.controller !== null")
    _until(phone, "getMeta('displays').then((d) => d && Object.keys(d).length === 1)")

    # The network goes; the display is reloaded (from the service worker's
    # cache) and its clock is ours to move.
    tablet.set_offline(True)
    tablet.clock.install()
    display.reload()
    _until(display, "document.getElementById('qr').dataset.url")
    now_ms = display.evaluate("Date.now()")
    middle = (now_ms // 30000 + 1) * 30000 + 10000  # 10 s into the next window
    display.clock.pause_at(middle / 1000)
    window = middle // 30000
    _until(display, f"document.getElementById('qr').dataset.window === '{window}'")
    before = _shown(display)
    display.clock.fast_forward(30000)
    _until(display, f"document.getElementById('qr').dataset.window === '{window + 1}'")
    after = _shown(display)
    assert after["url"] != before["url"] and after["decoded"] == [after["url"]]
    assert display.is_visible("#offline")
    assert display.inner_text("#countdown") == "20 秒后更新"
    screenshot(display, "station-display-offline")

    # The phone, offline, opens the new code as its camera would.
    phone_context.set_offline(True)
    phone_context.clock.install()
    phone.goto(after["url"])
    _until(phone, "document.getElementById('display-status').dataset.state === 'current'")
    assert "status ok" in phone.get_attribute("#display-status", "class")
    assert phone.inner_text("#display-status") == "这是站点屏幕上当前的签到二维码。"
    phone.click("#record")
    _until(phone, "document.getElementById('queue').textContent.includes('1 条')")
    queued = phone.evaluate("queuedScans().then((q) => q.map((i) => i.event))")
    assert [(e["type"], e["person"], e["qr"]) for e in queued] == [
        ("check_in", "P-BA-1", after["url"])]
    screenshot(phone, "checkin-display-code-offline")

    # Ten minutes later the same page, still open, says the code has expired.
    phone.clock.fast_forward("10:00")
    _until(phone, "document.getElementById('display-status').dataset.state === 'expired'")
    assert "请扫描站点屏幕上的最新二维码" in phone.inner_text("#display-status")
    assert "status warn" in phone.get_attribute("#display-status", "class")
    # And so does that code opened anew.
    phone.goto(after["url"])
    _until(phone, "document.getElementById('display-status').dataset.state === 'expired'")
    screenshot(phone, "checkin-display-code-expired")
    tablet.close()
    phone_context.close()


def test_an_altered_code_is_refused_offline_and_a_revoked_displays_online(
        browser, live, client, world, admin_token):
    port = free_port()
    server = live(port=port, PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
                  SESSION_COOKIE_SECURE="0")
    tablet, display = _set_up_display(browser, server)
    url = _shown(display)["url"]
    phone_context = browser.new_context(**PHONE)
    phone = _enrol(phone_context.new_page(), server, client, admin_token,
                   url.replace(server.url, ""))
    phone.reload()
    phone.wait_for_function("navigator.serviceWorker.controller !== null")
    _until(phone, "getMeta('displays').then((d) => d && Object.keys(d).length === 1)")
    phone_context.set_offline(True)
    # Another window, the signature kept: an old photo made to look current.
    window = int(re.search(r"&w=(\d+)", url).group(1))
    phone.goto(url.replace(f"&w={window}", f"&w={window + 1}"))
    _until(phone, "document.getElementById('display-status').dataset.state === 'invalid'")
    assert "status bad" in phone.get_attribute("#display-status", "class")

    # The display is revoked. Online, the page the server serves refuses its
    # code, even on a phone still holding the key (its pull not through yet).
    from tests.conftest import auth
    code = re.search(r"d=(D-[0-9a-f]{8})", url).group(1)
    assert client.post(f"/api/v1/displays/{code}/revoke", headers=auth(admin_token),
                       json={}).status_code == 200
    db.session.commit()
    phone_context.route("**/api/v1/sync/pull*", lambda route: route.abort())
    phone_context.set_offline(False)
    phone.goto(_shown(display)["url"])
    _until(phone, "document.getElementById('display-status').dataset.state === 'invalid'")
    assert phone.evaluate(f"getMeta('displays').then((d) => '{code}' in d)")
    tablet.close()
    phone_context.close()


def test_a_station_device_sets_up_a_display_with_its_enrolment_code(browser, live, client,
                                                                    world, admin_token):
    from tests.conftest import auth
    device = client.post("/api/v1/devices", headers=auth(admin_token), json={
        "code": "TAB-SCREEN", "name": "签到屏平板", "stations": ["ST-BA-1"], "can_push": False})
    assert device.status_code == 201, device.json
    db.session.commit()
    server = live(SESSION_COOKIE_SECURE="0")
    context = browser.new_context(**TABLET)
    page = context.new_page()
    page.goto(server.url + "/display")
    page.wait_for_selector("#not-set-up:not([hidden])")
    assert serious_accessibility_violations(page) == []
    screenshot(page, "station-display-not-set-up")
    page.fill("#device-credential", device.json["enrolment_qr"])
    page.click("#device-setup button[type=submit]")
    page.wait_for_function("document.getElementById('qr').dataset.url !== undefined")
    url = page.evaluate("document.getElementById('qr').dataset.url")
    code = re.search(r"d=(D-[0-9a-f]{8})", url).group(1)
    shown = client.get(f"/api/v1/displays/{code}", headers=auth(admin_token)).json
    assert (shown["station"], shown["registered_by"]) == ("ST-BA-1", "device:TAB-SCREEN")
    # The enrolment code is used up: the device is enrolled (its token was not kept).
    assert client.get("/api/v1/devices/TAB-SCREEN", headers=auth(admin_token)
                      ).json["status"] == "enrolled"
    assert page.is_hidden("#clock-off")

    # The screen's clock runs ten minutes fast: its codes would all look
    # expired to phones, and it says so.
    context.clock.install(time=time.time() + 600)
    page.reload()
    warning = _until(page, "!document.getElementById('clock-off').hidden"
                           " && document.getElementById('clock-off').textContent")
    assert re.search(r"相差 (599|600|601) 秒", warning), warning
    context.close()
