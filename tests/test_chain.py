"""The hash chain (sync/chain.py): a pinned canonical form, and a check that
names the place of every change, removal and insertion."""
from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.chain import Link, canonical_bytes, canonical_time, check_chain, link_hash


def test_the_canonical_form_is_pinned():
    """Every stored chain depends on these bytes: a change here breaks them all."""
    fields = {"seq": 1, "at": "2026-12-04T02:00:02.000000Z", "actor": "user:张三",
              "changes": {"name": ["旧", "新"], "latitude": [22.5, 22.5562]}, "reason": None}
    expected = ('[null,{"actor":"user:张三","at":"2026-12-04T02:00:02.000000Z",'
                '"changes":{"latitude":[22.5,22.5562],"name":["旧","新"]},'
                '"reason":null,"seq":1}]').encode()
    assert canonical_bytes([None, fields]) == expected
    assert link_hash(None, fields) == hashlib.sha256(expected).hexdigest()
    assert link_hash(None, fields) == \
        "6e5bcf2033a788286de7bc6977fc6bc613f437976131e3a8d4d39485aaac3d8c"
    second = link_hash(link_hash(None, fields), {"seq": 2})
    assert second == hashlib.sha256(
        f'["{link_hash(None, fields)}",{{"seq":2}}]'.encode()).hexdigest()


def test_null_empty_and_missing_are_different_links():
    assert len({link_hash(None, {"reason": None}), link_hash(None, {"reason": ""}),
                link_hash(None, {}), link_hash("", {"reason": None})}) == 4


def test_a_lone_surrogate_has_a_hash():
    assert len(link_hash(None, {"changes": {"name": ["\ud800", "x"]}})) == 64


def test_times_are_fixed_width_utc():
    shanghai = timezone(timedelta(hours=8))
    assert canonical_time(datetime(2026, 12, 4, 10, 0, 2, tzinfo=shanghai)) == \
        "2026-12-04T02:00:02.000000Z"
    assert canonical_time(datetime(2026, 12, 4, 2, 0, 2, 7, tzinfo=timezone.utc)) == \
        "2026-12-04T02:00:02.000007Z"
    with pytest.raises(ValueError):
        canonical_time(datetime(2026, 12, 4))


# -- checking ---------------------------------------------------------------------------

_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=6),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=4), children, max_size=3), max_leaves=6)


def _chain(values: list, start: str | None = None, first: int = 1) -> list[Link]:
    links, previous = [], start
    for offset, value in enumerate(values):
        position = first + offset
        fields = {"seq": position, "value": value}
        entry_hash = link_hash(previous, fields)
        links.append(Link(position, previous, entry_hash, fields, ref=f"id {position + 100}"))
        previous = entry_hash
    return links


def _sealed(position: int, previous: str | None, value) -> Link:
    fields = {"seq": position, "value": value}
    return Link(position, previous, link_hash(previous, fields), fields)


def _renumbered(links: list[Link], by: int) -> list[Link]:
    """As ``UPDATE ... SET seq = seq + by`` leaves them: hashes as they were."""
    return [replace(link, position=link.position + by,
                    fields={**link.fields, "seq": link.position + by}) for link in links]


def _kinds(breaks) -> list[tuple[str, int, int]]:
    return [(found.kind, found.first, found.last) for found in breaks]


chains = st.lists(_values, min_size=1, max_size=25).map(_chain)


@settings(max_examples=150)
@given(chains)
def test_an_untouched_chain_is_intact(links):
    assert check_chain(links) == (len(links), [])


@settings(max_examples=150)
@given(chains, st.data())
def test_a_changed_entry_is_named(links, data):
    k = data.draw(st.integers(0, len(links) - 1))
    changed = replace(links[k], fields={**links[k].fields, "value": ["changed"]})
    _, breaks = check_chain(links[:k] + [changed] + links[k + 1:])
    assert _kinds(breaks) == [("changed", k + 1, k + 1)]
    assert breaks[0].describe().startswith(f"seq {k + 1} (id {k + 101}): changed: ")


@settings(max_examples=100)
@given(st.lists(_values, min_size=3, max_size=25).map(_chain), st.data())
def test_consecutive_changes_are_one_break(links, data):
    k = data.draw(st.integers(0, len(links) - 2))
    n = data.draw(st.integers(2, len(links) - k))
    touched = [replace(link, fields={**link.fields, "value": "x" * 7}) for link in links[k:k + n]]
    _, breaks = check_chain(links[:k] + touched + links[k + n:])
    assert _kinds(breaks) == [("changed", k + 1, k + n)]
    assert breaks[0].describe().startswith(f"seq {k + 1}-{k + n}: changed: ")


@settings(max_examples=150)
@given(st.lists(_values, min_size=2, max_size=25).map(_chain), st.data())
def test_a_removed_entry_is_named(links, data):
    k = data.draw(st.integers(0, len(links) - 2))  # the newest: only an anchor shows it
    _, breaks = check_chain(links[:k] + links[k + 1:])
    assert _kinds(breaks) == [("removed", k + 1, k + 1)]


@settings(max_examples=150)
@given(st.lists(_values, min_size=2, max_size=25).map(_chain), st.data())
def test_a_removal_hidden_by_renumbering_is_named_where_it_was(links, data):
    k = data.draw(st.integers(0, len(links) - 2))
    _, breaks = check_chain(links[:k] + _renumbered(links[k + 1:], -1))
    assert _kinds(breaks)[0] == ("replaced", k + 1, k + 1)
    assert _kinds(breaks)[1:] == ([("changed", k + 2, len(links) - 1)]
                                  if k + 2 < len(links) else [])


@settings(max_examples=150)
@given(chains, _values)
def test_an_entry_added_with_made_up_hashes_is_named(links, value):
    n = len(links)
    forged = Link(n + 1, "0" * 64, "f" * 64, {"seq": n + 1, "value": value})
    assert _kinds(check_chain(links + [forged])[1]) == [("replaced", n + 1, n + 1)]


@settings(max_examples=150)
@given(st.lists(_values, min_size=2, max_size=25).map(_chain), st.data(), _values)
def test_an_entry_slipped_in_between_is_named(links, data, value):
    """Someone renumbers the entries after k and puts a well-made entry at k:
    the entry after it still chains to the one before (and no longer matches
    its own hash, its position having changed)."""
    k = data.draw(st.integers(1, len(links) - 1))
    intruder = _sealed(k + 1, links[k - 1].entry_hash, value)
    _, breaks = check_chain(links[:k] + [intruder] + _renumbered(links[k:], 1))
    assert _kinds(breaks) == [("inserted", k + 1, k + 1),
                              ("changed", k + 2, len(links) + 1)]


@settings(max_examples=100)
@given(st.lists(_values, min_size=2, max_size=25).map(_chain), st.data())
def test_an_entry_rewritten_with_a_new_hash_breaks_the_link_after_it(links, data):
    k = data.draw(st.integers(0, len(links) - 2))
    rewritten = _sealed(k + 1, links[k].previous_hash, "rewritten")
    _, breaks = check_chain(links[:k] + [rewritten] + links[k + 1:])
    assert _kinds(breaks) == [("relinked", k + 2, k + 2)]
    assert f"does not chain to seq {k + 1}" in breaks[0].detail


@settings(max_examples=100)
@given(chains, st.data())
def test_a_chain_rewritten_to_its_end_is_found_only_by_an_anchor(links, data):
    k = data.draw(st.integers(0, len(links) - 1))
    anchor = data.draw(st.integers(1, len(links)))
    values = [link.fields["value"] for link in links]
    values[k] = "rewritten"
    start = links[k - 1].entry_hash if k else None
    forged = links[:k] + _chain(values[k:], start, first=k + 1)
    assert check_chain(forged) == (len(links), [])
    anchors = {anchor: links[anchor - 1].entry_hash}
    _, breaks = check_chain(forged, anchors=anchors)
    assert _kinds(breaks) == ([("anchor", anchor, anchor)] if anchor > k else [])


@settings(max_examples=100)
@given(chains)
def test_removing_the_newest_entries_is_found_only_by_an_anchor(links):
    n = len(links)
    anchors = {n: links[-1].entry_hash}
    assert check_chain(links[:-1]) == (n - 1, [])
    _, breaks = check_chain(links[:-1], anchors=anchors)
    assert _kinds(breaks) == [("anchor", n, n)]
    assert "no such entry" in breaks[0].detail
    assert check_chain(links, anchors=anchors) == (n, [])
