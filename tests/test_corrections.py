"""Correction requests (更正申请) through the API, on both databases: sent
from a volunteer's own phone, answered by a secretary of their branch."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from server.audit.models import AuditEntry
from server.corrections.models import CorrectionRequest
from server.corrections.services import MAX_OPEN_PER_PERSON
from server.extensions import db
from tests.conftest import auth
from tests.sync_helpers import batch, push, recent, scan

OWN = "/api/v1/volunteer/corrections"


@pytest.fixture
def phone(make_phone):
    """``phone(person)`` -> bearer token of that person's own phone."""
    return make_phone


def _request(**fields) -> dict:
    return {"id": str(uuid.uuid4()), "message": "我 9 点到 12 点在站点服务，忘了签退", **fields}


def _missing_checkout(client, make_device, own_phone: str) -> str:
    """P-BA-1 checked in and forgot to check out; the session's id as their phone sees it."""
    _, token = make_device()
    push(client, token, batch([scan("P-BA-1", "check_in", recent(30)),
                               scan("P-BA-1", "check_in", recent(20))]))
    return client.get("/api/v1/volunteer/me", headers=auth(own_phone)).json["recent"][-1]["id"]


def test_a_volunteer_asks_and_the_secretary_answers(client, make_device, phone, make_user):
    own_phone = phone("P-BA-1")
    session_id = _missing_checkout(client, make_device, own_phone)
    body = _request(session=session_id, end_at=(recent(27)).isoformat())
    sent = client.post(OWN, headers=auth(own_phone), json=body)
    assert sent.status_code == 201, sent.json
    assert sent.json["status"] == "open" and sent.json["session"] == session_id
    assert sent.json["station"] == "ST-BA-1"
    # Sent again (the phone never heard the answer): stored once.
    again = client.post(OWN, headers=auth(own_phone), json=body)
    assert again.status_code == 200 and again.json["id"] == body["id"]
    assert db.session.scalar(select(func.count()).select_from(CorrectionRequest)) == 1

    secretary, other = make_user("branch_secretary", "BA-ZB1"), make_user(
        "branch_secretary", "NS-ZB1")
    listed = client.get("/api/v1/corrections", headers=auth(secretary)).json
    assert [r["id"] for r in listed] == [body["id"]] and listed[0]["person"] == "P-BA-1"
    assert client.get("/api/v1/corrections", headers=auth(other)).json == []
    assert client.post(f"/api/v1/corrections/{body['id']}/close", headers=auth(other),
                       json={"outcome": "amended"}).status_code == 404
    declined = client.post(f"/api/v1/corrections/{body['id']}/close", headers=auth(secretary),
                           json={"outcome": "declined"})
    assert declined.status_code == 422

    closed = client.post(f"/api/v1/corrections/{body['id']}/close", headers=auth(secretary),
                         json={"outcome": "amended", "answer": "已按站长记录改为 3 小时"})
    assert closed.status_code == 200 and closed.json["status"] == "amended"
    assert client.post(f"/api/v1/corrections/{body['id']}/close", headers=auth(secretary),
                       json={"outcome": "declined", "answer": "x"}).json["code"] == "not_open"
    mine = client.get(OWN, headers=auth(own_phone)).json
    assert mine[0]["status"] == "amended" and mine[0]["answer"] == "已按站长记录改为 3 小时"
    assert client.get("/api/v1/corrections", headers=auth(secretary)).json == []
    assert len(client.get("/api/v1/corrections?status=amended", headers=auth(secretary)).json) == 1
    actions = db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.object_code == body["id"]).order_by(AuditEntry.id)).all()
    assert actions == ["request_correction", "close_correction_amended"]


def test_service_with_no_session_at_all_names_station_and_times(client, phone):
    token = phone("P-BA-1")
    start = recent(50)
    good = _request(station="ST-BA-1", start_at=start.isoformat(),
                    end_at=(start + timedelta(hours=2)).isoformat())
    assert client.post(OWN, headers=auth(token), json=good).status_code == 201
    for wrong, status in ((_request(station="ST-BA-1"), 422),                  # when?
                          (_request(station="ST-BA-1", start_at=start.isoformat(),
                                    end_at=(start - timedelta(hours=1)).isoformat()), 422),
                          (_request(station="ST-BA-1", start_at=start.isoformat(),
                                    end_at=(start + timedelta(hours=13)).isoformat()), 422),
                          (_request(station="ST-BA-1", start_at=recent(-3).isoformat(),
                                    end_at=recent(-4).isoformat()), 422),      # future
                          (_request(station="ST-NOPE", start_at=start.isoformat(),
                                    end_at=(start + timedelta(hours=1)).isoformat()), 404),
                          (_request(message=" "), 422)):
        response = client.post(OWN, headers=auth(token), json=wrong)
        assert response.status_code == status, (wrong, response.json)
    assert db.session.scalar(select(func.count()).select_from(CorrectionRequest)) == 1


def test_only_ones_own_sessions_and_only_from_ones_own_phone(client, make_device, phone):
    _, tablet = make_device()
    push(client, tablet, batch([scan("P-BA-2", "check_in", recent(30)),
                                scan("P-BA-2", "check_out", recent(28))]))
    from server.service_sessions.models import ServiceSession
    [someone_elses] = db.session.scalars(select(ServiceSession.key_event_id)).all()
    mine = phone("P-BA-1")
    response = client.post(OWN, headers=auth(mine), json=_request(session=someone_elses))
    assert response.status_code == 404
    assert client.post(OWN, headers=auth(tablet), json=_request(
        station="ST-BA-1", start_at=recent(5).isoformat(),
        end_at=recent(4).isoformat())).status_code == 403
    # A request id another person used is not theirs to read back.
    theirs = _request(station="ST-BA-1", start_at=recent(5).isoformat(),
                      end_at=recent(4).isoformat())
    assert client.post(OWN, headers=auth(phone("P-BA-2")), json=theirs).status_code == 201
    reused = client.post(OWN, headers=auth(mine), json=theirs)
    assert reused.status_code == 409 and reused.json["code"] == "id_reused"


def test_open_requests_are_capped_per_person(client, phone):
    token = phone("P-BA-1")
    for hour in range(MAX_OPEN_PER_PERSON + 1):
        response = client.post(OWN, headers=auth(token), json=_request(
            station="ST-BA-1", start_at=recent(100 - hour).isoformat(),
            end_at=recent(99.5 - hour).isoformat()))
        expected = 201 if hour < MAX_OPEN_PER_PERSON else 409
        assert response.status_code == expected, response.json
    assert response.json["code"] == "too_many_open_requests"
