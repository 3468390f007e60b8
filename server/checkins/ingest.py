"""``record_batch``: storing a pushed batch exactly once and answering per event.

Steps:
1. parse the envelope (400 when it is not a batch, 413 over the limits);
2. lock the device and record its health (the first write, which also
   serialises pushes from one device);
3. split events into duplicates, conflicts and new ones by id and content hash;
4. judge the new ones against reference data (accept or quarantine), and
   a personal phone's batch as a whole (``flag_backfilled_days``);
5. insert accepted rows so that a concurrent push of the same events stores
   each once (server/checkins/event_store.py);
6. merge the device's received seq runs and find the gaps;
7. queue the people the accepted events touch for re-pairing.
The boundary commits once, before the response is sent; the pairing worker
pairs the queued people (server/pairing/queue.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import insert
from sqlalchemy.orm.attributes import set_committed_value

from server.checkins.event_store import insert_events
from server.checkins.models import DeviceSeqRange, QuarantinedEvent
from server.checkins.resolve import load_context, resolve_event
from server.common.rawsql import RawSql, driver_values, write_rows
from server.common.text import storable
from server.db_types import utcnow
from server.devices.models import Device
from server.errors import AppError
from server.extensions import db
from server.pairing import queue as pairing_queue
from server.pairing.writer import Touched
from sync.clock import clock_offset_s
from sync.device_queue import oldest_without_count, queue_after
from sync.fraud import backfilled
from sync.protocol import (ACCEPTED, BACKFILLED_DAYS, CONFLICT, DUPLICATE, LONE_SURROGATE,
                           QUARANTINED, EventRejected, PushedEvent, event_id_of,
                           hash_text, parse_envelope, parse_event, stored_text)
from sync.seqranges import merge_runs, missing_since_first
from sync.timeutil import format_rfc3339

_CHUNK = 500


@dataclass
class _Item:
    index: int
    raw: object
    event_id: str | None
    hash: str
    seq: int | None
    #: Canonical JSON of the event: what is stored as ``raw`` and hashed.
    text: str = ""
    #: False when the text holds what cannot be stored (``stored_text``).
    whole: bool = True
    parsed: PushedEvent | None = None


@dataclass
class _Batch:
    device: Device
    batch_id: str
    received_at: datetime
    offset: float
    #: Rows for quarantined_event, inserted together at the end.
    quarantine_rows: list


def push_limits() -> dict:
    config = current_app.config
    return {"max_events": config["PUSH_MAX_EVENTS"], "max_bytes": config["PUSH_MAX_BYTES"]}


def record_batch(device: Device, body: bytes) -> dict:
    """Store a pushed batch and answer per event, in request order.

    :raise AppError: ``malformed_json`` / ``malformed_batch`` (400),
        ``batch_too_large`` (413).
    """
    received_at = utcnow()
    if len(body) > current_app.config["PUSH_MAX_BYTES"]:
        raise AppError("batch_too_large", "The batch has more bytes than allowed.", status=413,
                       limits=push_limits())
    try:
        # JSON between systems is UTF-8 (RFC 8259); json.loads would guess UTF-16 too.
        envelope = parse_envelope(json.loads(body.decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise AppError("malformed_json", "The body is not valid UTF-8 JSON.", status=400)
    except ValueError as error:
        raise AppError("malformed_batch", str(error), status=400)
    if len(envelope.events) > current_app.config["PUSH_MAX_EVENTS"]:
        raise AppError("batch_too_large", "The batch has more events than allowed.",
                       status=413, limits=push_limits())

    offset = clock_offset_s(received_at, envelope.sent_at)
    held_before = _lock_and_record_health(device, envelope.device_health,
                                          len(envelope.events), received_at, offset)

    items = [_item(i, raw) for i, raw in enumerate(envelope.events)]
    results: list[dict | None] = [None] * len(items)
    quarantine_rows: list[dict] = []
    batch = _Batch(device, envelope.batch_id, received_at, offset, quarantine_rows)
    fresh = _sort_out_known(items, results, batch)

    parsed = []
    for item in fresh:
        try:
            if not item.whole:
                raise EventRejected("malformed", LONE_SURROGATE)
            item.parsed = parse_event(item.raw)
            parsed.append(item)
        except EventRejected as rejected:
            quarantine_rows.append(_quarantine_row(device, envelope.batch_id, item, rejected,
                                                   received_at, offset))
            results[item.index] = _result(item, QUARANTINED, rejected)

    accepted_rows = []
    if parsed:
        ctx = load_context(device, [i.parsed for i in parsed], received_at, offset,
                           envelope.batch_id)
        for item in parsed:
            try:
                accepted_rows.append((item, resolve_event(item.parsed, item.text, item.hash, ctx)))
            except EventRejected as rejected:
                quarantine_rows.append(_quarantine_row(device, envelope.batch_id, item, rejected,
                                                       received_at, offset))
                results[item.index] = _result(item, QUARANTINED, rejected)

    flag_backfilled_days(device, [row for _, row in accepted_rows], received_at)
    inserted = insert_events([row for _, row in accepted_rows])
    raced = []
    for item, row in accepted_rows:
        if row["event_id"] in inserted:
            results[item.index] = {"id": item.event_id, "status": ACCEPTED}
        else:
            raced.append(item)
    if raced:
        # Another push stored these ids between our look-up and our insert.
        _sort_out_known(raced, results, batch)
    if quarantine_rows:
        db.session.connection().execute(insert(QuarantinedEvent.__table__), quarantine_rows)

    missing = _merge_seq_runs(device, [i.seq for i in items if i.seq is not None])
    pairing_queue.enqueue(
        _touched_per_person([row for _, row in accepted_rows if row["event_id"] in inserted]),
        device.id, received_at, _more_to_come(envelope.device_health, len(items)),
        may_hold=held_before)
    return {"server_time": format_rfc3339(received_at), "clock_offset_s": offset,
            "results": results, "missing_seq": missing}


def flag_backfilled_days(device: Device, rows: list[dict], received_at: datetime) -> None:
    """Flag ``backfilled_days`` on a personal phone's late scans (older than
    ``LATE_SCAN_REVIEW_DAYS`` on arrival) when this batch holds such scans
    of ``FRAUD_BACKFILL_DAYS`` distinct local dates or more: days of
    service written up at once, not scans queued by a phone that was
    offline for a day (sync/fraud.py). ``rows``: the batch's accepted
    rows, flagged in place before they are stored."""
    if device.person_id is None or not rows:
        return
    config = current_app.config
    late_after = timedelta(days=config["LATE_SCAN_REVIEW_DAYS"])
    if not backfilled((row["effective_at"] for row in rows), received_at, late_after,
                      config["FRAUD_BACKFILL_DAYS"]):
        return
    for row in rows:
        if received_at - row["effective_at"] > late_after:
            flags = {f for f in row["flags"].split(",") if f}
            flags.add(BACKFILLED_DAYS)
            row["flags"] = ",".join(sorted(flags))


def _more_to_come(health: dict, sent: int) -> bool:
    """The device still holds scans once this batch is answered."""
    left = queue_after(health, sent)
    return left is not None and left.length > 0


def _item(index: int, raw) -> _Item:
    seq = raw.get("seq") if isinstance(raw, dict) else None
    if type(seq) is not int or seq < 0 or seq >= 2**53:
        seq = None
    text, whole = stored_text(raw)
    return _Item(index=index, raw=raw, event_id=event_id_of(raw), hash=hash_text(text), seq=seq,
                 text=text, whole=whole)


def _result(item: _Item, status: str, rejected: EventRejected | None = None) -> dict:
    result = {"id": item.event_id if item.event_id is not None else _raw_id(item.raw),
              "status": status}
    if rejected is not None:
        result["code"] = rejected.code
        result["message"] = rejected.message
    return result


def _raw_id(raw):
    value = raw.get("id") if isinstance(raw, dict) else None
    return value if isinstance(value, (str, int)) and not isinstance(value, bool) else None


def _sort_out_known(items: list[_Item], results: list, batch: _Batch) -> list[_Item]:
    """Answer items whose id the server holds already; return the others.

    Same id and content: ``duplicate``. Same id, other content: ``conflict``,
    the new content kept aside once (a resent conflict is not stored twice).
    """
    ids = sorted({i.event_id for i in items if i.event_id is not None})
    held: dict[str, set[str]] = {}
    accepted_hash: dict[str, str] = {}
    raw = RawSql(db.session.connection())
    for start in range(0, len(ids), _CHUNK):
        for event_id, hash_, counts in raw.fetch(*known_ids_query(raw, ids[start:start + _CHUNK])):
            if counts:
                accepted_hash[event_id] = hash_
            held.setdefault(event_id, set()).add(hash_)

    fresh = []
    first_hash_in_batch: dict[str, str] = {}
    for item in items:
        if item.event_id is None:
            fresh.append(item)
            continue
        if item.event_id in held:
            first = accepted_hash.get(item.event_id)
            if item.hash in held[item.event_id] and (first is None or first == item.hash):
                results[item.index] = {"id": item.event_id, "status": DUPLICATE}
            else:
                if item.hash not in held[item.event_id]:
                    held[item.event_id].add(item.hash)
                    _keep_conflict(item, batch)
                results[item.index] = _conflict_result(item)
            continue
        if item.event_id in first_hash_in_batch:
            if first_hash_in_batch[item.event_id] == item.hash:
                results[item.index] = {"id": item.event_id, "status": DUPLICATE}
            else:
                _keep_conflict(item, batch)
                results[item.index] = _conflict_result(item)
            continue
        first_hash_in_batch[item.event_id] = item.hash
        fresh.append(item)
    return fresh


def known_ids_query(raw: RawSql, ids: list[str]) -> tuple[str, list]:
    """SQL and parameters for ``(event_id, content_hash, counts)`` of each of
    ``ids`` held: accepted (counts 1) or quarantined (0). Both tables in one
    round trip, the ids bound as one parameter; each an index look-up
    (tests/test_query_plans.py).

    On PostgreSQL each id is probed through LATERAL, whatever the table's
    size. Planned as ``IN (unnest)``, the look-up was a hash join over a
    scan of the whole event table while it held a few tens of thousands of
    rows (a new deployment's first weeks): 6.8–9.0 ms of server time a batch
    at 20,000 rows, against 1.1–1.7 ms probing. From about 50,000 rows on
    both probe the index (~2 ms; docs/benchmarks.md).
    """
    if raw.sqlite:
        held, params = raw.text_in("event_id", ids)
        return (f"SELECT event_id, content_hash, 1 FROM checkin_event WHERE {held} "
                f"UNION ALL SELECT event_id, content_hash, 0 FROM quarantined_event "
                f"WHERE {held}", params + params)
    return ("SELECT held.event_id, held.content_hash, held.counts "
            "FROM unnest(%s::varchar[]) AS ids(id) CROSS JOIN LATERAL ("
            "SELECT event_id, content_hash, 1 AS counts FROM checkin_event "
            "WHERE event_id = ids.id UNION ALL "
            "SELECT event_id, content_hash, 0 FROM quarantined_event "
            "WHERE event_id = ids.id) AS held", [list(ids)])


def _conflict_result(item: _Item) -> dict:
    return {"id": item.event_id, "status": CONFLICT, "code": "id_reused",
            "message": "this id was stored before with other content; kept aside for review"}


def _keep_conflict(item: _Item, batch: _Batch) -> None:
    rejected = EventRejected("id_reused", "id stored before with other content")
    batch.quarantine_rows.append(_quarantine_row(batch.device, batch.batch_id, item, rejected,
                                                 batch.received_at, batch.offset,
                                                 status="conflict"))


def _quarantine_row(device: Device, batch_id: str, item: _Item, rejected: EventRejected,
                    received_at: datetime, offset: float, status: str = "waiting") -> dict:
    return {"event_id": item.event_id, "device_id": device.id,
            "batch_id": batch_id, "seq": item.seq, "reason": rejected.code,
            "message": rejected.message[:2000], "status": status,
            "missing_code": rejected.missing_code, "content_hash": item.hash,
            "raw": item.text, "received_at": received_at,
            "clock_offset_s": offset}


def _lock_and_record_health(device: Device, health: dict, sent: int,
                            received_at: datetime, offset: float) -> bool:
    """Lock the device and keep what its health report says that can be
    stored. A field that cannot (text with U+0000 or a lone surrogate, a
    count beyond 32 bits, a time off the calendar in UTC) is left as it
    was: a bad report never costs the batch.

    One UPDATE, the first write of the push: on PostgreSQL it takes the
    device's row lock, which serialises pushes of one device (SQLite's
    write lock is held already). Written at driver level and set on the
    mapped device as committed values: the ORM's flush of one row cost a
    one-scan push more than the rest of its statements together.

    :return: whether the device said, at its last push, that more scans
        were coming (so pairing work may be held for it).
    """
    held_before = bool(device.queue_length)
    values = {"last_seen_at": received_at, "last_push_at": received_at,
              "last_clock_offset_s": offset}
    version = health.get("app_version")
    if isinstance(version, str) and storable(version[:40]):
        values["app_version"] = version[:40]
    # What the device holds once this batch is answered (the report counts
    # the batch in; sync/device_queue.py), as the console and the reports'
    # completeness read it.
    left = queue_after(health, sent)
    if left is not None:
        values["queue_length"] = left.length
    else:
        left = oldest_without_count(health)
    if left is not None and left.oldest_said:
        values["oldest_queued_at"] = left.oldest
    raw = RawSql(db.session.connection())
    names = list(values)
    [converted] = driver_values(raw, Device.__table__, names, [values])
    raw.connection.exec_driver_sql(
        f"UPDATE device SET {', '.join(f'{n} = {raw.mark}' for n in names)} "
        f"WHERE id = {raw.mark}", (*converted, device.id))
    for name, value in values.items():
        set_committed_value(device, name, value)
    return held_before


def _merge_seq_runs(device: Device, seqs: list[int]) -> list[list[int]]:
    """Fold the batch's seq numbers into the device's runs; the gaps left.

    Driver-level SQL: an ORM DELETE walks the session's identity map to
    synchronise it, for rows the session never holds (5 ms a batch). The
    usual change, the last run growing by what the device just sent, is
    one UPDATE; other changes rewrite the device's runs (a few rows)."""
    raw = RawSql(db.session.connection())
    mark = raw.mark
    runs = [(low, high) for low, high in raw.fetch(
        f"SELECT low, high FROM device_seq_range WHERE device_id = {mark} ORDER BY low",
        [device.id])]
    merged = merge_runs(runs, seqs) if seqs else runs
    if merged == runs:
        pass
    elif (len(merged) == len(runs) and merged[:-1] == runs[:-1]
          and merged[-1][0] == runs[-1][0]):
        raw.connection.exec_driver_sql(
            f"UPDATE device_seq_range SET high = {mark} WHERE device_id = {mark} AND low = {mark}",
            (merged[-1][1], device.id, merged[-1][0]))
    else:
        raw.connection.exec_driver_sql(
            f"DELETE FROM device_seq_range WHERE device_id = {mark}", (device.id,))
        write_rows(raw.connection, DeviceSeqRange.__table__,
                   [{"device_id": device.id, "low": low, "high": high} for low, high in merged])
    return missing_since_first(merged)


def _touched_per_person(rows: list[dict]) -> dict[int, Touched]:
    """Per person, the earliest and latest time of the events just stored."""
    touched: dict[int, Touched] = {}
    for row in rows:
        at = row["effective_at"]
        current = touched.get(row["person_id"])
        if current is None:
            touched[row["person_id"]] = Touched(at, at)
        elif at < current.since or at > current.until:
            touched[row["person_id"]] = Touched(min(at, current.since), max(at, current.until))
    return touched
