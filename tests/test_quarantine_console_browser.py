"""The quarantine page of the console, in a real headless Chromium against
gunicorn: an administrator corrects and replays a scan, dismisses another;
secretaries neither see nor reach it."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from server.audit.models import AuditEntry
from server.checkins.models import CheckinEvent, QuarantinedEvent
from server.extensions import db
from server.people.models import Person
from tests.browser import screenshot, serious_accessibility_violations
from tests.sync_helpers import batch, push, recent, scan
from tests.test_console_browser import _administrator_page, _desk, _user

pytestmark = pytest.mark.slow


@pytest.fixture
def app_config():
    # A batch that reports more scans to come stays queued for pairing this
    # long: what the dashboard shows administrators as waiting to be paired.
    return {"PAIRING_HOLD_S": 3600}


def _entry(event_id: str) -> dict:
    """The first entry of that id as it stands, read in a transaction ended
    at once: an open one here would hold SQLite's write lock from the server."""
    db.session.expire_all()
    entry = db.session.scalar(select(QuarantinedEvent).where(
        QuarantinedEvent.event_id == event_id).order_by(QuarantinedEvent.id).limit(1))
    seen = {name: getattr(entry, name) for name in ("id", "status", "raw", "resolved_by")}
    db.session.rollback()
    return seen


def test_administrator_corrects_replays_and_dismisses(browser, live, client, make_device):
    _, token = make_device()
    typo = scan("P-BA-9X", "check_in", recent(3))  # the person's code mistyped
    shapeless = {**scan("P-BA-1", "check_in", recent(2)), "type": "dance"}
    answer = push(client, token, batch([typo, shapeless])).json
    assert [(r["status"], r["code"]) for r in answer["results"]] == [
        ("quarantined", "unknown_person"), ("quarantined", "malformed")]
    held = push(client, token, batch([scan("P-BA-2", "check_in", recent(1))],
                                     device={"queue_length": 40}))
    assert held.json["results"][0]["status"] == "accepted"
    _user("sec-ba", "branch_secretary", "BA-ZB1")
    _user("admin-ui", "admin", None)
    server = live(SESSION_COOKIE_SECURE="0")

    # A secretary has no such page: no link, and the address is refused.
    context, page = _desk(browser, server, "sec-ba")
    assert page.locator("nav a", has_text="异常扫码").count() == 0
    assert page.locator("#quarantined").count() == 0 and page.locator("#unpaired").count() == 0
    assert page.goto(server.url + "/console/quarantine").status == 403
    context.close()

    context, page = _desk(browser, server, "admin-ui")
    assert page.locator("nav a", has_text="异常扫码").count() == 1
    assert page.inner_text("#unpaired") == "1" and "最早排队于" in page.content()
    assert page.inner_text("#quarantined") == "2"  # the dashboard's card leads there
    with page.expect_navigation():
        page.click("#quarantined")
    assert page.locator("#quarantine tbody tr").count() == 2
    assert "人员未登记" in page.inner_text(f"#q-{_entry(typo['id'])['id']}")
    assert "格式错误" in page.inner_text(f"#q-{_entry(shapeless['id'])['id']}")
    assert serious_accessibility_violations(page) == []

    # Replayed as sent, the shapeless scan still cannot count, and says why.
    number = _entry(shapeless["id"])["id"]
    with page.expect_navigation():
        page.click(f"button[aria-label='重新处理 #{number}']")
    assert f"扫码 #{number} 仍无法计入" in page.content()
    assert _entry(shapeless["id"])["status"] == "waiting"

    # A correction that is not JSON changes nothing.
    page.click(f"#q-{number} details:has(textarea) summary")
    page.fill(f"#event-{number}", "{not json")
    with page.expect_navigation():
        page.click(f"button[aria-label='提交更正并重新处理 #{number}']")
    assert "更正内容不是 JSON 对象" in page.content()
    assert _entry(shapeless["id"])["status"] == "waiting"

    # The mistyped code corrected in the scan's text: it counts, for that person.
    number = _entry(typo["id"])["id"]
    page.click(f"#q-{number} details:has(textarea) summary")
    screenshot(page, "console-quarantine-correcting")
    text = page.input_value(f"#event-{number}")
    assert typo["id"] in text
    page.fill(f"#event-{number}", text.replace("P-BA-9X", "P-BA-1"))
    with page.expect_navigation():
        page.click(f"button[aria-label='提交更正并重新处理 #{number}']")
    assert f"扫码 #{number} 已计入" in page.content()
    assert page.locator("#quarantine tbody tr").count() == 1
    assert db.session.scalar(select(Person.code).join(
        CheckinEvent, CheckinEvent.person_id == Person.id).where(
        CheckinEvent.event_id == typo["id"])) == "P-BA-1"
    db.session.rollback()
    assert _entry(typo["id"])["resolved_by"] == "user:admin-ui"
    assert '"P-BA-9X"' in _entry(typo["id"])["raw"]  # what the device sent stays on record

    # Dismissed with a reason: off the waiting list, kept under "dismissed".
    number = _entry(shapeless["id"])["id"]
    page.fill(f"#dismiss-{number}", "测试扫码，非真实服务")
    with page.expect_navigation():
        page.click(f"button[aria-label='忽略 #{number}']")
    assert f"扫码 #{number} 已忽略" in page.content()
    assert page.locator("#quarantine tbody tr", has_text="无。").count() == 1
    page.select_option("#status", "dismissed")
    with page.expect_navigation():
        page.click("form.filters button[type=submit]")
    assert "测试扫码，非真实服务" in page.inner_text(f"#q-{number}")
    assert page.locator(f"#q-{number} button").count() == 0
    assert serious_accessibility_violations(page) == []
    screenshot(page, "console-quarantine")

    trail = db.session.execute(select(AuditEntry.action, AuditEntry.actor).where(
        AuditEntry.object_type == "quarantined_event").order_by(AuditEntry.id)).all()
    assert [tuple(t) for t in trail] == [("replay_quarantined", "user:admin-ui")] * 2 + [
        ("dismiss_quarantined", "user:admin-ui")]
    context.close()


def test_a_resent_correction_is_replayed_and_the_first_version_can_only_be_dismissed(
        browser, live, client, make_device):
    """A tablet sends a scan with a mistyped code, then the same scan (same
    id) corrected: the second is a conflict, kept aside. Replayed, it counts;
    the first then shows the version that counts and offers only dismissal."""
    _, token = make_device()
    typo = scan("P-BA-9X", "check_in", recent(3))
    assert push(client, token, batch([typo])).json["results"][0]["code"] == "unknown_person"
    corrected = {**typo, "person": "P-BA-1"}
    assert push(client, token, batch([corrected])).json["results"][0]["status"] == "conflict"
    server, context, page = _administrator_page(browser, live, "admin-ui")

    page.goto(server.url + "/console/quarantine?status=conflict")
    row = page.locator("#quarantine tbody tr")
    assert row.count() == 1 and "已计入的版本" not in row.inner_text()
    with page.expect_navigation():
        row.locator("button", has_text="重新处理").first.click()
    assert "已计入" in page.content()
    assert "conflict" in page.url  # back to the list it was sent from

    page.goto(server.url + "/console/quarantine")
    first = page.locator(f"#q-{_entry(typo['id'])['id']}")
    first.locator("details.counted summary").click()
    assert '"P-BA-1"' in first.locator("details.counted pre").inner_text()
    assert first.locator("button", has_text="重新处理").count() == 0
    assert first.locator("button", has_text="忽略").count() == 1
    assert serious_accessibility_violations(page) == []
    context.close()


def test_a_huge_scan_is_shown_cut_and_not_offered_for_correction(browser, live, client,
                                                                 make_device):
    """A device may send one event of up to PUSH_MAX_BYTES; a page of fifty
    such must not be fifty times that."""
    _, token = make_device()
    huge = {**scan("P-BA-9X", "check_in", recent(3)), "note": "备" * 30_000}
    assert push(client, token, batch([huge])).json["results"][0]["code"] == "unknown_person"
    server, context, page = _administrator_page(browser, live, "admin-ui")
    response = page.goto(server.url + "/console/quarantine")
    assert len(response.body()) < 60_000  # the scan alone is 90 KB, and it was there twice
    row = page.locator("#quarantine tbody tr")
    assert "个字符未显示" in row.locator("pre").text_content()
    assert row.locator("textarea").count() == 0 and "内容过长" in row.inner_text()
    assert row.locator("button", has_text="重新处理").count() == 1  # as sent still works
    context.close()


def test_an_entry_number_past_32_bits_is_not_found(browser, live, world):
    """PostgreSQL's entry numbers are 32-bit: a larger one in the address was
    sent to it and refused (500)."""
    server, context, page = _administrator_page(browser, live, "admin-far")
    page.goto(server.url + "/console/quarantine")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    for action in ("replay", "dismiss"):
        answer = page.request.post(f"{server.url}/console/quarantine/{2**31}/{action}",
                                   form={"csrf_token": token, "reason": "x"})
        assert answer.status == 404, action
    context.close()
