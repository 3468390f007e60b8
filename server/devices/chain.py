"""A device's scan chain, verified from what is stored (sync/event_chain.py).

A push writes nothing for it: every version of every scan that reached the
server is kept as sent, with its ``seq`` and content hash, in checkin_event
(accepted) or quarantined_event (waiting, conflicting, resolved or
dismissed). A check reads them in seq order (checkin_event through its
``(device_id, seq)`` index, the quarantine through its ``device_id`` one)
and keeps what it judged (device_chain_check: how far, how many versions
per block; device_chain_break: the breaks), so the next check reads
only what came after:

1. the stored verdict: judged through ``through_seq``;
2. how many versions are stored numbered up to ``through_seq`` (one count
   over the index) and, only when that changed, how many each block of
   ``BLOCK`` numbers holds; a block whose count changed (a late scan, a
   replay, a conflicting resend: rows are only ever added) is judged
   again, with the number after it (``sync.event_chain.rejudge``), or,
   when a late version holds a link below the first one known, everything
   from that block on;
3. the versions after ``through_seq``, at most ``MAX_ROWS`` a round,
   judged, and the verdict stored.

What this trusts: a stored row is never changed in place (server/checkins/
models.py), so a block whose count did not change is not read again.
``verify_chain(device, from_scratch=True)`` (``flask --app server
device-chain --from-scratch``) reads everything again and trusts nothing
stored.

A version an administrator corrected in the quarantine and replayed
(server/checkins/reprocess.py) is not the device's: its original stays in
the quarantine and is the one the chain judges; the correction is on the
audit trail.
"""
from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import delete, exists, func, insert, literal, select, union_all
from sqlalchemy.dialects import postgresql, sqlite

from server.checkins.models import CheckinEvent, QuarantinedEvent
from server.common.transactions import only_reads
from server.database_faults import driver_error_classes, fault_code
from server.db_types import utcnow
from server.devices.models import Device, DeviceChainBreak, DeviceChainCheck
from server.extensions import db
from sync.event_chain import Break, Link, chain_breaks, prev_of, rejudge

log = logging.getLogger(__name__)

#: Numbers per counted block: a late scan makes a check judge its block
#: again (docs/benchmarks.md, "Scan chains").
BLOCK = 1024
#: Versions read per round (about 0.05–0.1 s of work: docs/benchmarks.md).
MAX_ROWS = 5_000
#: A check of a device's page goes on reading rounds for this long at most;
#: what is left is judged at the next check.
TIME_BUDGET_S = 0.5
_TABLES = (CheckinEvent.__table__, QuarantinedEvent.__table__)


@dataclass
class ChainReport:
    #: Every scan numbered up to this one has been judged (None: the device
    #: has sent no numbered scan).
    verified_through_seq: int | None = None
    #: The lowest scan number that carried a link (None: the device does not
    #: link its scans, as older apps do not).
    linked_from_seq: int | None = None
    #: The first breaks in seq order (all of them, or as many as asked for).
    breaks: list[Break] = field(default_factory=list)
    break_count: int = 0
    #: False when scans numbered after verified_through_seq are stored but
    #: not judged yet (the next check goes on).
    complete: bool = True

    def as_dict(self) -> dict:
        return {"verified_through_seq": self.verified_through_seq,
                "linked_from_seq": self.linked_from_seq, "complete": self.complete,
                "break_count": self.break_count, "breaks": [b.as_dict() for b in self.breaks]}


@dataclass
class _State:
    through: int
    linked_from: int | None
    counts: dict[int, int]
    #: ``(first, last, breaks)``: the breaks found at first..last, which
    #: replace those stored there.
    judged: list[tuple[int, int, list[Break]]] = field(default_factory=list)


def verify_chain(device: Device, *, from_scratch: bool = False, to_the_end: bool = False,
                 shown: int | None = 1000) -> ChainReport:
    """Judge what arrived since the last check and return the whole verdict.

    :param from_scratch: forget the stored verdict and read everything again.
    :param to_the_end: read every round, whatever the time it takes (else no
        new round starts after ``TIME_BUDGET_S``).
    :param shown: how many breaks the report lists (None: all); it counts all.
    """
    started = time.monotonic()
    row = None if from_scratch else db.session.get(DeviceChainCheck, device.id)
    state = _State(-1, None, {})
    if row is not None:
        state = _State(row.through_seq, row.linked_from,
                       {int(k): v for k, v in json.loads(row.row_counts).items()})
        for first, last in _changed_windows(device.id, state):
            if not _rejudge_window(device.id, state, first, last):
                _forget_from(state, first)
                break
    complete = True
    while True:
        since = state.through + 1
        upto = _round_end(device.id, since)
        rows = _read(device.id, since, upto)
        judged = [row[0] for row in rows if row[0] >= since]
        if not judged:
            break
        verdict = chain_breaks(_links(rows), since=since, linked_from=state.linked_from)
        state.through, state.linked_from = max(judged), verdict.linked_from
        state.judged.append((since, state.through, verdict.breaks))
        _count(state, judged)
        complete = upto is None
        if complete or (not to_the_end and time.monotonic() - started > TIME_BUDGET_S):
            break
    if state.through < 0:
        return ChainReport()
    if row is not None and not state.judged and state.through == row.through_seq:
        return _report(db.session.connection(), device.id, state, complete, shown)
    return _store(device.id, state, complete, shown, row)


def _changed_windows(device_id: int, state: _State) -> list[tuple[int, int]]:
    """``(first, last)`` numbers of each run of blocks, up to ``through``,
    whose count of stored versions changed since the verdict. One count of
    the device's versions up to ``through`` says whether any did (a few
    milliseconds at 100,000: docs/benchmarks.md); only then are they
    counted block by block."""
    if _scalar(total_query(device_id, state.through)) == sum(state.counts.values()):
        return []
    now: dict[int, int] = {}
    for block, n in db.session.connection().execute(counts_query(device_id, state.through)):
        now[int(block)] = now.get(int(block), 0) + n
    changed = sorted(b for b in now.keys() | state.counts.keys()
                     if now.get(b, 0) != state.counts.get(b, 0))
    windows: list[tuple[int, int]] = []
    for block in changed:
        last = min((block + 1) * BLOCK - 1, state.through)
        if windows and windows[-1][1] + 1 == block * BLOCK:
            windows[-1] = (windows[-1][0], last)
        else:
            windows.append((block * BLOCK, last))
    return windows


def _rejudge_window(device_id: int, state: _State, first: int, last: int) -> bool:
    """Judge the numbers ``first`` to ``last`` again, and the one after (its
    link names ``last``); False when that cannot be done alone (rejudge)."""
    upto = min(last + 1, state.through)
    rows = _read(device_id, first, upto)
    found = rejudge(state.linked_from, _links(rows), first, upto)
    if found is None:
        return False
    state.judged.append((first, upto, found))
    state.counts = {b: n for b, n in state.counts.items() if not first <= b * BLOCK <= last}
    _count(state, [row[0] for row in rows if first <= row[0] <= last])
    return True


def _forget_from(state: _State, first: int) -> None:
    """Judge everything from ``first`` on again: forget what depends on it
    (its breaks go when the verdict is kept: none is kept past through)."""
    state.through = first - 1
    state.counts = {b: n for b, n in state.counts.items() if b * BLOCK < first}
    state.judged = [(a, min(b, first - 1), [x for x in found if x.found_at < first])
                    for a, b, found in state.judged if a < first]
    if state.linked_from is not None and state.linked_from >= first:
        state.linked_from = None


def _count(state: _State, seqs: list[int]) -> None:
    for block, n in Counter(seq // BLOCK for seq in seqs).items():
        state.counts[block] = state.counts.get(block, 0) + n


def _links(rows) -> list[Link]:
    return [Link(seq, hash_, prev_of(raw)) for seq, hash_, raw, repaired in rows
            if not repaired and hash_ is not None]


def _scalar(statement):
    return db.session.connection().execute(statement).scalar()


def total_query(device_id: int, through: int):
    """How many versions the device has stored numbered up to ``through``,
    both tables: an index-only range of checkin_event's (device_id, seq)."""
    counts = [select(func.count().label("n")).where(t.c.device_id == device_id,
                                                    t.c.seq <= through) for t in _TABLES]
    return select(func.sum(union_all(*counts).subquery().c.n))


def counts_query(device_id: int, through: int):
    """Versions per block up to ``through``: an index-only range of
    checkin_event's (device_id, seq), and the device's quarantined rows
    (tests/test_query_plans.py)."""
    parts = []
    for table in _TABLES:
        block = (table.c.seq // BLOCK).label("block")
        parts.append(select(block, func.count().label("n"))
                     .where(table.c.device_id == device_id, table.c.seq <= through)
                     .group_by(block))
    return union_all(*parts)


def end_query(table, device_id: int, since: int, max_rows: int):
    """The number at which ``max_rows`` of ``table``'s versions from ``since`` end."""
    return (select(table.c.seq).where(table.c.device_id == device_id, table.c.seq >= since)
            .order_by(table.c.seq).offset(max_rows - 1).limit(1))


def rows_query(device_id: int, since: int, upto: int | None):
    """``(seq, content_hash, raw, repaired)`` of the versions numbered
    ``since - 1`` to ``upto``, both tables. ``repaired``: an accepted version
    that is an administrator's correction of a quarantined one."""
    accepted, waiting = _TABLES
    # Probed by event id. The status is wrapped so that no planner probes its
    # index instead (SQLite without statistics, and PostgreSQL, did: every
    # resolved entry of every device, for each row read).
    repaired = exists().where(waiting.c.event_id == accepted.c.event_id,
                              func.coalesce(waiting.c.status, "") == "resolved",
                              waiting.c.content_hash != accepted.c.content_hash)
    parts = [select(accepted.c.seq, accepted.c.content_hash, accepted.c.raw,
                    repaired.label("repaired")),
             select(waiting.c.seq, waiting.c.content_hash, waiting.c.raw,
                    literal(False).label("repaired"))]
    for i, table in enumerate(_TABLES):
        parts[i] = parts[i].where(table.c.device_id == device_id, table.c.seq >= since - 1)
        if upto is not None:
            parts[i] = parts[i].where(table.c.seq <= upto)
    return union_all(*parts)


def _round_end(device_id: int, since: int) -> int | None:
    """Where a round from ``since`` ends: the number at which ``MAX_ROWS``
    versions of either table end (all of its versions are read: a number
    never splits), read from the indexes; None when fewer remain."""
    ends = [_scalar(end_query(t, device_id, since, MAX_ROWS)) for t in _TABLES]
    return min((end for end in ends if end is not None), default=None)


def _read(device_id: int, since: int, upto: int | None) -> list:
    """Every stored version numbered ``since - 1`` to ``upto`` (None: on), as
    ``(seq, content_hash, raw, repaired)`` rows."""
    return db.session.connection().execute(rows_query(device_id, since, upto)).all()


def _store(device_id: int, state: _State, complete: bool, shown: int | None,
           row: DeviceChainCheck | None) -> ChainReport:
    """Keep the verdict and report it: with the caller's transaction, or,
    when that one only reads, in a transaction of its own that writes first.

    A check runs in GET requests, whose SQLite transactions begin deferred
    and only read (server/common/transactions.py): one that read and then
    wrote would fail at once when a push had committed in between, while a
    transaction whose first statement writes waits for the lock. (Any other
    caller holds SQLite's lock from its start and commits itself.) When the
    database will not take it, the verdict stored before is reported, and
    what is new judged again next time."""
    if not only_reads():
        return _write(db.session.connection(), device_id, state, complete, shown)
    try:
        with db.engine.begin() as connection:
            report = _write(connection, device_id, state, complete, shown)
            if connection.dialect.name == "postgresql":
                # Derived, and judged again if lost: no need to wait for the disk.
                connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
            return report
    except tuple(driver_error_classes()) as error:
        if fault_code(error) is None:
            raise
        log.warning("a device's chain verdict was not kept (%s); it is judged again next time",
                    fault_code(error))
    if row is None:
        return ChainReport(complete=False)
    before = _State(row.through_seq, row.linked_from, {})
    return _report(db.session.connection(), device_id, before, False, shown)


def _write(connection, device_id: int, state: _State, complete: bool,
           shown: int | None) -> ChainReport:
    """The check's row first (which also makes concurrent checks of one
    device keep theirs one after the other), then its breaks: those found
    in each judged range replace the ones stored there, and none is kept
    past through_seq."""
    values = {"device_id": device_id, "through_seq": state.through,
              "linked_from": state.linked_from,
              "row_counts": json.dumps({str(b): n for b, n in sorted(state.counts.items())}),
              "checked_at": utcnow()}
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(DeviceChainCheck.__table__).values(values)
    connection.execute(statement.on_conflict_do_update(
        index_elements=["device_id"],
        set_={name: statement.excluded[name] for name in values if name != "device_id"}))
    table = DeviceChainBreak.__table__
    mine = table.c.device_id == device_id
    for first, last, found in state.judged:
        connection.execute(delete(table).where(
            mine, table.c.seq.between(first - 1, last), table.c.found_at.between(first, last)))
        if found:
            connection.execute(insert(table), [_break_row(device_id, b) for b in found])
    connection.execute(delete(table).where(mine, table.c.seq >= state.through,
                                           table.c.found_at > state.through))
    return _report(connection, device_id, state, complete, shown)


def _report(connection, device_id: int, state: _State, complete: bool,
            shown: int | None) -> ChainReport:
    table = DeviceChainBreak.__table__
    mine = table.c.device_id == device_id
    count = connection.execute(select(func.count()).where(mine)).scalar()
    listed = connection.execute(
        select(table.c.seq, table.c.kind, table.c.found_at, table.c.expected, table.c.stored)
        .where(mine).order_by(table.c.seq, table.c.kind, table.c.id).limit(shown)).all()
    breaks = [Break(seq, kind, found_at, expected, tuple(json.loads(stored)) if stored else ())
              for seq, kind, found_at, expected, stored in listed]
    return ChainReport(state.through, state.linked_from, breaks, count, complete)


def _break_row(device_id: int, found: Break) -> dict:
    return {"device_id": device_id, "seq": found.seq, "kind": found.kind,
            "found_at": found.found_at, "expected": found.expected,
            "stored": json.dumps(list(found.stored)) if found.stored else None}
