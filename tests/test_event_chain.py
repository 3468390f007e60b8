"""The chain of a device's scans (sync/event_chain.py), without a database.

A device is modelled as it behaves: it numbers its scans and names in each
the content hash of the one before, as the server hashes it. What arrives
is any subset of what it made, in any order, duplicated, with some scans
changed on the way; the verdict must name exactly the harm done.
"""
from __future__ import annotations

import json
import math

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sync.event_chain import (ALTERED, FORK, HASH_RE, MALFORMED_LINK, REMOVED, UNLINKED, Break,
                              Link, chain_breaks, prev_of, rejudge)
from sync.protocol import canonical_json, content_hash


def _device(count: int, first_seq: int = 1, linked_from: int | None = None) -> list[dict]:
    """``count`` events as a device makes them, numbered from ``first_seq``;
    linked from the scan ``linked_from`` on (default: from its first)."""
    linked_from = first_seq + 1 if linked_from is None else linked_from
    events, last = [], None
    for seq in range(first_seq, first_seq + count):
        event = {"id": f"e-{seq}", "seq": seq, "type": "check_in", "person": f"P-{seq % 7}",
                 "station": "ST-1", "occurred_at": f"2026-11-{1 + seq % 28:02d}T09:00:00+08:00",
                 "location": {"lat": 22.5 + seq / 1e5, "lng": 113.9, "accuracy_m": 1e-05 * seq}}
        if last is not None and seq >= linked_from:
            event["prev"] = content_hash(last)
        events.append(event)
        last = event
    return events


def _links(events: list[dict]) -> list[Link]:
    """What the server reads back: hash and prev of each stored raw text."""
    links = []
    for event in events:
        text = canonical_json(json.loads(json.dumps(event)))  # sent as JSON, stored canonical
        links.append(Link(event["seq"], content_hash(json.loads(text)), prev_of(text)))
    return links


def _kinds(verdict) -> list[tuple[int, str]]:
    return [(b.seq, b.kind) for b in verdict.breaks]


deliveries = st.randoms(use_true_random=False)


@settings(max_examples=300)
@given(st.integers(1, 30), st.integers(0, 3), deliveries)
def test_a_chain_that_arrived_whole_verifies_clean_in_any_order_and_repetition(count, first,
                                                                               rng):
    links = _links(_device(count, first))
    delivered = links + [rng.choice(links) for _ in range(rng.randrange(4))]
    rng.shuffle(delivered)
    verdict = chain_breaks(delivered)
    assert verdict.breaks == []
    assert verdict.linked_from == (first + 1 if count > 1 else None)


@settings(max_examples=300)
@given(st.integers(2, 30), st.data(), deliveries)
def test_a_scan_removed_before_a_later_one_arrived_is_reported_removed(count, data, rng):
    events = _device(count)
    gone = data.draw(st.integers(0, count - 2), label="removed index")
    links = _links(events[:gone] + events[gone + 1:])
    rng.shuffle(links)
    removed = events[gone]
    assert chain_breaks(links).breaks == [
        Break(removed["seq"], REMOVED, removed["seq"] + 1, expected=content_hash(removed))]


@given(st.integers(1, 30))
def test_the_last_scans_removed_leave_no_trace_in_the_chain(count):
    """Nothing names them yet: only a later scan (or the seq gaps) can."""
    events = _device(count + 2)
    assert chain_breaks(_links(events[:count])).breaks == []


@settings(max_examples=300)
@given(st.integers(2, 30), st.data(), st.sampled_from(["person", "occurred_at", "type"]))
def test_a_scan_changed_on_the_way_is_reported_altered(count, data, field):
    events = _device(count)
    index = data.draw(st.integers(0, count - 2), label="altered index")
    changed = dict(events[index], **{field: "X-changed"})
    links = _links(events[:index] + [changed] + events[index + 1:])
    seq = events[index]["seq"]
    assert chain_breaks(links).breaks == [
        Break(seq, ALTERED, seq + 1, expected=content_hash(events[index]),
              stored=(content_hash(changed),))]


@given(st.integers(2, 30), st.data())
def test_a_changed_scan_that_also_arrived_as_sent_is_a_fork_not_an_alteration(count, data):
    """Both versions reached the server (a resend kept aside as a conflict):
    the chain vouches for one of them, and the scan has two versions."""
    events = _device(count)
    index = data.draw(st.integers(0, count - 1), label="index")
    changed = dict(events[index], person="X-changed")
    seq = events[index]["seq"]
    verdict = chain_breaks(_links(events + [changed]))
    assert _kinds(verdict) == [(seq, FORK)]
    assert set(verdict.breaks[0].stored) == {content_hash(events[index]), content_hash(changed)}


@settings(max_examples=200)
@given(st.lists(st.tuples(st.integers(0, 40),
                          st.text("0123456789abcdef", min_size=64, max_size=64)), max_size=40))
def test_scans_without_links_never_break_whatever_arrived(stored):
    """An older app sends no prev: gaps, repeats and forks of numbers aside,
    nothing is said about links."""
    verdict = chain_breaks([Link(seq, hash_) for seq, hash_ in stored])
    assert {b.kind for b in verdict.breaks} <= {FORK} and verdict.linked_from is None


@given(st.integers(4, 30), st.data())
def test_a_link_stripped_after_the_device_began_linking_is_reported(count, data):
    """Removing scan k and the link of k+1 (so that k would look merely
    skipped) is seen at k+1, and k+1's change at k+2 if it arrived."""
    events = _device(count)
    index = data.draw(st.integers(3, count - 1), label="stripped index")
    stripped = {k: v for k, v in events[index].items() if k != "prev"}
    kept = events[:index - 1] + [stripped] + events[index + 1:]
    seq = events[index]["seq"]
    expected = ([(seq, ALTERED)] if index + 1 < count else []) + [(seq, UNLINKED)]
    assert _kinds(chain_breaks(_links(kept))) == expected


@given(st.integers(2, 20), st.integers(1, 19))
def test_a_device_that_begins_linking_later_verifies_clean(count, start):
    assume(start < count)
    events = _device(count, first_seq=1, linked_from=1 + start)
    verdict = chain_breaks(_links(events))
    assert verdict.breaks == [] and verdict.linked_from == 1 + start


_odd_prev = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                      st.text(max_size=70), st.lists(st.integers(), max_size=2),
                      st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                      st.text("0123456789ABCDEF", min_size=64, max_size=64))


@settings(max_examples=300)
@given(_odd_prev)
def test_a_link_that_is_not_a_hash_is_a_malformed_link_never_an_error(prev):
    assume(not (isinstance(prev, str) and HASH_RE.match(prev)))
    events = _device(3)
    events[2] = {**events[2], "prev": prev}
    verdict = chain_breaks(_links(events))
    if prev is None:  # null is no link: the device stopped linking
        assert _kinds(verdict) == [(3, UNLINKED)]
    else:
        assert _kinds(verdict) == [(3, MALFORMED_LINK)]


_stored = st.lists(st.tuples(
    st.integers(0, 25), st.sampled_from(["a" * 64, "b" * 64, "c" * 64, "d" * 64]),
    st.sampled_from([None, "a" * 64, "b" * 64, "c" * 64, "e" * 64, "bad"])), max_size=50)


@settings(max_examples=1000)
@given(_stored, st.integers(0, 27))
def test_judging_from_a_checkpoint_on_equals_judging_everything(stored, since):
    """What the server relies on to verify a long history once: the verdict
    on the scans below ``since``, plus a verdict on ``since - 1`` and up
    that starts from it, is the verdict on everything."""
    links = [Link(*row) for row in stored]
    whole = chain_breaks(links)
    below = chain_breaks([link for link in links if link.seq < since])
    above = chain_breaks([link for link in links if link.seq >= since - 1], since=since,
                         linked_from=below.linked_from)
    kept = [b for b in below.breaks if b.found_at < since]
    assert sorted(kept + above.breaks) == whole.breaks
    assert above.linked_from == whole.linked_from


@settings(max_examples=1000)
@given(_stored, _stored, st.integers(0, 26), st.integers(0, 12))
def test_versions_that_arrived_late_are_judged_from_their_window_alone(
        stored, late, first, width):
    """What the server relies on when a late scan or a replay lands among
    scans judged before: judging its window (and the scan after it) again
    brings the stored verdict up to date, unless the late version holds a
    link below the first one known; then it says so."""
    last = first + width
    before = [Link(*row) for row in stored]
    added = [Link(*row) for row in late if first <= row[0] <= last]
    now = before + added
    window = [link for link in now if first - 1 <= link.seq <= last + 1]
    verdict = chain_breaks(before)
    found = rejudge(verdict.linked_from, window, first, last + 1)
    whole = chain_breaks(now)
    if found is None:
        assert any(link.prev is not None for link in added)
    else:
        kept = [b for b in verdict.breaks if not first <= b.found_at <= last + 1]
        assert sorted(kept + found) == whole.breaks
        assert verdict.linked_from == whole.linked_from


@given(_stored)
def test_a_break_survives_its_round_trip_through_storage(stored):
    for found in chain_breaks([Link(*row) for row in stored]).breaks:
        assert Break.from_dict(json.loads(json.dumps(found.as_dict()))) == found


def test_prev_is_read_from_the_top_level_of_the_stored_text_only():
    assert prev_of(canonical_json({"id": "x", "location": {"prev": "a" * 64}})) is None
    assert prev_of(canonical_json({"id": "x", "note": '"prev":"x"'})) is None
    assert prev_of(canonical_json({"id": "x", "prev": "a" * 64})) == "a" * 64
    assert prev_of(canonical_json([{"prev": "a" * 64}])) is None
    assert math.isnan(prev_of('{"prev":NaN}'))  # what json.loads reads, and orjson refuses
    assert prev_of('{"prev": broken') == '{"prev": broken'  # unreadable: malformed
