"""``flask seed-demo``: a small city district's worth of realistic data.

Everything goes through the same services as the API, and the check-ins
through the real push pipeline, so the demo shows what production would.
"""
from __future__ import annotations

import json
import random
import secrets
import uuid
from datetime import datetime, time, timedelta

from sqlalchemy import func, select

from server.activities.services import create_activity
from server.auth.models import User
from server.auth.principal import Principal
from server.auth.services import create_user
from server.checkins.ingest import record_batch
from server.pairing import queue as pairing_queue
from server.service_sessions.retroactive import enter_retroactively
from server.demo import data
from server.devices.services import create_device, enrol_device
from server.errors import Conflict
from server.extensions import db
from server.org.services import create_area, create_organisation
from server.people.services import create_person
from server.stations.services import create_station
from sync.event_chain import link_events
from sync.timeutil import BUSINESS_TZ, format_rfc3339


def seed_demo(days: int = 45, people_per_branch: int = 30, rng_seed: int = 2026,
              now: datetime | None = None) -> dict:
    """Load the demo; returns the demo users' passwords (printed once by the CLI).

    Every scan, session, entry and activity lies before ``now`` (the current
    time unless given; tests pass other times of day): the demo has no future.

    :raise Conflict: ``database_not_empty``: the database has users already.
    """
    if db.session.scalar(select(func.count()).select_from(User)):
        raise Conflict("database_not_empty",
                       "The database is not empty; seed-demo needs an empty one "
                       "(a new DATABASE_URL, or delete instance/stations.db).")
    now = (now or datetime.now(BUSINESS_TZ)).astimezone(BUSINESS_TZ)
    today = now.date()
    rng = random.Random(rng_seed)
    passwords = {name: secrets.token_urlsafe(9) for name in
                 ("admin", "baoan", "secretary", "manager")}
    admin = create_user("system", {"username": "admin", "display_name": "系统管理员",
                                   "password": passwords["admin"],
                                   "grants": [{"role": "admin"}]})
    db.session.flush()
    root = Principal.of(admin)

    for code, name, kind, parent in data.AREAS:
        create_area(root, {"code": code, "name": name, "kind": kind, "parent": parent})
    for code, name, kind, parent, area in data.ORGANISATIONS:
        create_organisation(root, {"code": code, "name": name, "kind": kind, "parent": parent,
                                   "area": area})
    for code, name, kind, area, host, address, lat, lng, hours in data.STATIONS:
        create_station(root, {"code": code, "name": name, "kind": kind, "area": area,
                              "host_organisation": host, "address": address, "latitude": lat,
                              "longitude": lng, "geofence_radius_m": 300,
                              "opening_hours": hours})
    create_user("system", {"username": "baoan", "display_name": "宝安区管理员",
                           "password": passwords["baoan"],
                           "grants": [{"role": "area_admin", "area": "SZ-BA"}]})
    secretary = create_user("system", {"username": "secretary",
                                       "display_name": "海城社区第一党支部书记",
                                       "password": passwords["secretary"],
                                       "grants": [{"role": "branch_secretary",
                                                   "organisation": "BA-XA-HC-ZB1"}]})
    create_user("system", {"username": "manager", "display_name": "大汪山暖蜂驿站站长",
                           "password": passwords["manager"],
                           "grants": [{"role": "station_manager",
                                       "station": "NS-NT-DWS-NF01"}]})

    start_day = today - timedelta(days=days)
    members: dict[str, list[str]] = {}
    number = 0
    for branch, _station in data.MEMBER_BRANCHES:
        members[branch] = []
        for _ in range(people_per_branch):
            number += 1
            code = f"P-{number:07d}"
            name = rng.choice(data.SURNAMES) + rng.choice(data.GIVEN)
            kind = rng.choice(["party_member", "party_member", "volunteer", "both"])
            phone = f"1{rng.choice('3578')}{rng.randrange(10**9):09d}"
            create_person(root, {"code": code, "name": name, "kind": kind, "phone": phone,
                                 "volunteer_number": f"44030{number:08d}", "branch": branch,
                                 "branch_since": start_day - timedelta(days=365)})
            members[branch].append(code)

    activity_number = 0
    for branch, station in data.MEMBER_BRANCHES:
        for weeks_ago in (1, 3, 5):
            activity_number += 1
            day = today - timedelta(weeks=weeks_ago)
            begins = datetime.combine(day, time(19, 30), BUSINESS_TZ)
            kind = "themed_party_day" if weeks_ago == 3 else "branch_general_meeting"
            create_activity(root, {
                "code": f"ACT-{day.year}-{activity_number:04d}",
                "title": "主题党日：走进党群服务中心" if kind == "themed_party_day" else "支部党员大会",
                "kind": kind, "organisation": branch, "station": station,
                "planned_start_at": begins, "planned_end_at": begins + timedelta(hours=2),
                "host_name": "支部书记", "recorder_name": "组织委员", "topic": "学习与志愿服务安排"})

    tokens = {}
    for code, *_ in data.STATIONS:
        device, enrolment = create_device(root, {"code": f"TAB-{code}", "name": "站点平板",
                                                 "stations": [code], "organisations": []})
        _, tokens[code] = enrol_device(enrolment, "demo-1.0")
    db.session.flush()

    from server.devices.models import Device
    last: dict[str, dict] = {}  # per tablet, its last scan: two branches may share one
    for branch, station in data.MEMBER_BRANCHES:
        device = db.session.scalar(select(Device).where(Device.code == f"TAB-{station}"))
        # Up to today, so far: some volunteers are on duty as the demo starts.
        # Numbered on and linked as the apps do: the device's page shows them whole.
        before = last.get(station)
        events = link_events(_shifts(rng, members[branch], station, start_day, days + 1, now,
                                     first_seq=before["seq"] + 1 if before else 1),
                             before=before)
        if events:
            last[station] = events[-1]
        for start in range(0, len(events), 500):
            body = {"batch_id": str(uuid.uuid4()),
                    "sent_at": format_rfc3339(datetime.now(BUSINESS_TZ)),
                    "device": {"app_version": "demo-1.0", "queue_length": 0},
                    "events": events[start:start + 500]}
            record_batch(device, json.dumps(body).encode())
    slips = _slips(last[station]["seq"], members[branch][0], station, today)
    link_events(slips["events"], before=last[station])
    record_batch(device, json.dumps(slips).encode())
    db.session.commit()
    pairing_queue.drain(budget_s=float("inf"))
    _retroactive_example(Principal.of(secretary), members["BA-XA-HC-ZB1"], data.DEMO_STATION, today)
    _correction_example(members["BA-XA-HC-ZB1"][-1], data.DEMO_STATION, today)
    db.session.commit()
    return passwords


def _correction_example(person_code: str, station: str, today) -> None:
    """A member's correction request from their own phone, for the secretary to answer."""
    from server.common.lookup import by_code
    from server.corrections.services import submit
    from server.devices.services import create_personal_device
    from server.people.models import Person
    phone, _ = create_personal_device(by_code(Person, person_code), f"PHONE-{person_code}-1",
                                      "demo")
    db.session.flush()
    morning = datetime.combine(today - timedelta(days=2), time(7, 0), BUSINESS_TZ)
    submit(phone, {"id": str(uuid.uuid4()), "station": station, "start_at": morning,
                   "end_at": morning + timedelta(hours=1, minutes=30),
                   "message": "早上七点到八点半在驿站帮忙搬物资，手机没电没扫上码（演示数据）"})


def _retroactive_example(secretary: Principal, members: list[str], station: str,
                         today) -> None:
    """The secretary's 补录 of yesterday evening, waiting for someone else
    (the demo's admin) to approve it; the first member free at that time."""
    evening = datetime.combine(today - timedelta(days=1), time(18, 0), BUSINESS_TZ)
    for person in members:
        try:
            enter_retroactively(secretary, {
                "person": person, "station": station, "activity": None,
                "start_at": evening, "end_at": evening + timedelta(hours=2),
                "reason": "手机没电未能扫码，站长确认在站服务（演示数据）"})
            return
        except Conflict:
            continue


def _shifts(rng: random.Random, people: list[str], station: str, start_day, days: int,
            now: datetime, first_seq: int = 1) -> list:
    """Volunteer shifts with the slips real scans have: forgotten check-outs,
    double scans and the odd over-long day. Nothing after ``now``: a shift
    that has not ended by then has its check-in only (the volunteer is still
    there), one not begun is left out."""
    events = []
    seq = first_seq - 1
    for offset in range(days):
        day = start_day + timedelta(days=offset)
        for person in rng.sample(people, k=min(len(people), rng.randint(2, 6))):
            begins = datetime.combine(day, time(rng.randint(8, 16), rng.choice((0, 15, 30, 45))),
                                      BUSINESS_TZ)
            hours = rng.choice((1, 1.5, 2, 2, 3, 4))
            ends = begins + timedelta(hours=hours)
            slip = rng.random()
            if begins > now:
                continue
            seq += 1
            events.append(_scan(seq, person, station, "check_in", begins))
            if slip < 0.05:
                continue  # forgot to check out
            if slip < 0.10 and begins + timedelta(minutes=2) <= now:
                seq += 1
                events.append(_scan(seq, person, station, "check_in",
                                    begins + timedelta(minutes=2)))
            if slip > 0.98:
                ends = begins + timedelta(hours=13)
            if ends > now:
                continue  # still on duty
            seq += 1
            events.append(_scan(seq, person, station, "check_out", ends))
    return events


def _slips(last_seq: int, person: str, station: str, today) -> dict:
    """A batch with the slips the quarantine is for: a person's code typed
    wrong, and a type misspelt by a hand-written client."""
    at = datetime.combine(today - timedelta(days=1), time(10, 0), BUSINESS_TZ)
    return {"batch_id": str(uuid.uuid4()), "sent_at": format_rfc3339(datetime.now(BUSINESS_TZ)),
            "events": [_scan(last_seq + 1, "P-00O0001", station, "check_in", at),
                       {**_scan(last_seq + 2, person, station, "check_in", at),
                        "type": "checkin"}]}


def _scan(seq: int, person: str, station: str, kind: str, at: datetime) -> dict:
    return {"id": str(uuid.uuid4()), "seq": seq, "type": kind, "person": person,
            "station": station, "occurred_at": format_rfc3339(at)}
