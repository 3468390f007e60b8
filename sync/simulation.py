"""Simulated field devices that check the server end to end.

Devices (reference clients, each with its own local database) record shifts
and meetings with the slips real people make: forgotten check-outs, double
scans, wrong device clocks, days offline, batches sent twice, and all coming
back at once. A ledger keeps what truly happened; after syncing, the
server's sessions and per-branch hours are compared with what the ledger
says they must be, and every difference is reported.

Only HTTP is used, so it runs against any server: ``simulate(base_url,
admin_token, ...)``. ``scripts/simulate_devices.py`` is its command line.
"""
from __future__ import annotations

import json
import random
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, time as day_time, timedelta, timezone
from pathlib import Path

from sync.client import LocalStore, SyncClient
from sync.client.transport import HttpTransport
from sync.daily_limit import DaySession, over_daily_limit
from sync.pairing import EventRecord, PairingRules, pair_events
from sync.timeutil import BUSINESS_TZ, format_rfc3339, local_date, parse_rfc3339

#: Beyond this offset the server corrects times and sends sessions to review.
CLOCK_TOLERANCE_S = 120
#: Allowed difference between true and derived times (network latency).
TIME_SLACK_S = 10
#: The server's default daily limit on hours credited without review.
DAILY_REVIEW_S = 8 * 3600


@dataclass
class Config:
    devices: int = 4
    people_per_device: int = 6
    days: int = 3
    seed: int = 1
    forget_checkout: float = 0.06
    double_scan: float = 0.1
    skewed_devices: float = 0.5
    resend: float = 0.2


@dataclass
class Device:
    code: str
    station: str
    branch: str
    people: list[str]
    client: SyncClient
    skew: timedelta
    truth: list[dict] = field(default_factory=list)


class _Api:
    def __init__(self, base_url: str, token: str):
        self.base_url, self.token = base_url.rstrip("/"), token

    def call(self, method: str, path: str, body=None) -> dict | list:
        request = urllib.request.Request(
            self.base_url + path, method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json",
                     "Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"{}")

    def all_pages(self, path: str) -> list:
        items, page = [], 1
        while True:
            separator = "&" if "?" in path else "?"
            batch = self.call("GET", f"{path}{separator}page={page}&page_size=100")
            items.extend(batch)
            if len(batch) < 100:
                return items
            page += 1


class _ResendingTransport(HttpTransport):
    """Sometimes sends a push twice, as a client does whose answer was lost."""

    def __init__(self, base_url, token, rng: random.Random, probability: float):
        super().__init__(base_url, token)
        self.rng, self.probability = rng, probability
        self.resent = 0

    def post_json(self, path, body):
        if self.rng.random() < self.probability:
            super().post_json(path, body)
            self.resent += 1
        return super().post_json(path, body)


def _setup(api: _Api, run: str, config: Config, rng: random.Random, folder: Path) -> list[Device]:
    api.call("POST", "/api/v1/areas", {
        "code": f"{run}-A", "name": "模拟社区", "kind": "community", "parent": None})
    api.call("POST", "/api/v1/organisations", {
        "code": run, "name": "模拟党委", "kind": "committee", "area": f"{run}-A"})
    devices = []
    for n in range(config.devices):
        branch, station = f"{run}-B{n}", f"{run}-S{n}"
        api.call("POST", "/api/v1/organisations", {
            "code": branch, "name": f"模拟第{n}支部", "kind": "branch", "parent": run})
        api.call("POST", "/api/v1/stations", {
            "code": station, "name": f"模拟站点{n}", "kind": "party_mass_centre",
            "area": f"{run}-A", "host_organisation": branch})
        people = [f"{run}-P{n}-{k}" for k in range(config.people_per_device)]
        for person in people:
            api.call("POST", "/api/v1/people", {
                "code": person, "name": f"志愿者{person[-4:]}", "kind": "volunteer",
                "branch": branch, "branch_since": "2020-01-01"})
        enrolment = api.call("POST", "/api/v1/devices", {
            "code": f"{run}-D{n}", "name": "模拟平板", "stations": [station]})
        store = LocalStore(folder / f"device-{n}.db")
        # Enrol at the address the simulator was given (behind a proxy the
        # server's public URL may not be reachable from here).
        qr = json.loads(enrolment["enrolment_qr"])
        qr["url"] = api.base_url + "/api/v1/devices/enrol"
        SyncClient.enrol(store, json.dumps(qr), "simulator")
        skew = timedelta(0)
        if rng.random() < config.skewed_devices:
            skew = timedelta(seconds=rng.choice([-1, 1]) * rng.choice(
                [30, 3600 * 5, 86400 * 2, 86400 * 3]))
        client = SyncClient(store, _ResendingTransport(store.get("base_url"), store.get("token"),
                                                       rng, config.resend),
                            sleep=lambda s: None, rng=rng,
                            clock=lambda skew=skew: datetime.now(timezone.utc) + skew)
        devices.append(Device(f"{run}-D{n}", station, branch, people, client, skew))
    return devices


def _record_shifts(device: Device, config: Config, rng: random.Random, start_day) -> None:
    """True scans of each day; each scan is recorded on the device's (wrong) clock."""
    for offset in range(config.days):
        day = start_day + timedelta(days=offset)
        for person in rng.sample(device.people, k=max(1, len(device.people) // 2)):
            begins = datetime.combine(day, day_time(rng.randint(8, 17), rng.choice((0, 20, 40))),
                                      BUSINESS_TZ)
            ends = begins + timedelta(minutes=rng.choice((45, 60, 90, 120, 180)))
            scans = [("check_in", begins)]
            if rng.random() < config.double_scan:
                scans.append(("check_in", begins + timedelta(minutes=2)))
            if rng.random() >= config.forget_checkout:
                scans.append(("check_out", ends))
            for kind, truly_at in scans:
                event = device.client.store.record_scan(kind, person, station=device.station,
                                                        at=truly_at + device.skew)
                device.truth.append({"id": event["id"], "type": kind, "person": person,
                                     "at": truly_at})


def _expected_sessions(devices: list[Device]) -> dict[str, dict]:
    """What the server must derive from what truly happened."""
    by_person: dict[str, list[EventRecord]] = {}
    corrected = {}
    for device in devices:
        flagged = abs(device.skew.total_seconds()) > CLOCK_TOLERANCE_S
        # Within the tolerance the server keeps the device's time as it is;
        # beyond it, it shifts the batch back to (about) the true time.
        shift = timedelta(0) if flagged else device.skew
        for scan in device.truth:
            corrected[scan["id"]] = flagged
            by_person.setdefault(scan["person"], []).append(EventRecord(
                id=scan["id"], type=scan["type"], station=device.station,
                effective_at=scan["at"] + shift,
                flags=frozenset({"clock_corrected"}) if flagged else frozenset()))
    expected = {}
    for person, events in by_person.items():
        for session in pair_events(events, PairingRules()):
            expected[session.key_event_id] = {"person": person, "status": session.status,
                                              "start_at": session.start_at,
                                              "end_at": session.end_at}
    return expected


def simulate(base_url: str, admin_token: str, config: Config | None = None,
             folder: str | None = None) -> dict:
    """Run one simulation; returns counts and the list of differences (empty = all well)."""
    config = config or Config()
    rng = random.Random(config.seed)
    run = f"SIM{rng.randrange(16**6):06x}"
    api = _Api(base_url, admin_token)
    workdir = Path(folder or tempfile.mkdtemp(prefix="simulation-"))
    devices = _setup(api, run, config, rng, workdir)
    for device in devices:
        device.client.pull()
    today = datetime.now(BUSINESS_TZ).date()
    start_day = today - timedelta(days=config.days)

    # Offline for hours or days: each device records its shifts, and pushes
    # now and then, in an order interleaved with the other devices.
    for device in devices:
        _record_shifts(device, config, rng, start_day)
    for _ in range(config.devices * 2):
        device = rng.choice(devices)
        if rng.random() < 0.5:
            device.client.batch_size = rng.choice((3, 10, 50))
            pending = device.client.store.pending(rng.randint(1, 20))
            if pending:
                device.client.push()
    # Then everyone comes back online at the same moment.
    threads = [threading.Thread(target=d.client.sync) for d in devices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    differences = compare_with_ledger(api, run, devices, start_day, today)
    expected = _expected_sessions(devices)
    return {"run": run, "devices": len(devices),
            "scans": sum(len(d.truth) for d in devices),
            "sessions": len(expected), "resent_batches": sum(
                d.client.transport.resent for d in devices),
            "skewed_devices": sum(1 for d in devices if d.skew), "differences": differences}


def _wait_until_paired(api: _Api, timeout_s: float = 120.0) -> None:
    """The server pairs sessions just after answering a push (and holds a
    backlog's until its last batch): wait until nothing is left queued."""
    deadline = time.monotonic() + timeout_s
    while api.call("GET", "/api/v1/sessions/pairing-backlog")["rows"]:
        if time.monotonic() > deadline:
            raise RuntimeError("the server's pairing did not finish")
        time.sleep(0.2)


def compare_with_ledger(api: _Api, run: str, devices: list[Device], start_day, today) -> list[str]:
    """Differences between the server's sessions and branch hours and the ledger."""
    differences = []
    for device in devices:
        left = device.client.store.status()["queue_length"]
        if left:
            differences.append(f"{device.code}: {left} scans still queued")
        # Every scan arrived as recorded, resent batches and all: the
        # device's chain (docs/sync-protocol.md, "Linked scans") is whole.
        chain = api.call("GET", f"/api/v1/devices/{device.code}")["chain"]
        differences.extend(f"{device.code}: scan {found['seq']} {found['kind']} in its chain"
                           for found in chain["breaks"])
        if len(device.truth) > 1 and chain["linked_from_seq"] is None:
            differences.append(f"{device.code}: its scans arrived unlinked")
    _wait_until_paired(api)
    expected = _expected_sessions(devices)
    actual = {s["id"]: s for s in api.all_pages(
        f"/api/v1/sessions?branch={run}&from={start_day - timedelta(days=4)}"
        f"&to={today + timedelta(days=4)}")}
    for key in sorted(set(expected) | set(actual)):
        want, got = expected.get(key), actual.get(key)
        if want is None or got is None:
            differences.append(f"session {key}: expected {want and want['status']}, "
                               f"server {got and got['status']}")
            continue
        if want["status"] != got["derived_status"]:
            differences.append(f"session {key} of {want['person']}: status "
                               f"{got['derived_status']}, ledger {want['status']}")
        for name in ("start_at", "end_at"):
            theirs = got[f"derived_{name}"]
            if (want[name] is None) != (theirs is None) or (
                    theirs is not None and abs((parse_rfc3339(theirs) - want[name])
                                               .total_seconds()) > TIME_SLACK_S):
                differences.append(f"session {key}: {name} {theirs}, ledger "
                                   f"{want[name] and format_rfc3339(want[name])}")
    # Hours past a person's daily limit wait for review (sync/daily_limit.py):
    # the ledger credits what the server may credit without anyone's decision.
    days: dict[tuple, list[DaySession]] = {}
    for key, want in expected.items():
        if want["start_at"] is not None:
            days.setdefault((want["person"], local_date(want["start_at"])), []).append(
                DaySession(key, want["start_at"], int((want["end_at"] - want["start_at"])
                           .total_seconds()) if want["status"] == "ok" else 0, None))
    waiting = set().union(*(over_daily_limit(day, DAILY_REVIEW_S) for day in days.values()))
    ledger_hours: dict[str, float] = {}
    for key, want in expected.items():
        branch = next(d.branch for d in devices if want["person"] in d.people)
        if want["status"] == "ok" and key not in waiting:
            ledger_hours[branch] = ledger_hours.get(branch, 0) + (
                want["end_at"] - want["start_at"]).total_seconds()
    report = api.call("GET", f"/api/v1/reports/service-hours?group_by=branch"
                             f"&from={start_day - timedelta(days=4)}&to={today}")
    server_hours = {row["code"]: row["credited_seconds"] for row in report["rows"]
                    if row["code"].startswith(run)}
    for branch in sorted(set(ledger_hours) | set(server_hours)):
        want, got = ledger_hours.get(branch, 0), server_hours.get(branch, 0)
        if abs(want - got) > TIME_SLACK_S * max(1, len(expected)):
            differences.append(f"branch {branch}: server {got} s credited, ledger {want:.0f} s")
    return differences
