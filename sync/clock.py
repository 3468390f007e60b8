"""Clock offset between a device and the server, and correction of scan times."""
from __future__ import annotations

from datetime import datetime, timedelta

#: The server's default ``CLOCK_TOLERANCE_S`` (docs/sync-protocol.md, "Clock
#: offset"); a device judges a display code's window with it.
DEFAULT_CLOCK_TOLERANCE_S = 120


def clock_offset_s(received_at: datetime, sent_at: datetime | None) -> float:
    """Server receive time minus the device's ``sent_at``; 0 when it sent none."""
    if sent_at is None:
        return 0.0
    return round((received_at - sent_at).total_seconds(), 3)


def effective_time(occurred_at: datetime, offset_s: float,
                   tolerance_s: float) -> tuple[datetime, bool]:
    """The time a scan counts at, and whether it was corrected.

    Beyond the tolerance the device clock is taken to be wrong by the batch's
    offset, so every scan of the batch is shifted by it.
    """
    if abs(offset_s) > tolerance_s:
        return occurred_at + timedelta(seconds=offset_s), True
    return occurred_at, False
