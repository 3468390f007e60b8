"""A station display's code (sync/qr.py): signed by the display's own key for a
30-second window, verified offline, judged against the scan's time."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from sync.qr import (DISPLAY_WINDOW_S, INSIDE, MAX_DISPLAY_WINDOW, OUTSIDE, DisplayCode,
                     DisplayKey, QrInvalid, display_url, display_window, is_display_url,
                     judge_display_code, sign_display, verify_display_url, verify_station_url)

BASE = "https://stations.example.test"
TOLERANCE_S = 120


def _raw(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(serialization.Encoding.Raw,
                                             serialization.PublicFormat.Raw)


@pytest.fixture(scope="module")
def screen():
    """The private key of display D-1 at ST-1, and the keys a phone pulled."""
    private = Ed25519PrivateKey.generate()
    other = Ed25519PrivateKey.generate()
    keys = {"D-1": DisplayKey("ST-1", _raw(private)),
            "D-2": DisplayKey("ST-2", _raw(other)),
            "D-OLD": DisplayKey("ST-1", _raw(other),
                                revoked_at=datetime(2026, 12, 1, tzinfo=timezone.utc))}
    return private, other, keys


def _code(private, station="ST-1", display="D-1", window=59_000_000) -> str:
    return display_url(BASE, station, display, window,
                       sign_display(private, station, display, window))


def test_a_code_verifies_and_says_who_showed_it_when(screen):
    private, _, keys = screen
    text = _code(private, window=59_000_000)
    assert text.startswith(f"{BASE}/q/ST-1?d=D-1&w=59000000&s=")
    code = verify_display_url(text, keys)
    assert code == DisplayCode("ST-1", "D-1", 59_000_000)
    assert code.window_start == datetime.fromtimestamp(59_000_000 * 30, timezone.utc)
    assert code.window_end - code.window_start == timedelta(seconds=DISPLAY_WINDOW_S)


def test_the_window_is_unix_seconds_over_thirty():
    at = datetime(2026, 12, 4, 12, 0, 29, 999999, tzinfo=timezone.utc)
    assert display_window(at) == int(at.timestamp()) // 30
    assert display_window(at + timedelta(microseconds=1)) == display_window(at) + 1


@pytest.mark.parametrize("mutate, reason", [
    # A character of the signature changed.
    (lambda u: u[:-3] + ("AAA" if not u.endswith("AAA") else "BBB"), "bad_signature"),
    # Another window: an old code made to look current.
    (lambda u: u.replace("&w=59000000", "&w=59000001"), "bad_signature"),
    # Another station in the URL: the signature covers the station.
    (lambda u: u.replace("/q/ST-1?", "/q/ST-2?"), "bad_signature"),
    (lambda u: u.replace("d=D-1", "d=D-9"), "unknown_display"),
    (lambda u: u + "&w=1", "bad_qr"),
    (lambda u: u.replace("&w=59000000", ""), "bad_qr"),
    (lambda u: u.replace("&w=59000000", "&w=-5"), "bad_qr"),
    (lambda u: u.replace("&w=59000000", f"&w={MAX_DISPLAY_WINDOW + 1}"), "bad_qr"),
    (lambda u: u + "&v=1&k=k1", "bad_qr"),
    (lambda u: u.replace("d=D-1", "d=D|1"), "bad_qr"),
    (lambda u: "https://example.com/other?d=D-1&w=1&s=x", "bad_qr"),
    (lambda u: "x" * 5000, "bad_qr"),
])
def test_an_altered_or_garbled_code_fails_with_a_stable_reason(screen, mutate, reason):
    private, _, keys = screen
    with pytest.raises(QrInvalid) as failure:
        verify_display_url(mutate(_code(private)), keys)
    assert failure.value.code == reason


def test_a_display_cannot_sign_for_another_station(screen):
    private, _, keys = screen
    # D-1's own key, a valid signature, but D-1 stands at ST-1.
    with pytest.raises(QrInvalid) as failure:
        verify_display_url(_code(private, station="ST-2"), keys)
    assert failure.value.code == "wrong_station"


def test_a_revoked_displays_codes_fail_even_when_genuine(screen):
    _, other, keys = screen
    with pytest.raises(QrInvalid) as failure:
        verify_display_url(_code(other, display="D-OLD"), keys)
    assert failure.value.code == "revoked_display"


def test_forms_are_told_apart_and_neither_verifies_as_the_other(screen):
    private, _, keys = screen
    text = _code(private)
    assert is_display_url(text)
    poster = f"{BASE}/q/ST-1?v=1&k=k1&s=abc"
    assert not is_display_url(poster) and not is_display_url("garbage")
    with pytest.raises(QrInvalid) as failure:
        verify_station_url(text, {"k1": b"\0" * 32})
    assert failure.value.code == "bad_qr"
    with pytest.raises(QrInvalid) as failure:
        verify_display_url(poster, keys)
    assert failure.value.code == "bad_qr"


# -- judging the scan's time against the window ----------------------------------------

WINDOW = DisplayCode("ST-1", "D-1", 59_000_000)
SLACK = timedelta(seconds=TOLERANCE_S)


@pytest.mark.parametrize("at, verdict", [
    (WINDOW.window_start, INSIDE),
    (WINDOW.window_end - timedelta(microseconds=1), INSIDE),
    (WINDOW.window_start - SLACK, INSIDE),
    (WINDOW.window_start - SLACK - timedelta(microseconds=1), OUTSIDE),
    (WINDOW.window_end + SLACK - timedelta(microseconds=1), INSIDE),
    (WINDOW.window_end + SLACK, OUTSIDE),
    (WINDOW.window_end + timedelta(hours=3), OUTSIDE),
])
def test_the_window_edges_widened_by_the_clock_tolerance(at, verdict):
    assert judge_display_code(WINDOW, at, TOLERANCE_S) == verdict


@given(offset_s=st.floats(min_value=-3600, max_value=3600, allow_nan=False),
       tolerance_s=st.integers(min_value=0, max_value=600),
       window=st.integers(min_value=0, max_value=MAX_DISPLAY_WINDOW - 1000))
def test_inside_exactly_when_within_the_tolerance_of_the_window(offset_s, tolerance_s, window):
    code = DisplayCode("ST-1", "D-1", window)
    at = code.window_start + timedelta(seconds=offset_s)
    expected = -tolerance_s <= (at - code.window_start).total_seconds() < 30 + tolerance_s
    assert (judge_display_code(code, at, tolerance_s) == INSIDE) == expected


@given(at=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                       timezones=st.just(timezone.utc)))
def test_a_code_made_at_some_instant_is_inside_at_that_instant(at):
    window = display_window(at)
    code = DisplayCode("ST-1", "D-1", window)
    assert code.window_start <= at < code.window_end
    assert judge_display_code(code, at, 0) == INSIDE


@given(window=st.integers(min_value=0, max_value=MAX_DISPLAY_WINDOW),
       station=st.from_regex(r"[A-Za-z0-9._-]{1,64}", fullmatch=True),
       display=st.from_regex(r"[A-Za-z0-9._-]{1,32}", fullmatch=True))
def test_any_signed_code_verifies_and_round_trips(screen, window, station, display):
    private, _, _ = screen
    keys = {display: DisplayKey(station, _raw(private))}
    text = display_url(BASE, station, display, window,
                       sign_display(private, station, display, window))
    assert verify_display_url(text, keys) == DisplayCode(station, display, window)
