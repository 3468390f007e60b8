"""Signed station QR codes: decoded with a real decoder, verified, revoked, printed."""
from __future__ import annotations

import io
import shutil
import subprocess

import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader

from sync.qr import QrInvalid, b64url, b64url_decode, verify_station_url
from tests.conftest import auth
from tests.sync_helpers import batch, push, recent, scan


def _keys(client) -> dict[str, bytes]:
    return {k["key_id"]: b64url_decode(k["public_key"])
            for k in client.get("/api/v1/signing-keys").json if not k["retired_at"]}


def _decode(png: bytes) -> list[str]:
    """The QR codes in ``png``. Only QR: a poster sheet's text and module
    patterns were once read as a Codabar "B95B" by the all-formats scan."""
    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)),
                                                   formats=zxingcpp.BarcodeFormat.QRCode)]


def _current_url(client, token, station="ST-BA-1") -> str:
    return client.get(f"/api/v1/stations/{station}/qr", headers=auth(token)).json["url"]


def test_png_decodes_to_a_url_that_verifies(client, world, admin_token):
    response = client.get("/api/v1/stations/ST-BA-1/qr.png", headers=auth(admin_token))
    assert response.mimetype == "image/png"
    [text] = _decode(response.data)
    assert text.startswith("https://stations.example.test/q/ST-BA-1?v=1&k=")
    code = verify_station_url(text, _keys(client))
    assert (code.station, code.version) == ("ST-BA-1", 1)


def test_svg_is_served(client, world, admin_token):
    response = client.get("/api/v1/stations/ST-BA-1/qr.svg", headers=auth(admin_token))
    assert response.mimetype == "image/svg+xml"
    assert b"<svg" in response.data and b"<path" in response.data


@pytest.fixture
def signed(client, world, admin_token):
    return _current_url(client, admin_token), _keys(client)


@pytest.mark.parametrize("mutate, reason", [
    (lambda u: u[:-3] + ("AAA" if not u.endswith("AAA") else "BBB"), "bad_signature"),
    (lambda u: u.replace("v=1", "v=2"), "bad_signature"),
    (lambda u: u.replace("/q/ST-BA-1", "/q/ST-NS-1"), "bad_signature"),
    (lambda u: u.replace("&k=k", "&k=x"), "unknown_key"),
    (lambda u: u + "&s=again", "bad_qr"),
    (lambda u: "x" * 5000, "bad_qr"),
    (lambda u: "garbage \x00 ☃", "bad_qr"),
    (lambda u: "https://example.com/other/path", "bad_qr"),
    (lambda u: u.split("&s=")[0], "bad_qr"),
])
def test_tampered_and_garbage_codes_fail_with_a_reason(signed, mutate, reason):
    url, keys = signed
    with pytest.raises(QrInvalid) as failure:
        verify_station_url(mutate(url), keys)
    assert failure.value.code == reason


def test_reissue_revokes_older_codes_which_are_kept_but_reviewed(client, make_device,
                                                                 admin_token):
    old = _current_url(client, admin_token)
    response = client.post("/api/v1/stations/ST-BA-1/qr/reissue", headers=auth(admin_token),
                           json={"reason": "海报被撕毁"})
    assert response.json["qr_version"] == 2
    new = _current_url(client, admin_token)
    assert "v=2" in new and new != old
    _, token = make_device()
    results = push(client, token, batch([
        scan("P-BA-1", "check_in", recent(3), station=None, qr=old),
        scan("P-BA-1", "check_out", recent(1), station=None, qr=new)])).json["results"]
    assert [r["status"] for r in results] == ["accepted", "accepted"]
    from server.extensions import db
    from server.service_sessions.models import ServiceSession
    [session] = db.session.query(ServiceSession).all()
    assert session.status == "needs_review" and "revoked_qr" in session.flags
    page = client.get(old.replace("https://stations.example.test", ""))
    assert "已被新版替换" in page.get_data(as_text=True)


def test_retired_station_scans_are_flagged(client, make_device, admin_token):
    url = _current_url(client, admin_token)
    client.post("/api/v1/stations/ST-BA-1/retire", headers=auth(admin_token), json={})
    _, token = make_device()
    push(client, token, batch([scan("P-BA-1", "check_in", recent(3), station=None, qr=url),
                               scan("P-BA-1", "check_out", recent(1))]))
    from server.checkins.models import CheckinEvent
    from server.extensions import db
    assert {e.flags for e in db.session.query(CheckinEvent)} == {"revoked_qr"}


def test_key_rotation_keeps_old_codes_until_the_key_is_retired(client, make_device,
                                                               admin_token):
    old_url = _current_url(client, admin_token)
    old_key = old_url.split("&k=")[1].split("&")[0]
    rotated = client.post("/api/v1/signing-keys/rotate", headers=auth(admin_token))
    assert rotated.status_code == 201
    new_url = _current_url(client, admin_token)
    assert rotated.json["key_id"] in new_url
    verify_station_url(old_url, _keys(client))
    refused = client.post(f"/api/v1/signing-keys/{rotated.json['key_id']}/retire",
                          headers=auth(admin_token))
    assert refused.status_code == 409 and refused.json["code"] == "active_key"
    assert client.post(f"/api/v1/signing-keys/{old_key}/retire",
                       headers=auth(admin_token)).status_code == 200
    with pytest.raises(QrInvalid) as failure:
        verify_station_url(old_url, _keys(client))
    assert failure.value.code == "unknown_key"
    _, token = make_device()
    result = push(client, token, batch([scan("P-BA-1", "check_in", recent(1), station=None,
                                             qr=old_url)])).json["results"][0]
    assert (result["status"], result["code"]) == ("quarantined", "unknown_key")


def test_pushed_qr_with_a_bad_signature_is_quarantined(client, make_device, admin_token):
    url = _current_url(client, admin_token)
    forged = url.rsplit("&s=", 1)[0] + "&s=" + b64url(b"\x00" * 64)
    _, token = make_device()
    result = push(client, token, batch([scan("P-BA-1", "check_in", recent(1), station=None,
                                             qr=forged)])).json["results"][0]
    assert result["code"] == "bad_signature"


def test_public_page_for_current_unknown_and_tampered_codes(client, world, admin_token):
    path = _current_url(client, admin_token).replace("https://stations.example.test", "")
    page = client.get(path)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "站点ST-BA-1" in text and "当前有效" in text
    english = client.get(path + "&lang=en").get_data(as_text=True)
    assert "current check-in code" in english
    tampered = client.get(path[:-2] + "xx").get_data(as_text=True)
    assert "无法验证" in tampered
    assert client.get("/q/NOPE?v=1&k=a&s=b").status_code == 404
    assert client.get("/q/" + "%00" * 10).status_code == 404


@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="pdftoppm (poppler-utils) missing")
def test_pdf_poster_decodes_and_its_chinese_text_is_real(client, world, admin_token, tmp_path):
    response = client.get("/api/v1/posters.pdf?station=ST-BA-1&station=ST-NS-1&layout=a4",
                          headers=auth(admin_token))
    assert response.mimetype == "application/pdf"
    pdf = tmp_path / "posters.pdf"
    pdf.write_bytes(response.data)
    reader = PdfReader(pdf)
    assert len(reader.pages) == 2
    text = reader.pages[0].extract_text()
    assert "站点ST-BA-1" in text and "扫码签到" in text and "党群服务中心" in text
    fonts = str(reader.pages[0]["/Resources"]["/Font"].get_object())
    assert "STSong" not in fonts or not shutil.which("fc-list")
    subprocess.run(["pdftoppm", "-r", "110", "-png", "-f", "1", "-l", "1", str(pdf),
                    str(tmp_path / "page")], check=True)
    [png] = list(tmp_path.glob("page*.png"))
    shutil.copy(png, _artefact_dir() / "poster-a4.png")
    [text] = _decode(png.read_bytes())
    assert verify_station_url(text, _keys(client)).station == "ST-BA-1"


@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="pdftoppm (poppler-utils) missing")
def test_a6_sheet_holds_four_decodable_posters(client, world, admin_token, tmp_path):
    response = client.get("/api/v1/posters.pdf?area=SZ&layout=a6", headers=auth(admin_token))
    pdf = tmp_path / "a6.pdf"
    pdf.write_bytes(response.data)
    assert len(PdfReader(pdf).pages) == 1
    subprocess.run(["pdftoppm", "-r", "200", "-png", str(pdf), str(tmp_path / "sheet")],
                   check=True)
    [png] = list(tmp_path.glob("sheet*.png"))
    shutil.copy(png, _artefact_dir() / "poster-a6-sheet.png")
    stations = {verify_station_url(t, _keys(client)).station for t in _decode(png.read_bytes())}
    assert stations == {"ST-BA-1", "ST-NS-1"}


def _artefact_dir():
    from pathlib import Path
    path = Path(__file__).parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
