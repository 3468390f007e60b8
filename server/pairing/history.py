"""Reading parts of people's stored history (events, sessions, reviews) as
the writer needs them: spans of rows per person in one statement of indexed
range look-ups, values converted once, rows as named tuples (attribute
access at tuple cost)."""
from __future__ import annotations

from collections import namedtuple
from functools import lru_cache

from sqlalchemy import select

from server.common.rawsql import RawSql, in_values, read_date, read_time
from server.extensions import db
from server.service_sessions.models import Review


TIME_COLUMNS = {"key_at", "derived_start_at", "derived_end_at", "start_at", "end_at",
                "effective_at"}


def kinds(names) -> dict:
    return {n: "time" if n in TIME_COLUMNS else "date" if n == "local_date" else None
            for n in names}


def tails(table: str, time_column: str, spans, columns: dict):
    """Rows of ``table`` for each person within their spans, as one statement
    of indexed range scans; values converted as ``columns`` says
    (``"time"``, ``"date"`` or None for as-is).

    :param spans: ``{person_id: window}`` (any value with ``start`` and
        ``stop``), or a list of ``(person_id, start, stop)``, a person
        possibly more than once; both ends included.
    """
    raw = RawSql(db.session.connection())
    if isinstance(spans, dict):
        spans = [(p, w.start, w.stop) for p, w in spans.items()]
    if not spans:
        return []
    source, params = raw.person_times(spans, ("t", "hi"))
    select_list = ", ".join(f"x.{name}" for name in columns)
    if raw.sqlite:
        sql = (f"SELECT {select_list} FROM {source} JOIN {table} x "
               f"ON x.person_id = w.pid AND x.{time_column} >= w.t "
               f"AND x.{time_column} <= w.hi")
    else:
        # One index range per person: a LATERAL subquery that OFFSET 0 keeps
        # from being flattened. As a plain join PostgreSQL guessed that a
        # third of each person's rows match and hashed the whole table, so
        # a batch's cost grew with history (94 ms instead of 7 for 200
        # people over 200k events; docs/benchmarks.md).
        sql = (f"SELECT {select_list} FROM {source} CROSS JOIN LATERAL "
               f"(SELECT * FROM {table} y WHERE y.person_id = w.pid "
               f"AND y.{time_column} >= w.t AND y.{time_column} <= w.hi OFFSET 0) AS x")
    make_row = row_type(tuple(columns))._make
    converted = [(i, read_time if kind == "time" else read_date)
                 for i, kind in enumerate(columns.values()) if kind]
    rows = []
    for row in raw.fetch(sql, params):
        values = list(row)
        for i, read in converted:
            values[i] = read(values[i])
        rows.append(make_row(values))
    return rows


@lru_cache(maxsize=None)
def row_type(names: tuple[str, ...]):
    """A named tuple for fetched rows: attribute access at tuple cost."""
    return namedtuple("Row", names)


def latest_reviews(key_ids: list[str]) -> dict[str, Review]:
    latest: dict[str, Review] = {}
    for review in db.session.scalars(select(Review).where(in_values(Review.key_event_id, key_ids))
                                     .order_by(Review.created_at, Review.id)):
        latest[review.key_event_id] = review
    return latest
