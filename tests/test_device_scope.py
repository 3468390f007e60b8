"""PATCH /api/v1/devices/{code}: a tablet moved to another station. Its new
scope reaches it by pull, and the scans it already made there count."""
from __future__ import annotations

from sqlalchemy import select

from server.audit.models import AuditEntry
from server.checkins.models import QuarantinedEvent
from server.extensions import db
from tests.conftest import auth
from tests.sync_helpers import batch, push, recent, scan
from tests.test_pull import pull, pull_all


def test_a_moved_device_pulls_what_entered_and_left_its_scope(client, make_device, admin_token):
    code, token = make_device(stations=["ST-BA-1"])
    other, other_token = make_device(stations=["ST-NS-1"])
    _, cursor = pull_all(client, token)
    _, other_cursor = pull_all(client, other_token)

    moved = client.patch(f"/api/v1/devices/{code}", headers=auth(admin_token),
                         json={"stations": ["ST-NS-1"], "name": "南山平板"})
    assert moved.status_code == 200, moved.json
    assert (moved.json["stations"], moved.json["name"]) == (["ST-NS-1"], "南山平板")

    changes, cursor = pull_all(client, token, cursor)
    assert set(changes["stations"]) == {"ST-NS-1"}
    assert set(changes["people"]) == {"P-NS-1"}  # the people of the station's host branch
    assert changes["deleted"] == {("station", "ST-BA-1"), ("person", "P-BA-1"),
                                  ("person", "P-BA-2")}
    assert pull(client, token, cursor)["stations"] == []
    # Another device pulls the same notes again: what it holds does not change.
    again, _ = pull_all(client, other_token, other_cursor)
    assert set(again["stations"]) <= {"ST-NS-1"} and set(again["people"]) <= {"P-NS-1"}
    assert not {("station", "ST-NS-1"), ("person", "P-NS-1")} & again["deleted"]

    trail = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "update_device"))
    assert trail.changes["stations"] == [["ST-BA-1"], ["ST-NS-1"]]


def test_scans_waiting_for_the_new_scope_count_at_once(client, make_device, admin_token):
    code, token = make_device(stations=["ST-BA-1"])
    early = scan("P-NS-1", "check_in", recent(3), station="ST-NS-1")
    assert push(client, token, batch([early])).json["results"][0]["code"] == "out_of_scope"
    client.patch(f"/api/v1/devices/{code}", headers=auth(admin_token),
                 json={"stations": ["ST-BA-1", "ST-NS-1"]})
    entry = db.session.scalar(select(QuarantinedEvent).where(
        QuarantinedEvent.event_id == early["id"]))
    assert (entry.status, entry.resolved_by) == ("resolved", "system")
    later = scan("P-NS-1", "check_out", recent(1), station="ST-NS-1")
    assert push(client, token, batch([later])).json["results"][0]["status"] == "accepted"
    sessions = client.get("/api/v1/sessions?branch=NS-ZB1", headers=auth(admin_token)).json
    assert [(s["status"], s["person"]) for s in sessions] == [("ok", "P-NS-1")]


def test_a_scope_outside_the_callers_is_refused(client, make_device, make_user):
    code, _ = make_device(stations=["ST-BA-1"])
    area_admin = make_user("area_admin", "SZ-BA")
    refused = client.patch(f"/api/v1/devices/{code}", headers=auth(area_admin),
                           json={"stations": ["ST-NS-1"]})
    assert refused.status_code == 403
    renamed = client.patch(f"/api/v1/devices/{code}", headers=auth(area_admin),
                           json={"name": "宝安平板", "notes": "二楼前台"})
    assert renamed.status_code == 200 and renamed.json["stations"] == ["ST-BA-1"]
    emptied = client.patch(f"/api/v1/devices/{code}", headers=auth(area_admin),
                           json={"stations": [], "organisations": []})
    assert emptied.status_code == 422 and "stations" in emptied.json["errors"]
    assert client.patch(f"/api/v1/devices/{code}", headers=auth(area_admin),
                        json={"stations": ["NO-SUCH"]}).status_code == 422


def test_a_personal_phones_scope_is_its_owner(client, world, admin_token):
    from server.devices.services import create_personal_device
    from server.people.models import Person
    person = db.session.scalar(select(Person).where(Person.code == "P-BA-1"))
    create_personal_device(person, "PHONE-1", "test")
    db.session.commit()
    response = client.patch("/api/v1/devices/PHONE-1", headers=auth(admin_token),
                            json={"stations": ["ST-BA-1"]})
    assert response.status_code == 422 and "stations" in response.json["errors"]


def test_a_committee_device_moved_to_another_committee(client, make_device, admin_token):
    """Organisations, not stations: the scope before the change is read
    whole before it, so what left is told apart from what stayed."""
    code, token = make_device(stations=[], organisations=["BA-DW"])
    held, cursor = pull_all(client, token)
    assert set(held["people"]) == {"P-BA-1", "P-BA-2", "P-BA-3"}
    moved = client.patch(f"/api/v1/devices/{code}", headers=auth(admin_token),
                         json={"organisations": ["NS-DW"]})
    assert moved.status_code == 200, moved.json
    changes, _ = pull_all(client, token, cursor)
    assert set(changes["people"]) == {"P-NS-1"} and set(changes["stations"]) == {"ST-NS-1"}
    assert changes["deleted"] == {("person", "P-BA-1"), ("person", "P-BA-2"),
                                  ("person", "P-BA-3"), ("station", "ST-BA-1")}


def test_a_device_pulls_what_it_may_record_for_and_the_push_agrees(
        client, world, make_device, admin_token):
    """One scope for both directions (server/devices/scope.py). A tablet of
    ST-BA-1 pulls its station and its host branch's members, not a sibling
    station of that branch; it records anyone at its station and no one
    elsewhere. A device of the committee BA-DW pulls the stations its
    subtree hosts and its members, and records them anywhere."""
    sibling = client.post("/api/v1/stations", headers=auth(admin_token), json={
        "code": "ST-BA-2", "name": "站点ST-BA-2", "kind": "party_mass_centre",
        "area": "SZ-BA-XA", "host_organisation": "BA-ZB1"})
    assert sibling.status_code == 201, sibling.json
    _, tablet = make_device(stations=["ST-BA-1"])
    _, committee = make_device(stations=[], organisations=["BA-DW"])
    pulled = {token: pull_all(client, token)[0] for token in (tablet, committee)}
    assert set(pulled[tablet]["stations"]) == {"ST-BA-1"}
    assert set(pulled[tablet]["people"]) == {"P-BA-1", "P-BA-2"}
    assert set(pulled[committee]["stations"]) == {"ST-BA-1", "ST-BA-2"}
    assert set(pulled[committee]["people"]) == {"P-BA-1", "P-BA-2", "P-BA-3"}

    def status(token, person, station):
        answer = push(client, token, batch([scan(person, "check_in", recent(1),
                                                 station=station)]))
        result = answer.json["results"][0]
        return result.get("code", result["status"])

    assert status(tablet, "P-NS-1", "ST-BA-1") == "accepted"   # anyone at its station
    assert status(tablet, "P-BA-1", "ST-BA-2") == "out_of_scope"
    assert status(committee, "P-BA-3", "ST-NS-1") == "accepted"  # its member, anywhere
    assert status(committee, "P-NS-1", "ST-BA-2") == "accepted"  # anyone at its stations
    assert status(committee, "P-NS-1", "ST-NS-1") == "out_of_scope"
