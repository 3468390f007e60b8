"""The audit log's hash chain: each entry is written with the hash of the one
before it, and ``verify`` walks the chain (docs/audit.md).

``record_audit`` keeps its entries with the session; when the transaction
commits, ``_seal`` takes the chain lock, reads the last entry's seq and
hash, and inserts the entries numbered and chained after it. It is the
last of the commit hooks that write (the sync feed's numbering, which
takes its counter's row lock, runs before it in every process) and takes
the lock after everything else the transaction wrote has been flushed: a
transaction holding the chain lock waits for no other lock, so no
deadlock, and audit writes queue only for the end of their commit.
PostgreSQL: a transaction-scoped advisory lock. SQLite: a writing
transaction holds the database's write lock from its start (BEGIN
IMMEDIATE). A transaction that read the chain before another committed
(PostgreSQL REPEATABLE READ; a SQLite reader upgraded to a writer) fails on
the unique seq or SQLite's busy snapshot: it never forks the chain.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Iterator

from sqlalchemy import String, event, insert, select, type_coerce
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, SessionTransaction

# Registers the sync feed's commit hook before ``_seal`` below, whatever
# imports this module first: listeners run in the order they were added.
from server.sync_feed import tracking  # noqa: F401
from server.audit.models import AuditEntry
from sync.chain import Link, canonical_time, link_hash

log = logging.getLogger(__name__)

#: The advisory lock (two int keys) serialising appends on PostgreSQL; the
#: person locks use (7301, person id): server/pairing/writer.py; the pairing
#: workers' wake-up lock (7303, 0): server/pairing/worker.py.
CHAIN_LOCK = (7302, 0)

#: session.info key: [(the transaction recording it, row), ...] not yet written.
_PENDING = "audit_pending"

_TABLE = AuditEntry.__table__
_FIELDS = ("at", "actor", "action", "object_type", "object_code", "reason", "changes")


def entry_fields(seq: int, at: datetime, actor: str, action: str, object_type: str,
                 object_code: str, reason: str | None, changes) -> dict:
    """What an entry's hash covers, by name: its seq, ``at`` as canonical
    UTC text, and the other columns as stored (``changes`` as JSON)."""
    return {"seq": seq, "at": canonical_time(at), "actor": actor, "action": action,
            "object_type": object_type, "object_code": object_code, "reason": reason,
            "changes": changes}


def add_pending(session: Session, row: dict) -> None:
    """Keep ``row`` to be written, chained, when the session's transaction
    commits; a rolled-back savepoint takes back what was added inside it."""
    transaction = session.get_nested_transaction() or session.get_transaction()
    if transaction is None:
        transaction = session.begin()
    session.info.setdefault(_PENDING, []).append((transaction, row))


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if pending:
        pending[:] = [(t, row) for t, row in pending
                      if not _within(t, previous_transaction)]


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "before_commit")
def _seal(session: Session) -> None:
    """Write the transaction's entries, chained. A savepoint's commit leaves
    them for the transaction's: the chain lock is taken at the very end."""
    if session.in_nested_transaction() or not session.info.get(_PENDING):
        return
    rows = [row for _, row in session.info.pop(_PENDING)]
    session.flush()  # everything else first: after the chain lock, no other row lock
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(%s, %s)", CHAIN_LOCK)
    last = connection.execute(select(_TABLE.c.seq, _TABLE.c.entry_hash)
                              .order_by(_TABLE.c.seq.desc()).limit(1)).first()
    seq, previous = (last.seq, last.entry_hash) if last else (0, None)
    for row in rows:
        seq += 1
        entry_hash = link_hash(previous, entry_fields(seq, **row))
        row.update(seq=seq, prev_hash=previous, entry_hash=entry_hash)
        previous = entry_hash
    connection.execute(insert(_TABLE), rows)


@event.listens_for(Session, "after_commit")
def _nothing_left(session: Session) -> None:
    if not session.in_nested_transaction() and session.info.get(_PENDING):
        # Only a savepoint left open when its transaction commits gets here:
        # SQLAlchemy commits it after the transaction's seal ran.
        lost = session.info.pop(_PENDING)
        log.error("%d audit entries recorded in a savepoint left open at commit "
                  "were not written", len(lost))


@event.listens_for(Session, "after_transaction_end")
def _forget_ended(session: Session, transaction: SessionTransaction) -> None:
    """A transaction closed without a commit (``Session.close``) takes its
    entries with it, like a rollback."""
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def links(connection: Connection, batch: int = 10_000) -> Iterator[Link]:
    """Every entry as a chain link, in seq order, streamed (PostgreSQL: a
    server-side cursor; SQLite reads as it goes). An entry whose ``at`` or
    ``changes`` cannot be read (SQLite stores any text) gets fields that
    match no hash: it is reported changed, and the walk goes on."""
    raw = {name: type_coerce(_TABLE.c[name], String) for name in ("at", "changes")}
    columns = [_TABLE.c.id, _TABLE.c.seq, _TABLE.c.prev_hash, _TABLE.c.entry_hash,
               *(raw.get(name, _TABLE.c[name]).label(name) for name in _FIELDS)]
    result = connection.execution_options(yield_per=batch).execute(
        select(*columns).order_by(_TABLE.c.seq))
    for row in result:
        try:
            fields = entry_fields(row.seq, _stored_time(row.at), row.actor, row.action,
                                  row.object_type, row.object_code, row.reason,
                                  _stored_json(row.changes))
        except (TypeError, ValueError) as error:
            fields = {"unreadable": str(error)}
        yield Link(row.seq, row.prev_hash, row.entry_hash, fields, ref=f"id {row.id}")


def _stored_time(value) -> datetime:
    """``at`` as the database gives it back without SQLAlchemy's processing:
    text on SQLite, a naive datetime on PostgreSQL; UTC either way."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime) or value.tzinfo is not None:
        raise ValueError(f"at is not a stored time: {value!r}")
    return value.replace(tzinfo=timezone.utc)


def _stored_json(value):
    """``changes`` as the database gives it back: JSON text on SQLite (where
    a number-like text may come back a number), parsed on PostgreSQL."""
    if isinstance(value, str):
        return json.loads(value)
    return value


def latest(connection: Connection) -> tuple[int, str] | None:
    """(seq, hash) of the newest entry: the anchor to keep elsewhere."""
    row = connection.execute(select(_TABLE.c.seq, _TABLE.c.entry_hash)
                             .order_by(_TABLE.c.seq.desc()).limit(1)).first()
    return (row.seq, row.entry_hash) if row else None
