"""The pure pairing core: rules by example, and invariants by property."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from sync.pairing import EventRecord, PairingRules, pair_events

T0 = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)


def ev(id, kind, minute, station="S", flags=()):
    return EventRecord(id=id, type=kind, station=station,
                       effective_at=T0 + timedelta(minutes=minute), flags=frozenset(flags))


def summary(sessions):
    return [(s.key_event_id, s.status, s.checkin_id, s.checkout_id) for s in sessions]


def test_check_in_then_check_out_at_the_same_station_is_ok():
    [s] = pair_events([ev("a", "check_in", 0), ev("b", "check_out", 90)])
    assert (s.status, s.length_seconds) == ("ok", 5400)


def test_repeat_check_in_within_the_window_is_ignored_and_flagged():
    sessions = pair_events([ev("a", "check_in", 0), ev("b", "check_in", 5),
                            ev("c", "check_out", 60)])
    assert summary(sessions) == [("a", "ok", "a", "c")]
    assert sessions[0].repeat_ids == ["b"]


def test_check_in_after_the_window_closes_the_first_as_missing_checkout():
    sessions = pair_events([ev("a", "check_in", 0), ev("b", "check_in", 11),
                            ev("c", "check_out", 60)])
    assert summary(sessions) == [("a", "missing_checkout", "a", None), ("b", "ok", "b", "c")]


def test_check_out_at_another_station_leaves_a_missing_checkout_and_an_orphan():
    sessions = pair_events([ev("a", "check_in", 0), ev("b", "check_out", 60, station="T")])
    assert summary(sessions) == [("a", "missing_checkout", "a", None),
                                 ("b", "orphan_checkout", None, "b")]


def test_repeat_check_out_within_the_window_is_ignored():
    sessions = pair_events([ev("a", "check_in", 0), ev("b", "check_out", 60),
                            ev("c", "check_out", 65)])
    assert summary(sessions) == [("a", "ok", "a", "b")]


def test_check_out_with_nothing_open_is_an_orphan():
    assert summary(pair_events([ev("a", "check_out", 0)])) == [
        ("a", "orphan_checkout", None, "a")]


def test_longer_than_the_maximum_is_too_long():
    [s] = pair_events([ev("a", "check_in", 0), ev("b", "check_out", 13 * 60)])
    assert s.status == "too_long"


def test_a_flagged_event_sends_an_ok_session_to_review():
    [s] = pair_events([ev("a", "check_in", 0, flags={"revoked_qr"}), ev("b", "check_out", 60)])
    assert s.status == "needs_review" and "revoked_qr" in s.flags


def test_a_retroactive_entry_is_reviewed_even_when_scans_close_it():
    """An entered check-in closed by a real scan still waits for review."""
    [s] = pair_events([ev("a", "check_in", 0, flags={"retroactive"}), ev("b", "check_out", 60)])
    assert s.status == "needs_review" and s.flags == {"retroactive"}


def test_last_check_in_stays_open():
    assert pair_events([ev("a", "check_in", 0)])[0].status == "open"


def test_ties_are_broken_by_id():
    sessions = pair_events([ev("b", "check_out", 0), ev("a", "check_in", 0)])
    assert summary(sessions) == [("a", "ok", "a", "b")]


# -- properties -------------------------------------------------------------------------

events_strategy = st.lists(
    st.builds(lambda i, kind, minute, station, flag: ev(
        f"e{i:04d}", kind, minute, station, {"clock_corrected"} if flag else ()),
        st.integers(0, 9999), st.sampled_from(["check_in", "check_out"]),
        st.integers(0, 3 * 24 * 60), st.sampled_from(["S", "T"]), st.booleans()),
    max_size=40, unique_by=lambda e: e.id)


def canonical(sessions):
    return [(s.key_event_id, s.status, s.start_at, s.end_at, s.checkin_id, s.checkout_id,
             s.flags, tuple(s.repeat_ids)) for s in sessions]


@settings(max_examples=300, deadline=None)
@given(events_strategy, st.randoms())
def test_any_permutation_gives_identical_sessions(events, rnd):
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert canonical(pair_events(shuffled)) == canonical(pair_events(events))


@settings(max_examples=300, deadline=None)
@given(events_strategy, st.randoms())
def test_replaying_any_subset_changes_nothing(events, rnd):
    """A replay delivers events already held; the server keeps a set by id."""
    replayed = [e for e in events if rnd.random() < 0.5]
    held = {e.id: e for e in [*events, *replayed]}
    assert canonical(pair_events(held.values())) == canonical(pair_events(events))


@settings(max_examples=300, deadline=None)
@given(events_strategy, st.integers(0, 10))
def test_every_event_lands_in_exactly_one_session(events, _):
    sessions = pair_events(events)
    placed = [i for s in sessions for i in (s.checkin_id, s.checkout_id, *s.repeat_ids) if i]
    assert sorted(placed) == sorted(e.id for e in events)


@settings(max_examples=200, deadline=None)
@given(events_strategy, st.integers(0, 40))
def test_restarting_from_a_session_start_gives_the_same_tail(events, cut):
    """What the server relies on to re-pair only the tail after a push."""
    full = pair_events(events)
    if not full:
        return
    anchor = full[min(cut, len(full) - 1)]
    key = (anchor.key_at, anchor.key_event_id)
    tail = [e for e in events if (e.effective_at, e.id) >= key]
    expected = [s for s in full if (s.key_at, s.key_event_id) >= key]
    assert canonical(pair_events(tail)) == canonical(expected)


@settings(max_examples=300, deadline=None)
@given(events_strategy, events_strategy)
def test_after_added_events_pairings_agree_from_any_session_both_start(events, added):
    """What lets the server stop re-pairing where the new pairing meets the
    stored one: past the added events, a session both pairings start with
    the same event begins the same sessions in both."""
    held = {e.id for e in events}
    added = [e for e in added if e.id not in held]
    if not added:
        return
    latest = max((e.effective_at, e.id) for e in added)
    before = pair_events(events)
    after = pair_events([*events, *added])
    started_after = {s.key_event_id for s in after}
    for meeting in before:
        key = (meeting.key_at, meeting.key_event_id)
        if key > latest and meeting.key_event_id in started_after:
            assert (canonical([s for s in after if (s.key_at, s.key_event_id) >= key])
                    == canonical([s for s in before if (s.key_at, s.key_event_id) >= key]))


def test_rules_are_configurable():
    rules = PairingRules(debounce=timedelta(minutes=1), max_length=timedelta(hours=1))
    sessions = pair_events([ev("a", "check_in", 0), ev("b", "check_in", 2),
                            ev("c", "check_out", 100)], rules)
    assert [s.status for s in sessions] == ["missing_checkout", "too_long"]
