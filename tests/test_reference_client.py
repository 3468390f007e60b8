"""The reference client against a real gunicorn: offline queue, cut connections,
interrupted pulls, limits, and offline QR checks."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading

import pytest
from sqlalchemy import func, select

from server.checkins.models import CheckinEvent
from server.extensions import db
from server.service_sessions.models import ServiceSession
from sync.client import LocalStore, SyncClient, SyncError
from sync.client.transport import HttpTransport
from sync.protocol import content_hash
from tests.conftest import auth
from tests.sync_helpers import recent, settle_pairing

pytestmark = pytest.mark.slow


def _count(model) -> int:
    db.session.rollback()
    value = db.session.scalar(select(func.count()).select_from(model))
    db.session.rollback()
    return value


@pytest.fixture
def enrolment(client, world, admin_token):
    """The text of a fresh device's enrolment QR code (its scope: ST-BA-1)."""
    response = client.post("/api/v1/devices", headers=auth(admin_token), json={
        "code": "TAB-CLIENT", "name": "平板", "stations": ["ST-BA-1"]})
    db.session.commit()
    return response.json["enrolment_qr"]


def _enrolled(tmp_path, server, enrolment_qr, **options) -> SyncClient:
    store = LocalStore(tmp_path / "device.db")
    qr = json.loads(enrolment_qr)
    qr["url"] = server.url + "/api/v1/devices/enrol"
    SyncClient.enrol(store, json.dumps(qr))
    return SyncClient(store, sleep=lambda s: None, **options)


def test_scans_queue_while_the_server_is_down_then_sync(tmp_path, live, enrolment):
    server = live()
    client = _enrolled(tmp_path, server, enrolment, max_attempts=2)
    port = server.port
    server.stop()
    client.store.record_scan("check_in", "P-BA-1", station="ST-BA-1", at=recent(3))
    client.store.record_scan("check_out", "P-BA-1", station="ST-BA-1", at=recent(1))
    with pytest.raises(SyncError) as failure:
        client.push()
    assert failure.value.code == "unreachable"
    status = client.store.status()
    assert status["queue_length"] == 2 and "network" in status["last_error"]
    live(port=port)
    assert client.push() == {"accepted": 2}
    assert client.store.status()["queue_length"] == 0
    settle_pairing()
    assert _count(CheckinEvent) == 2 and _count(ServiceSession) == 1


class CuttingProxy:
    """Forwards to the server, but for the first ``cuts`` requests drops the
    connection after the server has answered: the client never hears back."""

    def __init__(self, target_port: int, cuts: int = 1):
        self.target_port, self.cuts = target_port, cuts
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(downstream,), daemon=True).start()

    def _relay(self, downstream):
        with downstream, socket.create_connection(("127.0.0.1", self.target_port)) as upstream:
            request = _read_http_message(downstream)
            upstream.sendall(request)
            response = _read_http_message(upstream)
            if self.cuts > 0:
                self.cuts -= 1
                return  # the server stored it; the client gets a dead connection
            downstream.sendall(response)

    def close(self):
        self.listener.close()


def _read_http_message(sock) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def test_connection_cut_mid_response_is_resent_and_stored_once(tmp_path, live, enrolment):
    server = live()
    client = _enrolled(tmp_path, server, enrolment)
    proxy = CuttingProxy(server.port, cuts=1)
    try:
        client.transport = HttpTransport(f"http://127.0.0.1:{proxy.port}",
                                         client.store.get("token"))
        for n in range(5):
            client.store.record_scan("check_in" if n % 2 == 0 else "check_out", "P-BA-1",
                                     station="ST-BA-1", at=recent(5 - n))
        counts = client.push()
    finally:
        proxy.close()
    assert counts == {"duplicate": 5}
    assert client.store.status()["queue_length"] == 0
    assert _count(CheckinEvent) == 5


def test_an_interrupted_pull_resumes_where_it_stopped(tmp_path, live, enrolment):
    server = live()
    client = _enrolled(tmp_path, server, enrolment)
    assert client.pull(limit=1, max_pages=2) == 2
    partial = client.store.cache_counts()
    client.pull(limit=1)
    resumed = client.store.cache_counts()
    fresh = SyncClient(LocalStore(tmp_path / "fresh.db"), client.transport)
    fresh.pull()
    assert resumed == fresh.store.cache_counts() == {"person": 2, "signing_key": 1,
                                                     "station": 1}
    assert sum(partial.values()) < sum(resumed.values())


def test_413_splits_the_batch_until_it_fits(tmp_path, live, enrolment):
    server = live(PUSH_MAX_EVENTS=7)
    client = _enrolled(tmp_path, server, enrolment, batch_size=50)
    for n in range(30):
        client.store.record_scan("check_in", "P-BA-2", station="ST-BA-1", at=recent(40 - n))
    assert client.push() == {"accepted": 30}


def test_429_waits_for_retry_after(tmp_path, live, enrolment):
    # One worker: the default in-memory limiter store is per process.
    server = live(workers=1, PUSH_RATE_LIMIT="2 per 2 second")
    waits = []
    client = _enrolled(tmp_path, server, enrolment, batch_size=2)
    client.sleep = lambda s: (waits.append(s), __import__("time").sleep(s))
    for n in range(8):
        client.store.record_scan("check_in", "P-BA-2", station="ST-BA-1", at=recent(20 - n))
    assert client.push() == {"accepted": 8}
    assert waits and max(waits) >= 1


def test_offline_check_warns_on_a_revoked_code_but_records_it(tmp_path, live, enrolment, client,
                                                              admin_token):
    server = live()
    device = _enrolled(tmp_path, server, enrolment)
    old = client.get("/api/v1/stations/ST-BA-1/qr", headers=auth(admin_token)).json["url"]
    device.pull()
    assert device.store.record_scan("check_in", "P-BA-1", qr=old)["warning"] is None
    client.post("/api/v1/stations/ST-BA-1/qr/reissue", headers=auth(admin_token), json={})
    db.session.commit()
    device.pull()
    event = device.store.record_scan("check_out", "P-BA-1", qr=old)
    assert event["warning"] == "revoked_qr"
    forged = device.store.record_scan("check_out", "P-BA-1", qr=old[:-4] + "AAAA")
    assert forged["warning"] == "bad_signature"
    assert device.store.status()["queue_length"] == 3
    assert device.push() == {"accepted": 2, "quarantined": 1}


def test_command_line(tmp_path, live, enrolment):
    server = live()
    qr = json.loads(enrolment)
    qr["url"] = server.url + "/api/v1/devices/enrol"
    database = str(tmp_path / "cli.db")

    def run(*args):
        return subprocess.run([sys.executable, "-m", "sync.client", "--db", database, *args],
                              capture_output=True, text=True, timeout=60)

    assert "enrolled as TAB-CLIENT" in run("enrol", json.dumps(qr)).stdout
    assert run("scan", "check_in", "--person", "P-BA-1", "--station", "ST-BA-1").returncode == 0
    assert json.loads(run("status").stdout)["queue_length"] == 1
    result = json.loads(run("sync").stdout)
    assert result["pushed"] == {"accepted": 1}
    assert json.loads(run("status").stdout)["queue_length"] == 0


def test_its_health_report_says_what_stays_queued_after_each_batch(tmp_path, live, enrolment,
                                                                   client, admin_token):
    """Two scans queued offline on 31 October, one on 2 November, sent two
    at a time: after the first batch the device holds only November's, so
    October's figures are final; after the second, nothing."""
    from server.devices.models import Device
    seen = []

    class Watching(HttpTransport):
        def post_json(self, path, body):
            answer = super().post_json(path, body)
            db.session.rollback()
            october = client.get("/api/v1/reports/service-hours?month=2026-10",
                                 headers=auth(admin_token)).json["completeness"]
            seen.append((db.session.scalar(select(Device.queue_length)),
                         october["devices"][0]["behind"]))
            db.session.rollback()
            return answer

    server = live()
    device = _enrolled(tmp_path, server, enrolment, batch_size=2)
    device.transport = Watching(server.url, device.store.get("token"))
    for n, queued in enumerate(("2026-10-31T20:00:00+08:00", "2026-10-31T21:00:00+08:00",
                                "2026-11-02T08:00:00+08:00")):
        scanned = device.store.record_scan("check_in" if n % 2 == 0 else "check_out",
                                           "P-BA-1", station="ST-BA-1", at=recent(3 - n))
        device.store.db.execute("UPDATE outbox SET queued_at = ? WHERE id = ?",
                                (queued, scanned["id"]))
    device.push()
    assert seen == [(1, False), (0, False)]


def test_offline_check_of_a_station_displays_code(tmp_path, live, enrolment, client,
                                                  admin_token):
    from datetime import datetime, timedelta, timezone

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from sync.qr import b64url, display_url, display_window, sign_display
    private = Ed25519PrivateKey.generate()
    public = b64url(private.public_key().public_bytes(serialization.Encoding.Raw,
                                                      serialization.PublicFormat.Raw))
    display = client.post("/api/v1/displays", headers=auth(admin_token), json={
        "station": "ST-BA-1", "name": "前台屏幕", "public_key": public}).json["code"]
    db.session.commit()
    server = live()
    device = _enrolled(tmp_path, server, enrolment)
    device.pull()

    def shown_at(when):
        window = display_window(when)
        return display_url("https://stations.example.test", "ST-BA-1", display, window,
                           sign_display(private, "ST-BA-1", display, window))

    now = datetime.now(timezone.utc)
    current = device.store.record_scan("check_in", "P-BA-1", qr=shown_at(now), at=now)
    assert current["warning"] is None
    # A photo of the screen, passed on and scanned ten minutes later.
    photo = device.store.record_scan("check_out", "P-BA-1", qr=shown_at(now),
                                     at=now + timedelta(minutes=10))
    assert photo["warning"] == "expired_code"
    forged = device.store.record_scan("check_out", "P-BA-1", qr=shown_at(now)[:-4] + "AAAA")
    assert forged["warning"] == "bad_signature"
    client.post(f"/api/v1/displays/{display}/revoke", headers=auth(admin_token), json={})
    db.session.commit()
    device.pull()
    assert device.store.cached("display", display) is None
    # Its key was dropped with the revocation; this device has no display key left.
    revoked = device.store.record_scan("check_out", "P-BA-1", qr=shown_at(now), at=now)
    assert revoked["warning"] == "no_keys_yet"
    assert device.store.status()["queue_length"] == 4


def test_the_clients_scans_are_linked_and_their_chain_verifies_clean(tmp_path, live, enrolment,
                                                                     client, admin_token):
    """Each scan names the hash of the one recorded before it, as the server
    hashes it: through several pushes (three scans a batch), locations with
    numbers Python writes with exponents, and a quarantined scan, the
    device's chain has no break."""
    server = live()
    device = _enrolled(tmp_path, server, enrolment, batch_size=3)
    places = [{"lat": 22.5562, "lng": 113.889, "accuracy_m": 1e-05},
              {"lat": 22.5, "lng": 113.0, "accuracy_m": 12}, None,
              {"lat": -0.00001234, "lng": 1e-07, "accuracy_m": 0.1}]
    for n in range(10):
        person = "P-NOBODY" if n == 4 else "P-BA-1"  # quarantined: unknown_person
        device.store.record_scan("check_in" if n % 2 == 0 else "check_out", person,
                                 station="ST-BA-1", at=recent(12 - n), location=places[n % 4])
    first, second = device.store.pending(10)[:2]
    assert "prev" not in first and second["prev"] == content_hash(first)
    counts = device.push()
    assert counts == {"accepted": 9, "quarantined": 1}
    chain = client.get("/api/v1/devices/TAB-CLIENT", headers=auth(admin_token)).json["chain"]
    assert chain == {"verified_through_seq": 10, "linked_from_seq": 2,
                     "complete": True, "break_count": 0, "breaks": []}
    stored = db.session.scalar(select(CheckinEvent).where(CheckinEvent.seq == 1))
    assert stored.content_hash == second["prev"]
    db.session.rollback()
