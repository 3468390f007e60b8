"""A session of a person who belonged to no branch on its date (docs/pairing.md,
section 4), on both databases: it waits for review, flagged ``no_branch``;
whoever manages the person now sees and reviews it; correcting when the
membership began attributes it and judges it again."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from server.extensions import db
from server.service_sessions.models import ServiceSession
from sync.timeutil import local_today
from tests.conftest import auth
from tests.sync_helpers import batch, push, recent, scan


def _joined_today(client, admin_token):
    """A person added without ``branch_since``: a member from today."""
    answer = client.post("/api/v1/people", headers=auth(admin_token), json={
        "code": "P-LATE", "name": "新来的志愿者", "kind": "volunteer", "branch": "BA-ZB1"})
    assert answer.status_code == 201, answer.json


def _served_three_days_ago(client, make_device):
    _, token = make_device()
    start = recent(3 * 24)
    push(client, token, batch([scan("P-LATE", "check_in", start),
                               scan("P-LATE", "check_out", start + timedelta(hours=2))]))
    [session] = db.session.scalars(select(ServiceSession)).all()
    return session.key_event_id


def test_a_session_before_the_membership_waits_and_the_branch_reviews_it(
        client, world, admin_token, make_user, make_device):
    _joined_today(client, admin_token)
    key = _served_three_days_ago(client, make_device)
    secretary = make_user("branch_secretary", "BA-ZB1")
    other = make_user("branch_secretary", "NS-ZB1")
    listed = client.get("/api/v1/sessions?flag=no_branch", headers=auth(secretary)).json
    assert [s["id"] for s in listed] == [key]
    [session] = listed
    assert session["status"] == "needs_review" and session["credited_seconds"] == 0
    assert "no_branch" in session["flags"] and session["branch"] is None
    assert client.get(f"/api/v1/sessions/{key}", headers=auth(other)).status_code == 404
    assert client.post(f"/api/v1/sessions/{key}/review", headers=auth(other),
                       json={"decision": "approved"}).status_code == 404

    answer = client.post(f"/api/v1/sessions/{key}/review", headers=auth(secretary),
                         json={"decision": "approved", "reason": "入支部前已在站点服务"})
    assert answer.status_code == 200, answer.json
    assert (answer.json["status"], answer.json["credited_seconds"]) == ("approved", 7200)


def test_correcting_when_the_membership_began_attributes_the_session(
        client, world, admin_token, make_device):
    _joined_today(client, admin_token)
    key = _served_three_days_ago(client, make_device)
    same = client.patch("/api/v1/people/P-LATE", headers=auth(admin_token),
                        json={"branch": "BA-ZB1"})
    assert same.status_code == 200
    assert client.get(f"/api/v1/sessions/{key}", headers=auth(admin_token)
                      ).json["status"] == "needs_review"

    earlier = (local_today() - timedelta(days=10)).isoformat()
    answer = client.patch("/api/v1/people/P-LATE", headers=auth(admin_token),
                          json={"branch": "BA-ZB1", "branch_since": earlier})
    assert answer.status_code == 200, answer.json
    session = client.get(f"/api/v1/sessions/{key}", headers=auth(admin_token)).json
    assert (session["status"], session["branch"], session["credited_seconds"]) == (
        "ok", "BA-ZB1", 7200)
    assert "no_branch" not in session["flags"]
    # The same start again changes nothing; one in the future is refused.
    again = client.patch("/api/v1/people/P-LATE", headers=auth(admin_token),
                         json={"branch": "BA-ZB1", "branch_since": earlier})
    assert again.status_code == 200
    future = (local_today() + timedelta(days=2)).isoformat()
    refused = client.patch("/api/v1/people/P-LATE", headers=auth(admin_token),
                           json={"branch": "BA-ZB1", "branch_since": future})
    assert refused.status_code == 422
