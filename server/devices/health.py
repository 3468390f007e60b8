"""What administrators read of a device's health beyond its own report:
the scans its numbering says it made but the server never received."""
from __future__ import annotations

from datetime import timedelta
from itertools import groupby
from typing import NamedTuple

from sqlalchemy import select

from server.checkins.models import DeviceSeqRange
from server.extensions import db
from sync.seqranges import missing_since_first

#: A device that has not pushed for longer than this is silent: the
#: dashboard lists it, and a report of a period still running counts it
#: as behind (docs/sync-protocol.md, "Reports: how final the figures are").
SILENT_AFTER = timedelta(days=3)


class MissingScans(NamedTuple):
    count: int
    #: Inclusive ``[low, high]`` ranges, as a push answers ``missing_seq``.
    ranges: list[list[int]]


def missing_scans(device_ids: list[int]) -> dict[int, MissingScans]:
    """Per device, the ``seq`` numbers never received; one query for the
    lot. A device's runs are a few rows whatever its history, merged as
    batches arrive."""
    rows = db.session.execute(
        select(DeviceSeqRange.device_id, DeviceSeqRange.low, DeviceSeqRange.high)
        .where(DeviceSeqRange.device_id.in_(device_ids))
        .order_by(DeviceSeqRange.device_id, DeviceSeqRange.low)).all()
    missing = {device_id: MissingScans(0, []) for device_id in device_ids}
    for device_id, runs in groupby(rows, key=lambda row: row.device_id):
        ranges = missing_since_first([(r.low, r.high) for r in runs])
        missing[device_id] = MissingScans(sum(high - low + 1 for low, high in ranges), ranges)
    return missing
