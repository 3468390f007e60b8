"""Storing accepted events exactly once, however many pushes carry them.

``insert_events`` returns the ids it inserted; the others were stored by a
concurrent push (or an earlier one) and are answered as duplicates or
conflicts by the caller (server/checkins/ingest.py).
"""
from __future__ import annotations

from sqlalchemy import select

from server.checkins.models import CheckinEvent
from server.common.rawsql import PartialInsert, RawSql, driver_values, in_values, write_rows
from server.extensions import db


def insert_events(rows: list[dict]) -> set[str]:
    """Insert accepted rows once each; return the ids this call inserted.

    Rows go in id order so concurrent pushes of overlapping batches take
    their row locks in one order and cannot deadlock.
    """
    if not rows:
        return set()
    connection = db.session.connection()
    rows = sorted(rows, key=lambda r: r["event_id"])
    if connection.dialect.name == "postgresql":
        if len(rows) <= FEW_ROWS:
            return _insert_few(connection, rows)
        return _copy_insert_events(connection, rows)
    try:
        return set(write_rows(connection, CheckinEvent.__table__, rows, returning="event_id",
                              on_conflict_do_nothing="event_id"))
    except PartialInsert:
        # SQLite only: find which rows are ours by their receive time.
        ids = [r["event_id"] for r in rows]
        return set(db.session.scalars(select(CheckinEvent.event_id).where(
            in_values(CheckinEvent.event_id, ids),
            CheckinEvent.received_at == rows[0]["received_at"],
            CheckinEvent.device_id == rows[0]["device_id"])))


#: Up to this many rows (a phone's one-scan push), PostgreSQL takes one
#: INSERT ... ON CONFLICT DO NOTHING RETURNING: one round trip, where the
#: COPY path below takes three (savepoint, COPY, release).
FEW_ROWS = 8


def _insert_few(connection, rows: list[dict]) -> set[str]:
    """PostgreSQL, a few rows: the ids this statement inserted."""
    values = driver_values(RawSql(connection), CheckinEvent.__table__, _EVENT_COLUMNS, rows)
    one_row = "(" + ", ".join(["%s"] * len(_EVENT_COLUMNS)) + ")"
    found = connection.exec_driver_sql(
        f"INSERT INTO checkin_event ({', '.join(_EVENT_COLUMNS)}) VALUES "
        + ", ".join([one_row] * len(values))
        + " ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
        tuple(value for row in values for value in row)).fetchall()
    return {event_id for (event_id,) in found}


#: Columns of checkin_event that a push writes (all but the serial id).
_EVENT_COLUMNS = [c.name for c in CheckinEvent.__table__.columns if c.name != "id"]


def _copy_insert_events(connection, rows: list[dict]) -> set[str]:
    """PostgreSQL: COPY straight into checkin_event, inside a savepoint.

    The ids were looked up just before, so the COPY almost always succeeds
    and every row is ours. When a concurrent push stored one of the ids in
    between (a unique violation), the savepoint is rolled back and the rows
    go in through a staging table and ``ON CONFLICT DO NOTHING``, which says
    which are ours. 500 rows and the commit: 25.8 ms this way, 30.2 ms
    through staging every time (docs/benchmarks.md).
    """
    import psycopg

    cursor = connection.connection.driver_connection.cursor()
    columns = ", ".join(_EVENT_COLUMNS)
    values = driver_values(RawSql(connection), CheckinEvent.__table__, _EVENT_COLUMNS, rows)
    try:
        cursor.execute("SAVEPOINT push_events")
        try:
            with cursor.copy(f"COPY checkin_event ({columns}) FROM STDIN") as copy:
                for value in values:
                    copy.write_row(value)
        except psycopg.errors.UniqueViolation:
            cursor.execute("ROLLBACK TO SAVEPOINT push_events")
            return _insert_through_staging(cursor, columns, values)
        cursor.execute("RELEASE SAVEPOINT push_events")
        return {row["event_id"] for row in rows}
    finally:
        cursor.close()


def _insert_through_staging(cursor, columns: str, values: list[tuple]) -> set[str]:
    """COPY into a per-connection staging table, then one INSERT ... SELECT
    ... ON CONFLICT DO NOTHING RETURNING: the ids this call inserted."""
    cursor.execute("CREATE TEMP TABLE IF NOT EXISTS checkin_event_staging "
                   f"ON COMMIT DELETE ROWS AS SELECT {columns} FROM checkin_event WITH NO DATA")
    # Empty at the start of every transaction (ON COMMIT DELETE ROWS); a replay
    # may call this twice in one, so clear it (DELETE: TRUNCATE costs a new file).
    cursor.execute("DELETE FROM checkin_event_staging")
    with cursor.copy(f"COPY checkin_event_staging ({columns}) FROM STDIN") as copy:
        for value in values:
            copy.write_row(value)
    cursor.execute(f"INSERT INTO checkin_event ({columns}) SELECT {columns} "
                   "FROM checkin_event_staging ORDER BY event_id "
                   "ON CONFLICT (event_id) DO NOTHING RETURNING event_id")
    return {row[0] for row in cursor.fetchall()}
