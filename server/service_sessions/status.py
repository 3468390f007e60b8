"""A session's status after review, and the seconds it counts for."""
from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sync.pairing import CREDITED_STATUSES, NEEDS_REVIEW, OK, PENDING_STATUSES

APPROVED, REJECTED, AMENDED = "approved", "rejected", "amended"


def counts(status: str) -> bool:
    """Whether a session of this status counts in the figures (its credited
    and pending hours, and as a session and a person): every one but a
    rejected one. The one rule; as SQL it is ``ServiceSession.counted()``,
    and the totals' triggers say it in server/totals/rules.py."""
    return status != REJECTED


class Judged(NamedTuple):
    status: str
    start_at: datetime | None
    end_at: datetime | None
    review_stale: bool
    credited_seconds: int
    pending_seconds: int
    #: Of the credited seconds, those a reviewer's decision credits (not
    #: entered afterwards), and those of an entry made afterwards (补录).
    reviewed_seconds: int = 0
    entered_seconds: int = 0


def judge(derived_status: str, derived_start: datetime | None, derived_end: datetime | None,
          review, held: bool = False, entered: bool = False) -> Judged:
    """Combine what pairing derived with the latest review, if it still applies.

    A review applies while the derived times are those the reviewer saw; when
    late events change them, the session goes back to its derived status
    (and so to the review queue) with ``review_stale`` set. An ``ok``
    session ``held`` for another reason (past the limits of its day, or of a
    person with no branch that day; docs/pairing.md) waits for review as
    ``needs_review``.

    Credited seconds are split by what credits them (docs/trust.md): the
    scans alone (``ok``), a reviewer's decision, or, for a session
    ``entered`` afterwards (补录), that entry and its approval.
    """
    if held and derived_status == OK:
        derived_status = NEEDS_REVIEW
    status, start, end, stale = derived_status, derived_start, derived_end, False
    if review is not None:
        if (review.based_on_start_at, review.based_on_end_at) == (derived_start, derived_end):
            status = review.decision
            if review.decision == AMENDED:
                start, end = review.amended_start_at, review.amended_end_at
        else:
            stale = True
    length = max(int((end - start).total_seconds()), 0) if start and end else 0
    credited = length if status in CREDITED_STATUSES or status in (APPROVED, AMENDED) else 0
    pending = length if status in PENDING_STATUSES else 0
    by_reviewer = credited if status in (APPROVED, AMENDED) else 0
    return Judged(status, start, end, stale, credited, pending,
                  0 if entered else by_reviewer, by_reviewer if entered else 0)


def credited_by(credited: int, reviewed: int, entered: int) -> dict:
    """Credited seconds split by what credits them (docs/trust.md): the
    scans alone (``proven``), a reviewer (``reviewed``), an entry made
    afterwards (``entered``); the three add up to ``credited``."""
    return {"proven": credited - reviewed - entered, "reviewed": reviewed, "entered": entered}
