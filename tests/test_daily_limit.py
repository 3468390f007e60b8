"""The daily limit on hours credited without review, as a pure function."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from sync.daily_limit import DaySession, over_daily_limit

T0 = datetime(2026, 11, 20, 0, 0, tzinfo=timezone.utc)
HOUR = 3600


def day(*spans):
    """``ok`` sessions from (start hour, hours) pairs, ids a, b, c... in that order."""
    return [DaySession(chr(ord("a") + n), T0 + timedelta(hours=start), hours * HOUR, None)
            for n, (start, hours) in enumerate(spans)]


def test_the_session_that_passes_the_limit_and_every_later_one_wait():
    assert over_daily_limit(day((1, 3), (5, 6), (12, 2)), 8 * HOUR) == {"b", "c"}


def test_exactly_the_limit_is_credited():
    assert over_daily_limit(day((1, 4), (6, 4)), 8 * HOUR) == set()


def test_sessions_that_wait_anyway_count_nothing_and_are_not_marked():
    too_long = DaySession("z", T0 + timedelta(hours=8), 0, None)
    assert over_daily_limit(day((1, 7), (9, 3)) + [too_long], 8 * HOUR) == {"b"}


def test_reviewed_hours_count_towards_the_day_but_are_not_marked():
    approved = DaySession("r", T0, 0, 9 * HOUR)
    rejected = DaySession("x", T0 + timedelta(hours=10), 0, 0)
    assert over_daily_limit([approved, rejected] + day((12, 1)), 8 * HOUR) == {"a"}


def test_zero_turns_the_limit_off():
    assert over_daily_limit(day((0, 12), (13, 10)), 0) == set()


@given(st.lists(st.tuples(st.integers(0, 20), st.integers(1, 4)), max_size=6), st.randoms())
def test_the_order_sessions_come_in_does_not_matter(spans, rnd):
    sessions = day(*spans)
    shuffled = sessions[:]
    rnd.shuffle(shuffled)
    assert over_daily_limit(shuffled, 8 * HOUR) == over_daily_limit(sessions, 8 * HOUR)


def test_a_fourth_pair_of_one_activity_in_a_day_waits():
    sessions = [s._replace(activity="A") for s in day((8, 0.25), (9, 0.25), (10, 0.25),
                                                      (11, 0.25))]
    other = DaySession("o", T0 + timedelta(hours=12), 900, None, "B")
    assert over_daily_limit(sessions + [other], 8 * HOUR, 3) == {"d"}
    assert over_daily_limit(sessions, 8 * HOUR, 0) == set()


def test_reviewed_pairs_of_the_activity_count_rejected_ones_do_not():
    approved = DaySession("r", T0, 0, 900, "A")
    rejected = DaySession("x", T0 + timedelta(minutes=30), 0, 0, "A")
    later = [s._replace(activity="A") for s in day((8, 0.25), (9, 0.25), (10, 0.25))]
    assert over_daily_limit([approved, rejected] + later, 8 * HOUR, 3) == {"c"}
