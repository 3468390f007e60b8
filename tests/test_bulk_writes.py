"""The push path's bulk writes (server/common/rawsql.py) store exactly the
values given, however many statements they take, and say when an insert
met rows that were already there."""
from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from server.common import rawsql
from server.extensions import db
from server.people.models import Person
from server.service_sessions.models import ServiceSession
from server.stations.models import Station


@pytest.fixture
def small_statements(monkeypatch):
    """Seven rows a statement on SQLite, so that 50 rows take eight."""
    monkeypatch.setattr(rawsql, "SQLITE_ROWS_PER_STATEMENT", 7)


def _sessions(count: int, first: int = 0) -> list[dict]:
    person = db.session.scalar(select(Person.id).order_by(Person.id))
    station = db.session.scalar(select(Station.id).order_by(Station.id))
    start = datetime(2026, 3, 31, 23, 30, 0, 250000, tzinfo=timezone.utc)
    rows = []
    for n in range(first, first + count):
        at = start + timedelta(minutes=37 * n)
        rows.append({"key_event_id": f"key-{n:03d}", "key_at": at, "person_id": person,
                     "station_id": station, "derived_status": "ok",
                     "derived_start_at": at, "derived_end_at": None, "status": "ok",
                     "start_at": at, "end_at": at + timedelta(seconds=n),
                     "flags": "repeat_scan" if n % 3 else "", "review_stale": n % 2 == 0,
                     "credited_seconds": n, "pending_seconds": 0,
                     "local_date": date(2026, 4, 1) + timedelta(days=n % 40),
                     "branch_id": None, "updated_at": at})
    return rows


def _stored(columns: list[str]) -> list[dict]:
    table = ServiceSession.__table__
    return [dict(row._mapping) for row in db.session.execute(
        select(*(table.c[name] for name in columns)).order_by(table.c.key_event_id))]


def test_rows_in_several_statements_are_stored_as_given(world, small_statements):
    rows = _sessions(50)
    table = ServiceSession.__table__
    rawsql.write_rows(db.session.connection(), table, rows)
    assert _stored(list(rows[0])) == rows

    ids = dict(db.session.execute(select(table.c.key_event_id, table.c.id)).all())
    changed = [{"id": ids[row["key_event_id"]], "status": "rejected",
                "end_at": row["end_at"] + timedelta(hours=1), "review_stale": True}
               for row in rows[3:47:2]]
    rawsql.update_rows(db.session.connection(), table, changed)
    expected = [dict(row) for row in rows]
    for row in expected[3:47:2]:
        row.update(status="rejected", end_at=row["end_at"] + timedelta(hours=1),
                   review_stale=True)
    assert _stored(list(rows[0])) == expected
    db.session.commit()


def test_an_insert_that_meets_stored_rows_says_which_are_new(world, small_statements):
    table = ServiceSession.__table__
    first = _sessions(20)
    assert set(rawsql.write_rows(db.session.connection(), table, first,
                                 returning="key_event_id",
                                 on_conflict_do_nothing="key_event_id")) == {
        row["key_event_id"] for row in first}
    # Rows 15-34: five were stored above, in the third of three statements.
    overlapping = _sessions(20, first=15)
    new = {row["key_event_id"] for row in overlapping[5:]}
    if db.session.connection().dialect.name == "sqlite":
        # sqlite3 cannot return rows of several statements: the caller asks.
        with pytest.raises(rawsql.PartialInsert):
            rawsql.write_rows(db.session.connection(), table, overlapping,
                              returning="key_event_id", on_conflict_do_nothing="key_event_id")
    else:
        assert set(rawsql.write_rows(db.session.connection(), table, overlapping,
                                     returning="key_event_id",
                                     on_conflict_do_nothing="key_event_id")) == new
    assert len(_stored(["key_event_id"])) == 35
    db.session.commit()


def test_a_build_allowing_few_variables_gets_statements_of_fewer_rows(world):
    """SQLite before 3.32 allows 999 variables a statement, and a build may
    allow fewer: the rows per statement follow the connection's limit."""
    connection = db.session.connection()
    driver = connection.connection.driver_connection
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Two rows of the 17 columns written below fit (34 variables), not three.
        before = driver.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 50)
    try:
        rows = _sessions(9)
        rawsql.write_rows(connection, ServiceSession.__table__, rows)
        assert len(rows[0]) == 17 and _stored(list(rows[0])) == rows
    finally:
        if sqlite:
            driver.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, before)
    db.session.commit()
