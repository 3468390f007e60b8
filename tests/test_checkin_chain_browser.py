"""The check-in page links its scans (server/static/queue.js), in headless
Chromium: its canonical JSON is the server's byte for byte, and its chain
verifies clean on the server."""
from __future__ import annotations

import json
import random
import struct

import pytest
from sqlalchemy import select

from server.checkins.models import CheckinEvent
from server.devices.models import Device
from server.extensions import db
from sync.protocol import canonical_json, content_hash
from tests.conftest import auth
from tests.test_checkin_page_browser import PHONE, _enrolled_phone, _path, _wait_uploaded

pytestmark = pytest.mark.slow


def _numbers(count: int) -> list[float]:
    """Finite doubles of every kind: any bit pattern, coordinates, metres,
    and the neighbourhoods where Python and JavaScript switch to exponents."""
    rng = random.Random(20261210)
    found = [0.0, -0.0, 1e-4, 9.999999999999999e-05, 1e-05, 1e-06, 1e-07, 1.5e-07, 5e-324,
             2.2250738585072014e-308, 1e15, 1e16, 1e21, 1e22, 123456789012345680.0,
             0.1, 22.5562, 113.889, -0.00001234, 2**53, 2**53 + 2, 1.7976931348623157e308]
    while len(found) < count:
        kind = rng.randrange(4)
        if kind == 0:
            value = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        elif kind == 1:
            value = round(rng.uniform(-180, 180), rng.randrange(1, 15))
        elif kind == 2:
            value = rng.uniform(0, 5000)
        else:
            value = rng.choice((-1, 1)) * 10 ** rng.uniform(-9, 23)
        if value == value and abs(value) != float("inf"):
            found.append(value)
    return found


_TEXTS = ["", "签到", "a\"b\\c", "tab\there\nnew\rline", "\u0000\u001f\u007f\u0080", "\u2028\u2029",
          "emoji 😀 𠀋", "</script>", "'single'", "é" * 3]


def test_the_pages_canonical_json_and_hash_are_the_servers_byte_for_byte(browser, live):
    """What the page hashes is what the server will hash of what it sends:
    the server reads JSON.stringify's text and writes it canonically."""
    server = live(SESSION_COOKIE_SECURE="0")
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(server.url + "/app/checkin")
    page.wait_for_function("typeof canonicalJson === 'function'")
    event = {"id": "0190f0b8-1c2d-7e3f-8a4b-5c6d7e8f9a0b", "seq": 41, "type": "check_in",
             "person": "P-BA-1", "qr": "https://stations.example.test/q/ST-BA-1?v=2&k=k1&s=xyz",
             "occurred_at": "2026-12-10T01:02:03.456Z", "prev": "ab" * 32,
             "location": {"lat": 22.5562, "lng": 113.889, "accuracy_m": 1e-05}}
    values = [*_numbers(5000), *_TEXTS, True, False, None, [], {}, [1, [2.5, {"b": 1e-7}]],
              {"z": 1, "a": {"y": [0.0001, 0.00001]}, "名": "值"}, event]
    written = page.evaluate(
        "async (text) => Promise.all(JSON.parse(text).map(async (value) => [JSON.stringify(value),"
        " canonicalJson(value), typeof value === 'object' && value !== null && !Array.isArray("
        "value) ? await contentHash(value) : null]))", json.dumps(values, ensure_ascii=False))
    differing = [(sent, mine) for sent, mine, _ in written
                 if canonical_json(json.loads(sent)) != mine]
    assert differing == []
    hashed = [(sent, digest) for sent, _, digest in written if digest is not None]
    assert hashed and all(content_hash(json.loads(sent)) == digest for sent, digest in hashed)
    context.close()


def test_the_pages_scans_are_linked_and_their_chain_verifies_clean(browser, live, client, world,
                                                                   admin_token):
    """Two scans on the page, synced: the second names the first's stored
    content hash. Two recorded at the very same moment (another tab, say)
    are numbered one after the other and linked too."""
    server = live(SESSION_COOKIE_SECURE="0")
    station = _path(client.get("/api/v1/stations/ST-BA-1/qr", headers=auth(admin_token))
                    .json["url"])
    context, page = _enrolled_phone(browser, server, client, admin_token, station)
    page.wait_for_function("document.getElementById('hours').textContent !== '—'")
    page.click("#record")
    page.wait_for_function("document.getElementById('record').textContent === '签退'")
    page.wait_for_timeout(1100)
    page.click("#record")
    page.wait_for_function("document.getElementById('record').textContent === '签到'")
    _wait_uploaded(page)
    first, second = db.session.execute(
        select(CheckinEvent.content_hash, CheckinEvent.raw).order_by(CheckinEvent.seq)).all()
    db.session.rollback()
    assert "prev" not in json.loads(first.raw)
    assert json.loads(second.raw)["prev"] == first.content_hash

    page.evaluate("""() => Promise.all(["check_in", "check_out"].map((type) => enqueueScan(
        {type, person: "P-BA-1", qr: location.href, stationCode: "ST-BA-1"})))""")
    page.evaluate("pushOnce()")
    code = db.session.scalar(select(Device.code).join(CheckinEvent,
                                                      CheckinEvent.device_id == Device.id))
    db.session.rollback()
    chain = client.get(f"/api/v1/devices/{code}", headers=auth(admin_token)).json["chain"]
    assert chain == {"verified_through_seq": 4, "linked_from_seq": 2,
                     "complete": True, "break_count": 0, "breaks": []}
    context.close()
