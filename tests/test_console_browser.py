"""The secretary's console in a real headless Chromium against gunicorn."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from server.extensions import db
from tests.browser import screenshot, serious_accessibility_violations
from tests.sync_helpers import batch, push, recent, scan

pytestmark = pytest.mark.slow


def _user(username, role, scope):
    from server.auth.services import create_user
    create_user("test", {"username": username, "display_name": f"{username}书记",
                         "password": "password-1234", "grants": [{"role": role,
                                                                  "organisation": scope}]})
    db.session.commit()


def _sign_in(context, server, username):
    page = context.new_page()
    # From the bare address, as a secretary would type it: it leads to sign-in.
    page.goto(server.url + "/")
    page.wait_for_url(re.compile(r".*/console/sign-in.*"))
    page.fill("#username", username)
    page.fill("#password", "password-1234")
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/$"))
    return page


def _administrator_page(browser, live, username: str):
    """A new administrator signed in on a desktop-sized page of a fresh
    live server: ``(server, context, page)``."""
    _user(username, "admin", None)
    server = live(SESSION_COOKIE_SECURE="0")
    return (server, *_desk(browser, server, username))


def _desk(browser, server, username: str):
    """``username`` signed in on a desktop-sized page in Chinese: ``(context, page)``."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    return context, _sign_in(context, server, username)


def _number(page, selector) -> float:
    return float(page.inner_text(selector))


def test_secretary_amends_a_flagged_session_and_the_dashboard_changes(browser, live, client,
                                                                      make_device):
    _, token = make_device()
    start = recent(20)
    push(client, token, batch([scan("P-BA-1", "check_in", start),
                               scan("P-BA-1", "check_out", start + timedelta(hours=14))]))
    _user("sec-ba", "branch_secretary", "BA-ZB1")
    _user("sec-ns", "branch_secretary", "NS-ZB1")
    server = live(SESSION_COOKIE_SECURE="0")

    context, page = _desk(browser, server, "sec-ba")
    pending_before = _number(page, "#pending-hours")
    credited_before = _number(page, "#credited-hours")
    assert pending_before >= 14 and page.inner_text("#waiting") == "1"
    screenshot(page, "console-dashboard")
    assert serious_accessibility_violations(page) == []

    with page.expect_navigation():
        page.click("text=审核")
    page.wait_for_url(re.compile(r".*/console/review"))
    screenshot(page, "console-review-queue")
    assert serious_accessibility_violations(page) == []
    with page.expect_navigation():
        page.click("text=人P-BA-1")
    session_url = page.url
    assert "时长超限" in page.inner_text("#status")
    screenshot(page, "console-session")
    assert serious_accessibility_violations(page) == []
    local_start = start.astimezone(__import__("sync.timeutil").timeutil.BUSINESS_TZ)
    page.fill("#start_at", local_start.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#end_at", (local_start + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#amend #reason", "忘记签退，实际服务 3 小时")
    with page.expect_navigation():
        page.click("#amend button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/review"))
    assert "已保存" in page.content()
    page.goto(server.url + "/console/")
    assert _number(page, "#credited-hours") == pytest.approx(credited_before + 3, abs=0.1)
    assert _number(page, "#pending-hours") == pytest.approx(pending_before - 14, abs=0.1)
    page.goto(session_url)
    assert "忘记签退" in page.content() and "已更正" in page.inner_text("#status")

    # Posting without the form's CSRF token is refused.
    refused = context.request.post(session_url + "/approved", form={"a-reason": "x"})
    assert refused.status == 400

    # A secretary of another branch sees neither the session nor its queue entry.
    other = browser.new_context(locale="zh-CN")
    other_page = _sign_in(other, server, "sec-ns")
    assert other_page.goto(session_url).status == 404
    other_page.goto(server.url + "/console/review")
    assert "人P-BA-1" not in other_page.content()
    other.close()

    # English is one click away.
    page.goto(server.url + "/console/lang/en")
    assert "Dashboard" in page.content()
    context.close()


def test_sign_in_page_is_accessible_and_wrong_passwords_fail(browser, live, world):
    server = live(SESSION_COOKIE_SECURE="0")
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    page.goto(server.url + "/console/")
    assert "/console/sign-in" in page.url
    assert serious_accessibility_violations(page) == []
    page.fill("#username", "root")
    page.fill("#password", "wrong-password")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "用户名或密码错误" in page.content()
    screenshot(page, "console-sign-in-phone")
    context.close()


def test_bulk_approve_and_password_change(browser, live, client, make_device):
    _, token = make_device()
    start = recent(30)
    push(client, token, batch([
        # Past 8 h a day: each waits for the branch's approval.
        scan("P-BA-1", "check_in", start), scan("P-BA-1", "check_out", start + timedelta(hours=9)),
        scan("P-BA-2", "check_in", start), scan("P-BA-2", "check_out", start + timedelta(hours=10)),
    ]))
    _user("sec-bulk", "branch_secretary", "BA-ZB1")
    server = live(SESSION_COOKIE_SECURE="0")
    context = browser.new_context(locale="zh-CN", bypass_csp=True)
    page = _sign_in(context, server, "sec-bulk")
    assert page.inner_text("#waiting") == "2"
    assert page.locator("svg.trend rect").count() == 12
    page.goto(server.url + "/console/review")
    for box in page.locator("input[name=session]").all():
        box.check()
    with page.expect_navigation():
        page.click("#bulk button[type=submit]")
    assert "已通过 2 条记录" in page.content()
    page.goto(server.url + "/console/")
    assert page.inner_text("#waiting") == "0"
    assert _number(page, "#credited-hours") >= 19

    page.goto(server.url + "/console/password")
    page.fill("#current", "password-1234")
    page.fill("#new", "a-new-password-99")
    page.fill("#confirm", "a-new-password-99")
    with page.expect_navigation():
        page.click("form.card button[type=submit]")
    assert "密码已修改" in page.content()
    context.close()
    fresh = browser.new_context(locale="zh-CN")
    again = fresh.new_page()
    again.goto(server.url + "/console/sign-in")
    again.fill("#username", "sec-bulk")
    again.fill("#password", "password-1234")
    with again.expect_navigation():
        again.click("button[type=submit]")
    assert "用户名或密码错误" in again.content()
    fresh.close()


def test_activities_people_stations_devices_exports_pages(browser, live, world, tmp_path):
    from server.auth.services import create_user
    create_user("test", {"username": "sec-dw", "display_name": "宝安书记", "password": "password-1234",
                         "grants": [{"role": "branch_secretary", "organisation": "BA-DW"}]})
    db.session.commit()
    server = live(SESSION_COOKIE_SECURE="0")
    context = browser.new_context(locale="zh-CN", bypass_csp=True,
                                  viewport={"width": 1280, "height": 900})
    page = _sign_in(context, server, "sec-dw")

    page.goto(server.url + "/console/activities")
    page.fill("#a-code", "ACT-UI-1")
    page.fill("#a-title", "主题党日")
    page.select_option("#a-kind", "themed_party_day")
    page.select_option("#a-org", "BA-DW")
    page.select_option("#a-station", "ST-BA-1")
    page.fill("#a-start", "2026-11-20T19:30")
    page.fill("#a-end", "2026-11-20T21:30")
    page.click("#new-activity button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/activities/ACT-UI-1$"))
    assert page.inner_text("#expected") == "3" and page.inner_text("#absent") == "3"
    page.select_option("#leave-person", "P-BA-3")
    page.fill("#leave-reason", "出差")
    with page.expect_navigation():
        page.click("#leave button[type=submit]")
    assert page.inner_text("#on-leave") == "1" and "出差" in page.content()
    assert serious_accessibility_violations(page) == []
    screenshot(page, "console-activity")

    roster = tmp_path / "roster.csv"
    roster.write_text("编码,姓名,类型,支部\nP-UI-1,新志愿者,volunteer,BA-ZB2\n", encoding="utf-8-sig")
    page.goto(server.url + "/console/people")
    page.select_option("#import-kind", "people")
    page.set_input_files("#import-file", str(roster))
    with page.expect_navigation():
        page.click("#import button[type=submit]")
    assert "已导入 1 行" in page.content() and "新志愿者" in page.content()
    assert serious_accessibility_violations(page) == []

    page.goto(server.url + "/console/stations")
    assert page.request.get(server.url + "/console/stations/ST-BA-1/qr.png").headers[
        "content-type"] == "image/png"
    assert page.request.get(server.url + "/console/stations/posters.pdf?station=ST-BA-1"
                            ).body()[:4] == b"%PDF"
    with page.expect_navigation():
        page.click("button[aria-label='重新生成 站点ST-BA-1']")
    assert "已生成新二维码" in page.content()
    assert serious_accessibility_violations(page) == []

    page.goto(server.url + "/console/devices")
    page.fill("#d-code", "TAB-UI-1")
    page.select_option("#d-stations", ["ST-BA-1"])
    with page.expect_navigation():
        page.click("#new-device button[type=submit]")
    assert page.locator("#enrolment img").count() == 1
    assert '"token":"enr_' in page.inner_text("#enrolment")
    screenshot(page, "console-devices")
    with page.expect_navigation():
        page.click("button[aria-label='停用 TAB-UI-1']")
    assert "设备已停用" in page.content()
    assert serious_accessibility_violations(page) == []

    page.goto(server.url + "/console/exports")
    with page.expect_download() as download:
        page.click("#export button.primary")
    assert download.value.suggested_filename.endswith(".xlsx")
    assert serious_accessibility_violations(page) == []
    context.close()


def test_devices_page_shows_a_wrong_clock_and_scans_never_received(browser, live, client,
                                                                   make_device):
    behind, token = make_device()
    silent, _ = make_device()
    when = recent(3)
    # The tablet's clock is three days behind, and its scans 3 and 4 never came.
    events = [scan("P-BA-1", "check_in", when - timedelta(days=3), seq=seq) for seq in (1, 2, 5)]
    answer = push(client, token, batch(events, sent_at=recent(0) - timedelta(days=3))).json
    assert answer["missing_seq"] == [[3, 4]]
    server, context, page = _administrator_page(browser, live, "admin-d")
    page.goto(server.url + "/console/devices")
    row = page.locator("tr", has_text=behind)
    assert "慢 3.0 天" in row.inner_text()
    assert row.locator("td.missing").inner_text() == "2 (seq 3–4)"
    quiet = page.locator("tr", has_text=silent)
    assert quiet.locator("td.missing").inner_text() == "0" and "—" in quiet.inner_text()
    assert serious_accessibility_violations(page) == []
    page.goto(server.url + "/console/lang/en")
    page.goto(server.url + "/console/devices")
    assert "3.0 days behind" in page.locator("tr", has_text=behind).inner_text()
    context.close()


def test_a_tablet_moved_to_another_station_from_its_page(browser, live, client, make_device):
    code, token = make_device(stations=["ST-BA-1"])
    early = scan("P-NS-1", "check_in", recent(2), station="ST-NS-1", seq=1)
    assert push(client, token, batch([early])).json["results"][0]["code"] == "out_of_scope"
    server, context, page = _administrator_page(browser, live, "admin-m")
    page.goto(server.url + "/console/devices")
    with page.expect_navigation():
        page.click(f"a:has-text('{code}')")
    assert page.inner_text("#clock") == "准确" and page.inner_text("#missing") == "0"
    assert serious_accessibility_violations(page) == []
    page.select_option("#e-stations", ["ST-NS-1"])
    page.fill("#e-name", "南山平板")
    with page.expect_navigation():
        page.click("#edit-device button[type=submit]")
    assert "已保存" in page.content()
    assert page.locator("#e-stations option:checked").all_inner_texts() == ["站点ST-NS-1 (ST-NS-1)"]
    from server.checkins.models import CheckinEvent
    from sqlalchemy import func, select
    assert db.session.scalar(select(func.count()).select_from(CheckinEvent).where(
        CheckinEvent.event_id == early["id"])) == 1  # the waiting scan counts now
    db.session.rollback()
    # No station at all is refused with the reason, and nothing changes.
    page.select_option("#e-stations", [])
    with page.expect_navigation():
        page.click("#edit-device button[type=submit]")
    assert "设备至少需要一个站点或组织" in page.inner_text(".flash.error")
    assert page.locator("#e-stations option:checked").all_inner_texts() == ["站点ST-NS-1 (ST-NS-1)"]
    # Serving a committee instead of a station is a scope too.
    page.select_option("#e-stations", [])
    page.select_option("#e-organisations", ["NS-DW"])
    with page.expect_navigation():
        page.click("#edit-device button[type=submit]")
    assert "已保存" in page.content()
    assert page.locator("#e-organisations option:checked").all_inner_texts() == ["NS-DW (NS-DW)"]
    assert page.locator("#e-stations option:checked").count() == 0
    # A name of blanks passes the browser's "required", not the server.
    page.fill("#e-name", "   ")
    with page.expect_navigation():
        page.click("#edit-device button[type=submit]")
    assert "name" in page.inner_text(".flash.error")
    assert page.input_value("#e-name") == "南山平板"
    screenshot(page, "console-device")
    context.close()


def test_a_persons_page_with_record_stars_and_the_draft_certificate(browser, live, client,
                                                                    make_device):
    _, token = make_device()
    start = recent(30)
    push(client, token, batch([scan("P-BA-1", "check_in", start),
                               scan("P-BA-1", "check_out", start + timedelta(hours=3))]))
    _user("sec-person", "branch_secretary", "BA-ZB1")
    server = live(SESSION_COOKIE_SECURE="0")
    context, page = _desk(browser, server, "sec-person")
    page.goto(server.url + "/console/people")
    with page.expect_navigation():
        page.click("text=人P-BA-1")
    assert page.inner_text("#total-hours") == "3.0"
    # A period that holds the session whatever the date (the default is this year so far).
    day = start.astimezone(__import__("sync.timeutil").timeutil.BUSINESS_TZ).date()
    page.fill("#from", str(day - timedelta(days=1)))
    with page.expect_navigation():
        page.click("form.filters button[type=submit]")
    assert "3.0" in page.inner_text("#record-totals")
    assert page.locator("#record tbody tr").count() == 1
    assert serious_accessibility_violations(page) == []
    pdf = page.request.get(server.url + page.get_attribute("#record-pdf", "href"))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")
    # Another branch's member is not there to see.
    assert page.goto(server.url + "/console/people/P-NS-1").status == 404
    context.close()


def test_the_next_page_keeps_the_filters(browser, live, client, make_device):
    _, token = make_device()
    # 52 check-ins an hour apart and no check-out, from a tablet whose clock
    # is 3 days behind: 51 missing check-outs and one open, all clock_corrected.
    behind = timedelta(days=3)
    push(client, token, batch([scan("P-BA-1", "check_in", recent(60 - hour) - behind)
                               for hour in range(52)], sent_at=recent(0) - behind))
    _user("sec-pages", "branch_secretary", "BA-ZB1")
    server = live(SESSION_COOKIE_SECURE="0")
    context, page = _desk(browser, server, "sec-pages")
    page.goto(server.url + "/console/review?status=missing_checkout&flag=clock_corrected")
    assert page.locator("input[name=session]").count() == 50
    with page.expect_navigation():
        page.click("nav.pages >> text=下一页")
    for kept in ("status=missing_checkout", "flag=clock_corrected", "page=2"):
        assert kept in page.url
    assert page.locator("input[name=session]").count() == 1
    context.close()


def test_a_page_far_past_the_end_of_any_list_is_an_empty_page(browser, live, world):
    """``page`` comes from the address; one whose offset no database takes
    (past 2^63 rows) answered 500."""
    server, context, page = _administrator_page(browser, live, "admin-far")
    for path in ("/console/people", "/console/activities", "/console/stations",
                 "/console/devices", "/console/review", "/console/quarantine",
                 "/console/corrections"):
        for far in (2**63 + 1, 10**30):
            answer = page.goto(f"{server.url}{path}?page={far}")
            assert answer.status == 200, (path, far)
            rows = page.locator("tbody tr:has(td:nth-child(2)), input[name=session]")
            assert rows.count() == 0, path
    context.close()
