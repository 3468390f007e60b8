"""Reports' completeness (docs/sync-protocol.md, "Reports: how final the
figures are"): a device is behind only while it holds scans from before the
period's end, or has been silent; on both databases."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from server.db_types import utcnow
from server.devices.models import Device
from server.extensions import db
from sync.device_queue import QueueAfter, queue_after
from sync.timeutil import format_rfc3339, local_today
from tests.conftest import auth
from tests.sync_helpers import at, batch, push, recent, scan


def _completeness(client, token, month: str) -> dict:
    response = client.get(f"/api/v1/reports/service-hours?month={month}", headers=auth(token))
    assert response.status_code == 200, response.json
    return response.json["completeness"]


def _shift(start):
    return [scan("P-BA-1", "check_in", start),
            scan("P-BA-1", "check_out", start + timedelta(hours=2))]


def _this_month() -> str:
    return local_today().strftime("%Y-%m")


def test_a_device_that_sent_everything_is_not_behind_this_month_or_last(
        client, make_device, admin_token):
    """It counts its queue with the batch in it, as the reference client
    does: two queued, two sent, nothing left."""
    _, token = make_device()
    start = recent(3)
    events = _shift(start)
    push(client, token, batch(events, device={"queue_length": 2,
                                              "oldest_queued_at": format_rfc3339(start)}))
    now = _completeness(client, admin_token, _this_month())
    [device] = now["devices"]
    assert device["queue_length"] == 0 and device["oldest_queued_at"] is None
    assert device["behind"] is False and now["may_change"] is False
    last = _completeness(client, admin_token, "2026-10")
    assert last["devices"][0]["behind"] is False and last["may_change"] is False


def test_a_device_that_still_holds_a_scan_from_before_the_end_is_behind(
        client, make_device, admin_token):
    _, token = make_device()
    held = at("2026-10-31 20:00")
    push(client, token, batch(_shift(recent(3)), device={
        "queue_length": 3, "oldest_queued_at": format_rfc3339(held)}))
    october = _completeness(client, admin_token, "2026-10")
    [device] = october["devices"]
    assert device["queue_length"] == 1 and device["behind"] is True
    assert october["may_change"] is True
    assert october["oldest_unsynced_scan_at"] == "2026-10-31T20:00:00+08:00"
    # Exactly, in the optional fields: what stays is from after October.
    push(client, token, batch([], device={
        "queue_length": 1, "oldest_queued_at": format_rfc3339(held),
        "queue_length_after": 1, "oldest_queued_after_at": "2026-11-02T08:00:00+08:00"}))
    assert _completeness(client, admin_token, "2026-10")["devices"][0]["behind"] is False
    assert _completeness(client, admin_token, "2026-11")["devices"][0]["behind"] is True


def test_a_device_silent_since_before_the_end_is_behind(client, make_device, admin_token):
    code, token = make_device()
    push(client, token, batch(_shift(recent(3)), device={"queue_length": 2}))

    def silent_since(moment):
        db.session.execute(update(Device).where(Device.code == code)
                           .values(last_push_at=moment))
        db.session.commit()

    silent_since(at("2026-10-31 23:00"))
    assert _completeness(client, admin_token, "2026-10")["devices"][0]["behind"] is True
    assert _completeness(client, admin_token, "2026-09")["devices"][0]["behind"] is False
    # A period still running: silent for longer than SILENT_AFTER (3 days).
    silent_since(utcnow() - timedelta(days=4))
    assert _completeness(client, admin_token, _this_month())["devices"][0]["behind"] is True
    silent_since(utcnow() - timedelta(hours=1))
    assert _completeness(client, admin_token, _this_month())["devices"][0]["behind"] is False


@pytest.mark.parametrize("health, sent, left", [
    ({}, 5, None),
    ({"queue_length": "7"}, 5, None),
    ({"queue_length": 2**31}, 0, None),
    ({"queue_length": 5}, 5, QueueAfter(0, None, True)),
    ({"queue_length": 3}, 5, QueueAfter(0, None, True)),  # counted without the batch
    ({"queue_length": 7, "oldest_queued_at": "2026-10-01T08:00:00+08:00"}, 5,
     QueueAfter(2, at("2026-10-01 08:00"), True)),
    ({"queue_length": 7}, 5, QueueAfter(2, None, False)),
    ({"queue_length": 7, "oldest_queued_at": "yesterday"}, 5, QueueAfter(2, None, False)),
    ({"queue_length": 7, "queue_length_after": 0}, 5, QueueAfter(0, None, True)),
    ({"queue_length": 7, "oldest_queued_at": "2026-10-01T08:00:00+08:00",
      "queue_length_after": 2, "oldest_queued_after_at": "2026-10-03T08:00:00+08:00"}, 5,
     QueueAfter(2, at("2026-10-03 08:00"), True)),
    ({"queue_length_after": -1, "queue_length": 6}, 5, QueueAfter(1, None, False)),
])
def test_what_a_health_report_says_stays_on_the_device(health, sent, left):
    assert queue_after(health, sent) == left


def test_the_report_answers_completeness_as_its_schema_documents(
        client, world, make_device, admin_token):
    """The JSON report builds it by hand, for speed; it must be the schema's."""
    from datetime import date

    from server.reports.routes import CompletenessSchema
    from server.reports.services import sync_completeness
    _, token = make_device(stations=["ST-BA-1", "ST-NS-1"])
    push(client, token, batch(_shift(at("2026-10-20 09:00")), device={
        "queue_length": 5, "oldest_queued_at": "2026-10-21T08:00:00+08:00"}))
    answered = _completeness(client, admin_token, "2026-10")
    documented = CompletenessSchema().dump(sync_completeness(
        world, date(2026, 10, 1), date(2026, 10, 31)))
    assert answered == documented and len(answered["devices"]) == 2
