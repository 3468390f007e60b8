"""Every time the API answers is in business time, ``+08:00`` (docs/sync-protocol.md:
"the server answers in Asia/Shanghai time"), on both databases.

The test fills every domain with a row or two, then reads every GET path of
the OpenAPI description (and the answers of the writes that return times)
and walks each JSON answer, CSV and XLSX cell: any text that reads as a
moment must end in ``+08:00``. A GET path it does not read fails it, so a
new endpoint is walked too.
"""
from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import timedelta

from openpyxl import load_workbook

from server.extensions import db
from tests.conftest import auth
from sync.timeutil import local_date
from tests.sync_helpers import batch, push, recent, scan
from tests.test_displays import _new_key

#: A date followed by a time of day: a moment, which must carry +08:00.
MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
#: Answers that are not JSON, CSV or XLSX (images, PDFs): nothing to walk.
BINARY = {"/api/v1/stations/{code}/qr.png", "/api/v1/stations/{code}/qr.svg",
          "/api/v1/posters.pdf"}


def moments(value, where: str = "$"):
    """(path, text) of every string in a JSON value that reads as a moment."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from moments(item, f"{where}.{key}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from moments(item, f"{where}[{n}]")
    elif isinstance(value, str) and MOMENT.match(value):
        yield where, value


def _phone(person: str) -> str:
    from server.common.lookup import by_code
    from server.devices.services import create_personal_device
    from server.people.models import Person
    _, token = create_personal_device(by_code(Person, person),
                                      f"PHONE-{uuid.uuid4().hex[:8]}", "test")
    db.session.commit()
    return token


def _fill(client, admin, make_device) -> dict:
    """A row or two in every domain; the codes and ids the paths need."""
    device, token = make_device(stations=["ST-BA-1", "ST-NS-1"])
    start = recent(30).replace(microsecond=0)
    pushed = push(client, token, batch([
        scan("P-BA-1", "check_in", start), scan("P-BA-1", "check_out", start + timedelta(hours=2)),
        scan("P-BA-2", "check_in", start), scan("P-NOBODY", "check_in", start)],
        device={"queue_length": 4, "oldest_queued_at": start.isoformat()}))
    assert pushed.status_code == 200, pushed.json
    begins = recent(-24).replace(microsecond=0)
    activity = client.post("/api/v1/activities", headers=auth(admin), json={
        "code": "M-1", "title": "支部党员大会", "kind": "branch_general_meeting",
        "organisation": "BA-DW", "station": "ST-BA-1", "planned_start_at": begins.isoformat(),
        "planned_end_at": (begins + timedelta(hours=2)).isoformat(),
        "host_name": "书记", "recorder_name": "组织委员", "topic": "学习"})
    assert activity.status_code == 201, activity.json
    entered = client.post("/api/v1/sessions/retroactive", headers=auth(admin), json={
        "person": "P-BA-3", "station": "ST-BA-1", "start_at": (start - timedelta(days=1))
        .isoformat(), "end_at": (start - timedelta(days=1, hours=-2)).isoformat(),
        "reason": "手机没电，站长确认到岗"})
    assert entered.status_code == 201, entered.json
    session = next(s["id"] for s in client.get("/api/v1/sessions", headers=auth(admin)).json
                   if s["person"] == "P-BA-1")
    own = _phone("P-BA-1")
    asked = client.post("/api/v1/volunteer/corrections", headers=auth(own), json={
        "id": str(uuid.uuid4()), "message": "我忘了签退", "session": session,
        "end_at": start.isoformat()})
    assert asked.status_code == 201, asked.json
    [entry] = client.get("/api/v1/quarantine", headers=auth(admin)).json
    shown = client.post("/api/v1/displays", headers=auth(admin), json={
        "station": "ST-BA-1", "name": "前台屏幕", "public_key": _new_key()[1]})
    assert shown.status_code == 201, shown.json
    return {"display": shown.json["code"], "device": device, "device_token": token, "phone": own,
            "month": local_date(begins).strftime("%Y-%m"),
            "from": str(local_date(start) - timedelta(days=2)), "to": str(local_date(start)),
            "session": session, "quarantine": entry["id"],
            "correction": asked.json["id"]}


def _path_values(made: dict, signing_key: str) -> dict:
    return {"code": None, "username": "root", "session_id": made["session"],
            "entry_id": made["quarantine"], "request_id": made["correction"],
            "key_id": signing_key}


#: What to put for ``{code}`` in each GET path, and its query.
CODES = {"/api/v1/areas/{code}": "SZ-BA", "/api/v1/organisations/{code}": "BA-ZB1",
         "/api/v1/people/{code}": "P-BA-1", "/api/v1/people/{code}/record": "P-BA-1",
         "/api/v1/stations/{code}": "ST-BA-1", "/api/v1/stations/{code}/qr": "ST-BA-1",
         "/api/v1/activities/{code}": "M-1", "/api/v1/activities/{code}/attendance": "M-1",
         "/api/v1/organisations/{code}/meetings": "BA-DW"}
QUERIES = {"/api/v1/people/{code}/record": {"from": "2020-01-01", "to": "2099-12-31"},
           "/api/v1/organisations/{code}/meetings": {"month": "{month}"},
           "/api/v1/reports/service-hours": {"group_by": "person", "from": "{from}",
                                             "to": "{to}"},
           "/api/v1/reports/dual-reporting": {"branch": "BA-DW", "quarter": "2026-Q4"}}


def test_every_time_the_api_answers_is_in_business_time(client, admin_token, make_device):
    made = _fill(client, admin_token, make_device)
    spec = client.get("/api/openapi.json").json
    keys = client.get("/api/v1/signing-keys", headers=auth(admin_token)).json
    values = _path_values(made, keys[0]["key_id"])
    answers: dict[str, object] = {}

    def read(name, response):
        assert response.status_code in (200, 201), (name, response.status_code, response.data)
        answers[name] = response

    device_paths = {"/api/v1/sync/pull": made["device_token"],
                    "/api/v1/volunteer/me": made["phone"],
                    "/api/v1/volunteer/corrections": made["phone"]}
    for path, operations in spec["paths"].items():
        if "get" not in operations or path in BINARY:
            continue
        url = path.replace("{code}", CODES.get(path, made["display"] if "/displays/" in path
                                               else made["device"]))
        for name, value in values.items():
            url = url.replace("{" + name + "}", str(value))
        token = device_paths.get(path, admin_token)
        query = {k: re.sub(r"\{(\w+)\}", lambda m: made[m.group(1)], v)
                 for k, v in QUERIES.get(path, {}).items()}
        read(path, client.get(url, headers=auth(token), query_string=query))
    for fmt in ("csv", "xlsx"):
        read(f"report as {fmt}", client.get(
            f"/api/v1/reports/service-hours?group_by=person&format={fmt}"
            f"&from={made['from']}&to={made['to']}",
            headers=auth(admin_token)))
    # Writes that answer times.
    read("push", push(client, made["device_token"], batch([])))
    read("device created", client.post("/api/v1/devices", headers=auth(admin_token), json={
        "code": "DEV-NEW", "name": "tablet", "stations": ["ST-BA-1"], "organisations": []}))
    read("device enrolled", client.post("/api/v1/devices/enrol", json={
        "token": answers["device created"].json["enrolment_token"], "app_version": "t"}))
    read("device token rotated", client.post(
        "/api/v1/devices/token/rotate", headers=auth(answers["device enrolled"].json["token"])))
    read("invitation", client.post("/api/v1/people/P-BA-2/invitation",
                                   headers=auth(admin_token)))
    read("phone enrolled", client.post("/api/v1/volunteer/enrol", json={
        "person": "P-BA-2", "code": answers["invitation"].json["code"]}))
    read("api token", client.post("/api/v1/auth/token", json={
        "username": "root", "password": "root-password-1"}))
    read("review", client.post(f"/api/v1/sessions/{made['session']}/review",
                               headers=auth(admin_token),
                               json={"decision": "approved", "reason": "ok"}))
    read("correction closed", client.post(f"/api/v1/corrections/{made['correction']}/close",
                                          headers=auth(admin_token),
                                          json={"outcome": "declined", "answer": "不对"}))

    found, wrong = [], []
    for name, response in answers.items():
        for where, text in _moments_of(response):
            found.append(text)
            if not text.endswith("+08:00"):
                wrong.append(f"{name} {where}: {text}")
    assert not wrong, "times not in +08:00:\n" + "\n".join(wrong)
    # The walk saw times in every kind of answer the issue names.
    for name in ("/api/v1/sessions", "/api/v1/reports/service-hours", "/api/v1/devices",
                 "/api/v1/quarantine", "/api/v1/corrections", "/api/v1/people/{code}/record",
                 "/api/v1/sync/pull", "push", "device enrolled"):
        assert any(True for _ in _moments_of(answers[name])), f"no time in {name}"


def _moments_of(response):
    if response.is_json:
        yield from moments(response.json)
    elif response.mimetype == "text/csv":
        rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
        yield from moments(rows)
    else:
        book = load_workbook(io.BytesIO(response.data))
        yield from moments([[str(c) for c in row if c is not None]
                            for row in book.active.iter_rows(values_only=True)])
