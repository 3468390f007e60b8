"""Lists page without limit: a page however far past the end is empty, not
an error (an offset beyond 64 bits used to reach the database and fail)."""
from __future__ import annotations

import json

import pytest

from tests.conftest import auth

LISTS = ["/api/v1/areas", "/api/v1/organisations", "/api/v1/people", "/api/v1/stations",
         "/api/v1/activities", "/api/v1/devices", "/api/v1/users", "/api/v1/quarantine",
         "/api/v1/sessions", "/api/v1/corrections"]


@pytest.mark.parametrize("page, page_size", [
    (2**63, 1),            # offset 2^63 - 1: the largest a database takes
    (2**63 + 1, 1),        # one past it
    (2**62, 100),
    (10**30, 100),
])
def test_a_page_far_past_the_end_is_empty(client, world, admin_token, page, page_size):
    for path in LISTS:
        answer = client.get(path, headers=auth(admin_token),
                            query_string={"page": page, "page_size": page_size})
        assert answer.status_code == 200, (path, answer.get_data(as_text=True))
        assert answer.json == []
        pagination = json.loads(answer.headers["X-Pagination"])
        assert "page" not in pagination or pagination["page"] == page


def test_the_last_page_still_answers_its_rows(client, world, admin_token):
    answer = client.get("/api/v1/areas", headers=auth(admin_token),
                        query_string={"page": 2, "page_size": 3})
    assert [a["code"] for a in answer.json] == ["SZ-NS"]
    assert json.loads(answer.headers["X-Pagination"])["total"] == 4
