"""What a push's health report says the device still holds once the batch
is answered (docs/sync-protocol.md, "Device health").

A device counts its queue when it builds the request, so ``queue_length``
and ``oldest_queued_at`` include the events of the batch that carries them
(the reference client counts so, and the contract's own example reads so;
the check-in page sends its batch's size, at most 500, which is right
unless more than 500 scans wait: see docs/sync-protocol.md). Every event
of a batch gets a final status, after which the device drops it, so the
device holds ``queue_length`` minus the batch's events afterwards. A
client that knows exactly what stays may say so in the optional
``queue_length_after`` and ``oldest_queued_after_at`` (the reference client
does); they win when given. Pure, like the rest of ``sync/``.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import NamedTuple

from sync.timeutil import parse_rfc3339

#: A count no device can hold (the server keeps 32 bits) is not kept.
MAX_QUEUE_LENGTH = 2**31 - 1


class QueueAfter(NamedTuple):
    """The device's queue once the batch is answered."""

    length: int
    #: The oldest scan still queued (exact, or a lower bound when the
    #: device gave only the figures that include the batch); None when
    #: nothing is left, or the device did not say.
    oldest: datetime | None
    #: Whether the report said anything about the oldest scan (if not, the
    #: server keeps what it knew).
    oldest_said: bool


def _count(value) -> int | None:
    return value if type(value) is int and 0 <= value <= MAX_QUEUE_LENGTH else None


def _oldest(length: int, health: dict, key: str) -> QueueAfter:
    """``length`` with the time under ``key``: null says none; text that is
    not a time says nothing, like a missing key."""
    if key not in health:
        return QueueAfter(length, None, False)
    if health[key] is None:
        return QueueAfter(length, None, True)
    try:
        # 0001-01-01T00:00:00+14:00 parses, but is no date in UTC.
        oldest = parse_rfc3339(health[key]).astimezone(timezone.utc)
    except (TypeError, ValueError, OverflowError):
        return QueueAfter(length, None, False)
    return QueueAfter(length, oldest, True)


def queue_after(health: dict, sent: int) -> QueueAfter | None:
    """The queue left on the device after a batch of ``sent`` events, from
    the batch's health report; None when the report gives no usable count.
    """
    after = _count(health.get("queue_length_after"))
    if after is not None:
        if after == 0:
            return QueueAfter(0, None, True)
        if "oldest_queued_after_at" in health:
            return _oldest(after, health, "oldest_queued_after_at")
        return _oldest(after, health, "oldest_queued_at")
    before = _count(health.get("queue_length"))
    if before is None:
        return None
    left = max(0, before - sent)
    if left == 0:
        return QueueAfter(0, None, True)
    # The oldest of the queue with the batch in it: no later than the
    # oldest of what is left, so "holds a scan from before X" errs on the
    # side of yes while the device works off a backlog.
    return _oldest(left, health, "oldest_queued_at")


def oldest_without_count(health: dict) -> QueueAfter | None:
    """A report that gives no usable count but says when the oldest queued
    scan was made (or that none is): that, with the count unknown (-1);
    None when it says nothing of it either."""
    left = _oldest(-1, health, "oldest_queued_at")
    return left if left.oldest_said else None
