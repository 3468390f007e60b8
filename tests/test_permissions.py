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


# -- who served where: sessions, reports, exports, review pages, attendance -------------
#
# Four sessions of 13 hours (each waits for review) in November 2026:
#   home       P-BA-1 (branch BA-ZB1) at ST-BA-1
#   elsewhere  P-BA-1 (branch BA-ZB1) at ST-NS-1: the station's people serving elsewhere
#   visitor    P-NS-1 (branch NS-ZB1) at ST-BA-1: an outsider serving at the station
#   out        P-NS-1 (branch NS-ZB1) at ST-NS-1
# and two meetings: ACT-IN (BA-ZB1 at ST-BA-1) and ACT-OUT (NS-ZB1 at ST-NS-1).
#
# The station manager of ST-BA-1 sees who served at the station and when
# (home, visitor), read-only; not the people's service elsewhere, not the
# review pages, not the host branch's attendance or members (docs/api.md).

SERVED = {"home": ("P-BA-1", "ST-BA-1", "2026-11-02 09:00"),
          "elsewhere": ("P-BA-1", "ST-NS-1", "2026-11-04 09:00"),
          "visitor": ("P-NS-1", "ST-BA-1", "2026-11-02 09:00"),
          "out": ("P-NS-1", "ST-NS-1", "2026-11-04 09:00")}
ALL = set(SERVED)
H = 13
REPORT = "group_by=person&month=2026-11"

# (case, what is compared, method, path ({label} is a session id),
#  expected for admin, area_admin, secretary, station_manager)
SERVICE_CASES = [
    ("API sessions list", "sessions", "GET", "/api/v1/sessions?page_size=100",
     (ALL, {"home", "elsewhere"}, {"home", "elsewhere"}, {"home", "visitor"})),
    ("API session at the station by a member of its host", "status", "GET",
     "/api/v1/sessions/{home}", (200, 200, 200, 200)),
    ("API session at the station by an outsider", "status", "GET",
     "/api/v1/sessions/{visitor}", (200, 404, 404, 200)),
    ("API session of the station's people elsewhere", "status", "GET",
     "/api/v1/sessions/{elsewhere}", (200, 200, 200, 404)),
    ("API session outside", "status", "GET", "/api/v1/sessions/{out}", (200, 404, 404, 404)),
    ("API review of a session at the station", "status", "POST",
     "/api/v1/sessions/{home}/review", (200, 200, 200, 403)),
    ("API review of an outsider's session at the station", "status", "POST",
     "/api/v1/sessions/{visitor}/review", (200, 404, 404, 403)),
    ("person report", "hours_json", "GET", f"/api/v1/reports/service-hours?{REPORT}",
     ({"P-BA-1": 2 * H, "P-NS-1": 2 * H}, {"P-BA-1": 2 * H}, {"P-BA-1": 2 * H},
      {"P-BA-1": H, "P-NS-1": H})),
    ("person report CSV", "hours_csv", "GET",
     f"/api/v1/reports/service-hours?{REPORT}&format=csv",
     ({"P-BA-1": 2 * H, "P-NS-1": 2 * H}, {"P-BA-1": 2 * H}, {"P-BA-1": 2 * H},
      {"P-BA-1": H, "P-NS-1": H})),
    ("person report XLSX", "hours_xlsx", "GET",
     f"/api/v1/reports/service-hours?{REPORT}&format=xlsx",
     ({"P-BA-1": 2 * H, "P-NS-1": 2 * H}, {"P-BA-1": 2 * H}, {"P-BA-1": 2 * H},
      {"P-BA-1": H, "P-NS-1": H})),
    ("station report", "hours_json", "GET",
     "/api/v1/reports/service-hours?group_by=station&month=2026-11",
     ({"ST-BA-1": 2 * H, "ST-NS-1": 2 * H}, {"ST-BA-1": H, "ST-NS-1": H},
      {"ST-BA-1": H, "ST-NS-1": H}, {"ST-BA-1": 2 * H})),
    ("console export of the person report", "console_hours_csv", "GET",
     "/console/exports/service-hours.csv?group_by=person&month=2026-11",
     ({"P-BA-1": 2 * H, "P-NS-1": 2 * H}, {"P-BA-1": 2 * H}, {"P-BA-1": 2 * H},
      {"P-BA-1": H, "P-NS-1": H})),
    ("console review queue", "console_queue", "GET", "/console/review",
     (ALL, {"home", "elsewhere"}, {"home", "elsewhere"}, set())),
    ("console dashboard: waiting for your review", "console_waiting", "GET", "/console/",
     (4, 2, 2, 0)),
    ("console session page at the station", "console_status", "GET",
     "/console/sessions/{home}", (200, 200, 200, 404)),
    ("console session page of an outsider at the station", "console_status", "GET",
     "/console/sessions/{visitor}", (200, 404, 404, 404)),
    ("API attendance of a meeting at the station", "status", "GET",
     "/api/v1/activities/ACT-IN/attendance", (200, 200, 200, 403)),
    ("API attendance of a meeting outside", "status", "GET",
     "/api/v1/activities/ACT-OUT/attendance", (200, 404, 404, 404)),
    ("API meetings of the station's host", "status", "GET",
     "/api/v1/organisations/BA-ZB1/meetings?month=2026-11", (200, 200, 200, 403)),
    ("API dual reporting of the station's host", "status", "GET",
     "/api/v1/reports/dual-reporting?branch=BA-ZB1&quarter=2026-Q4", (200, 200, 200, 403)),
    ("console page of a meeting at the station: the roster", "console_roster", "GET",
     "/console/activities/ACT-IN", (True, True, True, False)),
]


@pytest.fixture
def served(client, world, make_device):
    """Session id of each label of SERVED; the meetings ACT-IN and ACT-OUT."""
    from datetime import timedelta

    from sqlalchemy import select

    from server.activities.services import create_activity
    from server.extensions import db
    from server.people.models import Person
    from server.service_sessions.models import ServiceSession
    from server.stations.models import Station
    from tests.sync_helpers import at, batch, push, scan

    _, device = make_device(stations=["ST-BA-1", "ST-NS-1"])
    for person, station, start in SERVED.values():
        begin = at(start)
        assert push(client, device, batch([
            scan(person, "check_in", begin, station=station),
            scan(person, "check_out", begin + timedelta(hours=H), station=station)]
        )).status_code == 200
    for code, organisation, station in (("ACT-IN", "BA-ZB1", "ST-BA-1"),
                                        ("ACT-OUT", "NS-ZB1", "ST-NS-1")):
        create_activity(world, {"code": code, "title": "支部党员大会",
                                "kind": "branch_general_meeting", "organisation": organisation,
                                "station": station,
                                "planned_start_at": at("2026-11-20 19:30"),
                                "planned_end_at": at("2026-11-20 21:30")})
    db.session.commit()
    ids = {}
    for label, (person, station, _) in SERVED.items():
        ids[label] = db.session.scalar(
            select(ServiceSession.key_event_id)
            .join(Person, Person.id == ServiceSession.person_id)
            .join(Station, Station.id == ServiceSession.station_id)
            .where(Person.code == person, Station.code == station))
    assert all(ids.values()), ids
    return ids


CREDITED_HEADING, PENDING_HEADING = "认定服务时长(小时)", "待审核时长(小时)"


def _hours(rows) -> dict[str, float]:
    return {code: hours for code, hours in rows if hours}


def _observed(what: str, response, ids: dict[str, str]):
    """What ``response`` shows, in the terms of the expected value."""
    import csv
    import io
    import re

    from openpyxl import load_workbook

    if what in ("status", "console_status"):
        return response.status_code
    assert response.status_code == 200, (response.status_code, response.get_data()[:300])
    labels = {session_id: label for label, session_id in ids.items()}
    if what == "sessions":
        return {labels[s["id"]] for s in response.json}
    if what == "hours_json":
        return _hours((r["code"], (r["credited_seconds"] + r["pending_seconds"]) / 3600)
                      for r in response.json["rows"])
    # Credited and pending hours, found by their headings (the credited
    # hours' split stands between them).
    if what in ("hours_csv", "console_hours_csv"):
        header, *rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
        credited, pending = header.index(CREDITED_HEADING), header.index(PENDING_HEADING)
        return _hours((r[0], float(r[credited]) + float(r[pending])) for r in rows)
    if what == "hours_xlsx":
        sheet = load_workbook(io.BytesIO(response.get_data())).active
        header = [cell.value for cell in sheet[2]]
        credited, pending = header.index(CREDITED_HEADING), header.index(PENDING_HEADING)
        return _hours((r[0], r[credited] + r[pending])
                      for r in sheet.iter_rows(min_row=3, values_only=True))
    html = response.get_data(as_text=True)
    if what == "console_queue":
        return {label for session_id, label in labels.items() if session_id in html}
    if what == "console_waiting":
        return int(re.search(r'id="waiting">(\d+)<', html).group(1))
    if what == "console_roster":
        return "人P-BA-2" in html
    raise AssertionError(what)


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("case", SERVICE_CASES, ids=[c[0] for c in SERVICE_CASES])
def test_who_served_where_matrix(client, served, make_user, role, case):
    from tests.console_client import sign_in, username_of

    name, what, method, path, expected = case
    token = make_user(*ROLES[role])
    url = path.format(**served)
    if what.startswith("console"):
        assert sign_in(client, username_of(token), "password-123").status_code == 302
        response = client.open(url, method=method)
    else:
        body = {"decision": "rejected", "reason": "测试"} if method == "POST" else None
        response = client.open(url, method=method, headers=auth(token), json=body)
    want = expected[list(ROLES).index(role)]
    assert _observed(what, response, served) == want, (name, role)
    if what == "status" and want >= 400:
        assert response.mimetype == "application/problem+json"
