"""A device's page in the console says, in words, what its chain of scans
shows: scans removed or changed on the way, or that all is whole."""
from __future__ import annotations

import pytest

from tests.browser import serious_accessibility_violations
from tests.sync_helpers import batch, push
from tests.test_console_browser import _administrator_page
from tests.test_device_chain import _scans, linked

pytestmark = pytest.mark.slow


def test_a_devices_page_names_the_scans_removed_or_changed_on_the_way(browser, live, client,
                                                                      make_device):
    broken, token = make_device()
    events = linked(_scans(6))
    changed = dict(events[4], person="P-BA-2")
    push(client, token, batch(events[:2] + events[3:4] + [changed] + events[5:]))
    whole, token = make_device()
    push(client, token, batch(linked(_scans(3))))
    older, token = make_device()
    push(client, token, batch(_scans(2)))

    server, context, page = _administrator_page(browser, live, "admin-chain")
    page.goto(f"{server.url}/console/devices/{broken}")
    assert page.inner_text("#chain-verdict") == "已核对至第 6 号扫码，发现："
    assert page.locator("#chain-breaks li").all_inner_texts() == [
        "第 3 号扫码从未送达，而设备在它之后记录、并指明了它的第 4 号扫码已送达：它在途中或在设备上被删除了。",
        "第 5 号扫码送达的内容与设备记录的不同（第 6 号扫码可以证明）：它在途中或在设备上被改动了。"]
    assert serious_accessibility_violations(page) == []
    page.goto(f"{server.url}/console/devices/{whole}")
    assert page.inner_text("#chain-verdict") == "已核对至第 3 号扫码：没有扫码在途中被删除或改动。"
    page.goto(f"{server.url}/console/devices/{older}")
    assert "旧版本" in page.inner_text("#chain-verdict")

    page.goto(server.url + "/console/lang/en")
    page.goto(f"{server.url}/console/devices/{broken}")
    assert page.locator("#chain-breaks li").first.inner_text() == (
        "Scan no. 3 never arrived, though scan no. 4, made after it and naming it, did: it "
        "was removed on the way or on the device.")
    assert "Scans complete and unchanged?" in page.inner_text("#chain")
    context.close()
