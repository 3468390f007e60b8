"""An event's canonical JSON is ``json.dumps``'s text, whichever writer made it.

Stored content hashes were computed from that text: if a resent event's text
changed, it would be answered ``conflict`` instead of ``duplicate``.
sync.protocol writes with orjson when it is installed and falls back to
``json.dumps`` for what orjson writes differently; any JSON value, typical
or odd, must come out the same.
"""
from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from sync import protocol


def _stdlib(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


#: Any character, lone surrogates included (json.loads makes them from "\\ud800").
_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
_json = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | _text
    | st.integers(min_value=2**63 - 8, max_value=2**64 + 8) | st.sampled_from(
        [1e-05, 1e16, 1e21, 5e-324, -0.0, 0.1, 22.5512, 113.8811, 25.0]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(_text, children, max_size=4),
    max_leaves=20)


@settings(max_examples=2000)
@given(_json)
def test_any_json_value_gets_json_dumps_text(value):
    assert protocol.canonical_json(value) == _stdlib(value)


def test_typical_events_take_the_fast_writer_and_odd_ones_the_fallback():
    """The fast path is taken where it matters (else this change bought nothing),
    and refused for the values it would write differently."""
    assert protocol.orjson is not None, "orjson is a server dependency (setup.cfg)"
    event = {"id": "5f0c1d2e-0000-4000-8000-000000000001", "seq": 41, "type": "check_in",
             "person": "P-0001234", "station": "BA-XH-0001", "activity": None,
             "occurred_at": "2026-11-20T09:01:05+08:00",
             "location": {"lat": 22.55, "lng": 113.88, "accuracy_m": 25}}
    assert protocol._orjson_writes_alike(event)
    for odd in (1e-05, float("nan"), float("inf"), {"a": [1e22]}):
        assert not protocol._orjson_writes_alike(odd)
    assert protocol.canonical_json(event) == _stdlib(event)


def test_without_orjson_the_text_is_the_same(monkeypatch):
    event = {"b": [1, 2.5, "中文"], "a": {"z": None, "y": True}}
    fast = protocol.canonical_json(event)
    monkeypatch.setattr(protocol, "orjson", None)
    assert protocol.canonical_json(event) == fast == _stdlib(event)
