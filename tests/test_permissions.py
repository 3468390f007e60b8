"""Who may do what: every admin endpoint x every role x inside and outside its subtree.

The roles (see tests/conftest.py ``world``): an administrator; an area
administrator of Bao'an (SZ-BA); the secretary of branch BA-ZB1; the manager
of station ST-BA-1. "in" targets lie inside all three subtrees, "out"
targets in Nanshan, outside all of them.
"""
from __future__ import annotations

import itertools

import pytest

from tests.conftest import auth

ROLES = {
    "admin": ("admin", None),
    "area_admin": ("area_admin", "SZ-BA"),
    "secretary": ("branch_secretary", "BA-ZB1"),
    "station_manager": ("station_manager", "ST-BA-1"),
}
_unique = itertools.count()


def _code(prefix):
    return f"{prefix}-{next(_unique)}"


# (case, method, url, body factory, expected status for admin, area_admin, secretary, manager)
CASES = [
    ("read person in", "GET", "/api/v1/people/P-BA-1", None, (200, 200, 200, 404)),
    ("read person out", "GET", "/api/v1/people/P-NS-1", None, (200, 404, 404, 404)),
    ("read person of sibling branch", "GET", "/api/v1/people/P-BA-3", None,
     (200, 200, 404, 404)),
    ("change person in", "PATCH", "/api/v1/people/P-BA-1", lambda: {"name": "改名"},
     (200, 200, 200, 404)),
    ("change person out", "PATCH", "/api/v1/people/P-NS-1", lambda: {"name": "改名"},
     (200, 404, 404, 404)),
    ("create person in", "POST", "/api/v1/people",
     lambda: {"code": _code("P"), "name": "新人", "kind": "volunteer", "branch": "BA-ZB1"},
     (201, 201, 201, 403)),
    ("create person out", "POST", "/api/v1/people",
     lambda: {"code": _code("P"), "name": "新人", "kind": "volunteer", "branch": "NS-ZB1"},
     (201, 403, 403, 403)),
    ("read organisation in", "GET", "/api/v1/organisations/BA-ZB1", None,
     (200, 200, 200, 200)),
    ("read organisation out", "GET", "/api/v1/organisations/NS-ZB1", None,
     (200, 404, 404, 404)),
    ("change organisation in", "PATCH", "/api/v1/organisations/BA-ZB1",
     lambda: {"name": "改名"}, (200, 200, 200, 403)),
    ("change organisation out", "PATCH", "/api/v1/organisations/NS-ZB1",
     lambda: {"name": "改名"}, (200, 404, 404, 404)),
    ("create organisation in", "POST", "/api/v1/organisations",
     lambda: {"code": _code("G"), "name": "小组", "kind": "group", "parent": "BA-ZB1"},
     (201, 201, 201, 403)),
    ("create organisation out", "POST", "/api/v1/organisations",
     lambda: {"code": _code("G"), "name": "小组", "kind": "group", "parent": "NS-ZB1"},
     (201, 403, 403, 403)),
    ("create area in", "POST", "/api/v1/areas",
     lambda: {"code": _code("A"), "name": "社区", "kind": "community", "parent": "SZ-BA-XA"},
     (201, 201, 403, 403)),
    ("create area out", "POST", "/api/v1/areas",
     lambda: {"code": _code("A"), "name": "社区", "kind": "community", "parent": "SZ-NS"},
     (201, 403, 403, 403)),
    ("change area out", "PATCH", "/api/v1/areas/SZ-NS", lambda: {"name": "改名"},
     (200, 403, 403, 403)),
    ("read station anywhere", "GET", "/api/v1/stations/ST-NS-1", None, (200, 200, 200, 200)),
    ("change station in", "PATCH", "/api/v1/stations/ST-BA-1",
     lambda: {"opening_hours": "24h"}, (200, 200, 200, 200)),
    ("change station out", "PATCH", "/api/v1/stations/ST-NS-1",
     lambda: {"opening_hours": "24h"}, (200, 403, 403, 403)),
    ("create station in", "POST", "/api/v1/stations",
     lambda: {"code": _code("S"), "name": "站", "kind": "warm_bee", "area": "SZ-BA-XA",
              "host_organisation": "BA-ZB1"}, (201, 201, 201, 403)),
    ("create station out", "POST", "/api/v1/stations",
     lambda: {"code": _code("S"), "name": "站", "kind": "warm_bee", "area": "SZ-NS",
              "host_organisation": "NS-ZB1"}, (201, 403, 403, 403)),
    ("create activity in", "POST", "/api/v1/activities",
     lambda: {"code": _code("ACT"), "title": "党员大会", "kind": "branch_general_meeting",
              "organisation": "BA-ZB1", "station": "ST-BA-1",
              "planned_start_at": "2026-11-20T19:30:00+08:00",
              "planned_end_at": "2026-11-20T21:30:00+08:00"}, (201, 201, 201, 403)),
    ("create activity out", "POST", "/api/v1/activities",
     lambda: {"code": _code("ACT"), "title": "党员大会", "kind": "branch_general_meeting",
              "organisation": "NS-ZB1",
              "planned_start_at": "2026-11-20T19:30:00+08:00",
              "planned_end_at": "2026-11-20T21:30:00+08:00"}, (201, 403, 403, 403)),
    ("create device in", "POST", "/api/v1/devices",
     lambda: {"code": _code("D"), "name": "平板", "stations": ["ST-BA-1"]},
     (201, 201, 201, 201)),
    ("create device out", "POST", "/api/v1/devices",
     lambda: {"code": _code("D"), "name": "平板", "stations": ["ST-NS-1"]},
     (201, 403, 403, 403)),
    ("list users", "GET", "/api/v1/users", None, (200, 403, 403, 403)),
    ("create user", "POST", "/api/v1/users",
     lambda: {"username": _code("u"), "display_name": "x", "password": "long-enough-pw",
              "grants": [{"role": "admin"}]}, (201, 403, 403, 403)),
    ("list quarantine", "GET", "/api/v1/quarantine", None, (200, 403, 403, 403)),
]


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_permission_matrix(client, world, make_user, role, case):
    name, method, url, body, expected = case
    token = make_user(*ROLES[role])
    response = client.open(url, method=method, headers=auth(token),
                           json=body() if body else None)
    want = expected[list(ROLES).index(role)]
    assert response.status_code == want, (name, role, response.json)
    if want >= 400:
        assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("role, visible", [
    ("admin", {"P-BA-1", "P-BA-2", "P-BA-3", "P-NS-1"}),
    ("area_admin", {"P-BA-1", "P-BA-2", "P-BA-3"}),
    ("secretary", {"P-BA-1", "P-BA-2"}),
    ("station_manager", set()),
])
def test_people_lists_show_only_the_callers_subtree(client, world, make_user, role, visible):
    token = make_user(*ROLES[role])
    response = client.get("/api/v1/people?page_size=100", headers=auth(token))
    assert response.status_code == 200
    assert {p["code"] for p in response.json} == visible
