"""A device's chain of scans, verified by the server from what it stored
(server/devices/chain.py), on SQLite and PostgreSQL: what a device that
links its scans shows when scans are removed or changed on the way, and
that older apps, quarantined scans and administrators' corrections show
nothing."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from server.devices import chain
from server.devices.models import Device, DeviceChainCheck
from server.extensions import db
from sync.event_chain import link_events
from sync.protocol import canonical_json, content_hash
from tests.conftest import auth
from tests.console_client import sign_in
from tests.sync_helpers import batch, push, recent, scan


def linked(events: list[dict]) -> list[dict]:
    """The events as a device that links its scans makes them: each names
    the content hash of the one before (the first names none)."""
    return link_events(events)


def _scans(count: int, first_seq: int = 1, person: str = "P-BA-1") -> list[dict]:
    return [scan(person, "check_in" if n % 2 else "check_out", recent(count - n + 1),
                 seq=first_seq + n - 1) for n in range(1, count + 1)]


def _chain(client, admin_token, code: str) -> dict:
    response = client.get(f"/api/v1/devices/{code}", headers=auth(admin_token))
    assert response.status_code == 200, response.json
    return response.json["chain"]


def _statuses(answer) -> list[str]:
    return [r["status"] for r in answer.json["results"]]


def test_a_linked_device_verifies_clean_over_several_pushes(client, make_device, admin_token):
    code, token = make_device()
    events = linked(_scans(6))
    assert _statuses(push(client, token, batch(events[:2]))) == ["accepted"] * 2
    assert _chain(client, admin_token, code) == {
        "verified_through_seq": 2, "linked_from_seq": 2, "complete": True, "break_count": 0,
        "breaks": []}
    assert _statuses(push(client, token, batch(events[2:]))) == ["accepted"] * 4
    assert _chain(client, admin_token, code) == {
        "verified_through_seq": 6, "linked_from_seq": 2, "complete": True, "break_count": 0,
        "breaks": []}


def test_a_scan_removed_on_the_way_is_a_break_and_its_late_altered_arrival_another(
        client, make_device, admin_token):
    """Scans 1, 2 and 4 arrive, 4 naming 3's hash: 3 was made and never
    came, though 4, made after it, did. When 3 then arrives changed, it is
    an alteration instead (the stored verdict is judged again)."""
    code, token = make_device()
    events = linked(_scans(4))
    third = events[2]
    assert _statuses(push(client, token, batch([events[0], events[1], events[3]]))) == [
        "accepted"] * 3
    assert _chain(client, admin_token, code)["breaks"] == [
        {"seq": 3, "kind": "removed", "named_by": 4, "expected_hash": content_hash(third)}]
    changed = dict(third, occurred_at=events[3]["occurred_at"])
    assert _statuses(push(client, token, batch([changed]))) == ["accepted"]
    assert _chain(client, admin_token, code)["breaks"] == [
        {"seq": 3, "kind": "altered", "named_by": 4, "expected_hash": content_hash(third),
         "stored_hashes": [content_hash(changed)]}]


def test_a_scan_changed_on_the_way_is_reported_altered(client, make_device, admin_token):
    code, token = make_device()
    events = linked(_scans(5))
    changed = dict(events[2], person="P-BA-2")  # someone else credited with the scan
    assert _statuses(push(client, token, batch(events[:2] + [changed] + events[3:]))) == [
        "accepted"] * 5
    found = _chain(client, admin_token, code)
    assert [(b["seq"], b["kind"], b["named_by"]) for b in found["breaks"]] == [(3, "altered", 4)]
    assert found["verified_through_seq"] == 5


def test_an_older_app_without_links_shows_no_break(client, make_device, admin_token):
    code, token = make_device()
    events = _scans(5)
    push(client, token, batch([events[0], events[1], events[4]]))  # 3 and 4 never came
    found = _chain(client, admin_token, code)
    assert found == {"verified_through_seq": 5, "linked_from_seq": None,
                     "complete": True, "break_count": 0, "breaks": []}
    # The gap is told where it always was: the seq numbers never received.
    assert client.get(f"/api/v1/devices/{code}", headers=auth(admin_token)).json[
        "missing_seq"] == [[3, 4]]


def test_a_link_that_is_not_a_hash_is_kept_and_counted_but_shown(client, make_device,
                                                                 admin_token):
    code, token = make_device()
    events = linked(_scans(3))
    events[2]["prev"] = events[2]["prev"].upper()
    events.append(scan("P-BA-1", "check_in", recent(0.5), seq=4, prev=12345))
    assert _statuses(push(client, token, batch(events))) == ["accepted"] * 4
    assert [(b["seq"], b["kind"]) for b in _chain(client, admin_token, code)["breaks"]] == [
        (3, "malformed_link"), (4, "malformed_link")]


def test_a_link_stripped_after_the_device_began_linking_is_a_break(
        client, make_device, admin_token):
    """Removing scan 3 and the link of scan 4 would make 3 look merely
    skipped: a scan without a link after linked ones is itself a break."""
    code, token = make_device()
    events = linked(_scans(4))
    del events[3]["prev"]
    push(client, token, batch([events[0], events[1], events[3]]))
    assert _chain(client, admin_token, code)["breaks"] == [{"seq": 4, "kind": "unlinked"}]


def test_a_resent_scan_with_other_content_is_a_fork_and_the_chain_says_which(
        client, make_device, admin_token):
    """The conflicting version is kept aside and does not count; the scan
    has two versions, and the next scan vouches for the one that counts."""
    code, token = make_device()
    events = linked(_scans(3))
    push(client, token, batch(events))
    other = dict(events[1], person="P-BA-2")
    assert push(client, token, batch([other])).json["results"][0]["status"] == "conflict"
    assert _chain(client, admin_token, code)["breaks"] == [
        {"seq": 2, "kind": "fork",
         "stored_hashes": sorted([content_hash(events[1]), content_hash(other)])}]


def test_quarantined_scans_keep_the_chain_and_a_corrected_replay_is_no_fork(
        client, make_device, admin_token):
    """Scan 2 waits in the quarantine (a mistyped person): it reached the
    server, so the chain holds. An administrator's corrected replay is not
    the device's version (it is on the audit trail): still no break."""
    code, token = make_device()
    events = linked(_scans(3))
    events[1]["person"] = "P-BA-1x"
    events[2]["prev"] = content_hash(events[1])
    assert _statuses(push(client, token, batch(events))) == [
        "accepted", "quarantined", "accepted"]
    assert _chain(client, admin_token, code)["breaks"] == []
    entry = client.get("/api/v1/quarantine?status=waiting", headers=auth(admin_token)).json[0]
    replayed = client.post(f"/api/v1/quarantine/{entry['id']}/replay",
                           headers=auth(admin_token),
                           json={"event": dict(events[1], person="P-BA-1")})
    assert replayed.status_code == 200 and replayed.json["status"] == "resolved"
    found = _chain(client, admin_token, code)
    assert found["breaks"] == [] and found["verified_through_seq"] == 3


def test_a_long_history_is_verified_in_rounds_and_a_late_scan_judged_in_its_block(
        client, make_device, admin_token, monkeypatch):
    """With small blocks and rounds: each read goes on where the last one
    stopped, a scan arriving late among those judged is judged with its
    block alone, and the stored verdict always equals one from scratch."""
    monkeypatch.setattr(chain, "BLOCK", 8)
    monkeypatch.setattr(chain, "MAX_ROWS", 7)
    monkeypatch.setattr(chain, "TIME_BUDGET_S", 0)  # one round a read
    code, token = make_device()
    events = linked(_scans(40))
    push(client, token, batch(events[:4] + events[5:]))  # 5 held back on the device
    seen = [_chain(client, admin_token, code) for _ in range(7)]
    assert [c["verified_through_seq"] for c in seen] == [8, 15, 22, 29, 36, 40, 40]
    assert [c["complete"] for c in seen] == [False] * 5 + [True] * 2
    assert seen[-1]["breaks"] == [{"seq": 5, "kind": "removed", "named_by": 6,
                                   "expected_hash": content_hash(events[4])}]
    push(client, token, batch([events[4]]))  # it was only still queued
    assert _chain(client, admin_token, code) == {
        "verified_through_seq": 40, "linked_from_seq": 2, "complete": True, "break_count": 0,
        "breaks": []}
    changed = dict(events[20], person="P-BA-2")  # a conflicting resend of 21
    push(client, token, batch([changed]))
    assert [(b["seq"], b["kind"]) for b in _chain(client, admin_token, code)["breaks"]] == [
        (21, "fork")]
    device = db.session.scalar(select(Device).where(Device.code == code))
    stored = db.session.get(DeviceChainCheck, device.id)
    assert stored.through_seq == 40
    assert json.loads(stored.row_counts) == {"0": 7, "1": 8, "2": 9, "3": 8, "4": 8, "5": 1}
    verdict = [b.as_dict() for b in chain.verify_chain(device).breaks]
    scratch = chain.verify_chain(device, from_scratch=True, to_the_end=True)
    assert [b.as_dict() for b in scratch.breaks] == verdict
    assert scratch.verified_through_seq == 40
    db.session.rollback()


def test_a_late_link_below_the_first_known_one_is_judged_with_all_after_it(
        client, make_device, admin_token, monkeypatch):
    """A device that began linking at scan 20, then scan 3 arriving late
    with a link: whether scans 4 to 19 lack a link now matters, so all from
    scan 3's block on is judged again."""
    monkeypatch.setattr(chain, "BLOCK", 8)
    monkeypatch.setattr(chain, "MAX_ROWS", 7)
    code, token = make_device()
    events = _scans(30)
    for before, event in zip(events[18:], events[19:]):
        event["prev"] = content_hash(before)
    push(client, token, batch(events[:2] + events[3:]))
    assert _chain(client, admin_token, code)["breaks"] == []
    late = dict(events[2], prev=content_hash(events[1]))
    push(client, token, batch([late]))
    found = _chain(client, admin_token, code)
    assert found["linked_from_seq"] == 3 and found["verified_through_seq"] == 30
    assert [(b["seq"], b["kind"]) for b in found["breaks"]] == [(n, "unlinked")
                                                                for n in range(4, 20)]


def test_a_push_writes_nothing_for_the_chain(client, make_device):
    """Verification reads what a push stores anyway: the push path is unchanged."""
    _, token = make_device()
    push(client, token, batch(linked(_scans(3))))
    assert db.session.scalar(select(func.count()).select_from(DeviceChainCheck)) == 0
    db.session.rollback()


@pytest.mark.parametrize("seq", [0, 1])
def test_a_link_on_a_devices_first_number(client, make_device, admin_token, seq):
    """Nothing comes before 0, so a link there is not checked; a link on 1
    names a scan 0 that never came."""
    code, token = make_device()
    push(client, token, batch([scan("P-BA-1", "check_in", recent(1), seq=seq, prev="a" * 64)]))
    kinds = [b["kind"] for b in _chain(client, admin_token, code)["breaks"]]
    assert kinds == ([] if seq == 0 else ["removed"])


def test_every_kind_of_break_is_told_in_words_on_the_devices_console_page(
        app, client, make_device):
    """Forks, links that are not hashes and stripped links read in Chinese
    too (the browser test reads removed and altered ones)."""
    code, token = make_device()
    events = linked(_scans(4))
    events[2]["prev"] = "not-a-hash"
    del events[3]["prev"]
    push(client, token, batch(events))
    push(client, token, batch([dict(events[0], person="P-BA-2")]))  # a conflicting resend
    console = app.test_client()
    assert sign_in(console, "root", "root-password-1").status_code == 302
    page = console.get(f"/console/devices/{code}").get_data(as_text=True)
    assert "已核对至第 4 号扫码，发现：" in page
    assert "第 1 号扫码送达了 2 个不同的版本。" in page
    assert "第 3 号扫码所带的、指向前一条扫码的链接无效。" in page
    assert "第 4 号扫码没有指向前一条扫码的链接，而该设备自第 2 号扫码起都会加上链接" in page


def test_a_check_in_a_reading_transaction_keeps_its_verdict_though_a_write_came_between(
        client, make_device):
    """Checks run in GET requests, whose SQLite transactions begin deferred:
    keeping the verdict from inside one, after another writer committed,
    failed with "database is locked" (seen under a live push)."""
    from sqlalchemy import text, update

    from server.common.transactions import reading
    code, token = make_device()
    push(client, token, batch(linked(_scans(3))))
    with reading():
        device = db.session.scalar(select(Device).where(Device.code == code))
        with db.engine.begin() as other:
            other.execute(update(Device).where(Device.code == code).values(notes="moved"))
        report = chain.verify_chain(device)
        db.session.rollback()
    assert (report.verified_through_seq, report.breaks) == (3, [])
    stored = db.session.execute(text("SELECT through_seq FROM device_chain_check")).scalar()
    assert stored == 3
    db.session.rollback()


def test_the_command_verifies_to_the_end_and_from_scratch_finds_rows_changed_in_place(
        app, client, make_device, admin_token):
    """A stored verdict is trusted for blocks whose count of versions did
    not change: a row edited in the database itself is found only by
    reading everything again (docs/sync-protocol.md, "Linked scans")."""
    from sqlalchemy import update

    from server.checkins.models import CheckinEvent
    code, token = make_device()
    events = linked(_scans(3))
    push(client, token, batch(events))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["device-chain", code])
    assert result.exit_code == 0, result.output
    assert result.output == f"{code}: verified through seq 3, linked from seq 2, 0 breaks\n"
    forged = dict(events[1], person="P-BA-2")
    db.session.execute(update(CheckinEvent).where(CheckinEvent.event_id == forged["id"]).values(
        raw=canonical_json(forged), content_hash=content_hash(forged)))
    db.session.commit()
    assert _chain(client, admin_token, code)["breaks"] == []
    result = runner.invoke(args=["device-chain", code, "--from-scratch"])
    assert result.exit_code == 1
    assert result.output.splitlines()[1:] == ["  seq 2: altered (named by seq 3)"]
    assert [b["kind"] for b in _chain(client, admin_token, code)["breaks"]] == ["altered"]
    assert "No device" in runner.invoke(args=["device-chain", "NOPE"]).output


def test_many_breaks_are_counted_and_the_first_listed(app, client, make_device, admin_token):
    """A client that hashes wrong breaks every link: the page lists the
    first 50 and counts the rest; each read costs what is new, not what
    was found (the breaks are rows of their own)."""
    code, token = make_device()
    events = _scans(61)
    for event in events[1:]:
        event["prev"] = "0" * 64  # names nothing that was ever sent
    push(client, token, batch(events))
    found = _chain(client, admin_token, code)
    assert found["break_count"] == 60 and len(found["breaks"]) == 60
    assert {b["kind"] for b in found["breaks"]} == {"altered"}
    console = app.test_client()
    assert sign_in(console, "root", "root-password-1").status_code == 302
    page = console.get(f"/console/devices/{code}").get_data(as_text=True)
    assert page.count("它在途中或在设备上被改动了") == 50 and "……另有 10 条。" in page
