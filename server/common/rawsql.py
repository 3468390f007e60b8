"""Driver-level SQL for the few hot statements whose SQLAlchemy construction
(hundreds of typed parameters) cost more than running them.

Values cross the boundary as the models store them: times as naive UTC
(strings on SQLite), dates as dates (strings on SQLite).
"""
from __future__ import annotations

import zlib
from datetime import date, datetime, timezone
from operator import itemgetter

from sqlalchemy.engine import Connection


class RawSql:
    def __init__(self, connection: Connection):
        self.connection = connection
        self.sqlite = connection.dialect.name == "sqlite"
        #: The driver's positional placeholder.
        self.mark = "?" if self.sqlite else "%s"

    def time_param(self, value: datetime):
        # Called for every time of every row written on the push path: most
        # values are UTC already, so they skip the conversion.
        if value.tzinfo is not timezone.utc:
            value = value.astimezone(timezone.utc)
        if self.sqlite:
            # The text SQLAlchemy stores on SQLite ("%Y-%m-%d %H:%M:%S.%f"):
            # isoformat is several times faster than strftime; cut "+00:00".
            return value.isoformat(" ", "microseconds")[:26]
        return value.replace(tzinfo=None)

    def person_times(self, rows: list[tuple], columns: tuple[str, ...] = ("t",)
                     ) -> tuple[str, list]:
        """A FROM item ``w(pid, <columns>, n)`` holding ``rows`` of a person id
        and one time per column (n = position), bound as one parameter per
        column or one in all, whatever their number: a JSON array on SQLite,
        arrays on PostgreSQL. The statement text stays the same, so drivers
        reuse their prepared statement. A time shared by many rows (such as
        an open window's end) is converted once."""
        convert = _once_per_time(self, {})
        if self.sqlite:
            import json
            picked = ", ".join(f"value ->> {i + 1} AS {name}" for i, name in enumerate(columns))
            return (f"(SELECT value ->> 0 AS pid, {picked}, key AS n FROM json_each(?)) AS w",
                    [json.dumps([[p, *map(convert, times)] for p, *times in rows])])
        arrays = ", ".join(["%s::int[]"] + ["%s::timestamp[]"] * len(columns))
        return (f"unnest({arrays}) WITH ORDINALITY AS w(pid, {', '.join(columns)}, n)",
                [[row[0] for row in rows]]
                + [[convert(row[i + 1]) for row in rows] for i in range(len(columns))])

    def id_list(self, ids: list[int]) -> tuple[str, list]:
        """A subquery of the integer ``ids``, bound as one parameter."""
        if self.sqlite:
            import json
            return "(SELECT value FROM json_each(?))", [json.dumps(list(ids))]
        return "(SELECT unnest(%s::int[]))", [list(ids)]

    def text_in(self, column: str, values) -> tuple[str, list]:
        """``column`` is one of the strings ``values``, bound as one parameter;
        on PostgreSQL ``= ANY(array)``, which the planner turns into index
        look-ups on a large table and a hashed filter on a small one, when
        it plans for the array at hand: run it with ``fetch_unprepared``."""
        if self.sqlite:
            import json
            return f"{column} IN (SELECT value FROM json_each(?))", [json.dumps(list(values))]
        return f"{column} = ANY(%s::varchar[])", [list(values)]

    def fetch(self, sql: str, params: list) -> list[tuple]:
        return self.connection.exec_driver_sql(sql, tuple(params)).fetchall()

    def fetch_unprepared(self, sql: str, params: list) -> list[tuple]:
        """``fetch``, planned for these parameters every time on PostgreSQL.

        psycopg prepares a statement at its sixth use, and PostgreSQL, after
        five plans for the values at hand, may then plan it once for any.
        For ``= ANY(array)`` on a small table (a district's 2,000 people)
        that generic plan compares each row with each value in turn: 8.3 ms
        for a 500-event batch's 430 codes from the eleventh push on, against
        0.46 ms planned each time (docs/benchmarks.md, "A look-up that
        slowed down after ten uses")."""
        if self.sqlite:
            return self.fetch(sql, params)
        driver = self.connection.connection.driver_connection
        return driver.execute(sql, tuple(params), prepare=False).fetchall()


def read_time(value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc)


def read_date(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def in_values(column, values):
    """``column IN values`` that stays one parameter on PostgreSQL.

    An expanded IN list of hundreds of placeholders makes psycopg parse the
    statement in Python on every call; ``= ANY(array)`` binds one array.
    """
    from sqlalchemy import any_, bindparam
    from sqlalchemy.dialects.postgresql import ARRAY

    from server.extensions import db
    values = list(values)
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def write_rows(connection: Connection, table, rows: list[dict], *, returning: str | None = None,
               on_conflict_do_nothing: str | None = None) -> list:
    """INSERT ``rows`` with values converted as the models store them;
    optionally ``ON CONFLICT (col) DO NOTHING RETURNING col``. PostgreSQL:
    COPY, or the driver's pipelined executemany; SQLite: multi-row
    statements (``_sqlite_in_statements``).

    SQLAlchemy's per-value type processing was a third of a push's cost.
    """
    if not rows:
        return []
    raw = RawSql(connection)
    names = list(rows[0])
    head = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES "
    one_row = f"({', '.join([raw.mark] * len(names))})"
    tail = f" ON CONFLICT ({on_conflict_do_nothing}) DO NOTHING" if on_conflict_do_nothing else ""
    values = driver_values(raw, table, names, rows)
    cursor = connection.connection.driver_connection.cursor()
    try:
        if raw.sqlite:
            written = _sqlite_in_statements(cursor, head, one_row, tail, values)
            if returning is None:
                return []
            # sqlite3 cannot return rows of several statements. The caller
            # holds SQLite's write lock (BEGIN IMMEDIATE), so when every row
            # went in they are all new; otherwise ask row by row (rare: replays).
            if written == len(values):
                return [row[returning] for row in rows]
            raise PartialInsert()
        if returning is None and not on_conflict_do_nothing:
            # COPY is PostgreSQL's fastest way in (docs/benchmarks.md, "Building blocks").
            with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
                for value in values:
                    copy.write_row(value)
            return []
        sql = head + one_row + tail
        if returning is None:
            cursor.executemany(sql, values)
            return []
        found = []
        cursor.executemany(f"{sql} RETURNING {returning}", values, returning=True)
        while True:
            found.extend(row[0] for row in cursor.fetchall())
            if not cursor.nextset():
                break
        return found
    finally:
        cursor.close()


#: Rows per SQLite statement at most (fewer when the variable limit says so).
SQLITE_ROWS_PER_STATEMENT = 1000


def _sqlite_in_statements(cursor, head: str, one_row: str, tail: str,
                          values: list[tuple]) -> int:
    """Run ``head`` + ``one_row`` × n + ``tail`` over ``values`` in statements
    of up to SQLITE_ROWS_PER_STATEMENT rows; the number of rows changed.

    Why not executemany: on a table with triggers (service_session) SQLite
    opens a statement journal for every statement and copies into it each
    page the statement changes, so one statement per row copied a dozen
    index pages per row. 10,430 sessions took 430-590 ms row by row and
    120-165 ms 1,000 rows a statement (docs/benchmarks.md, session 7).
    """
    import sqlite3
    if not values:
        return 0
    per_row = len(values[0])
    limit = cursor.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    size = max(1, min(SQLITE_ROWS_PER_STATEMENT, limit // per_row))
    changed = 0
    for start in range(0, len(values), size):
        chunk = values[start:start + size]
        cursor.execute(head + ", ".join([one_row] * len(chunk)) + tail,
                       [value for row in chunk for value in row])
        changed += cursor.rowcount
    return changed


def update_rows(connection: Connection, table, rows: list[dict], *, key: str = "id") -> None:
    """UPDATE ``table`` SET the other columns of each row WHERE ``key`` matches.

    On PostgreSQL one statement for all rows (COPY into a scratch table, then
    UPDATE ... FROM it): an executemany is one statement per row, and each
    fires the table's statement-level triggers once. SQLite: ``UPDATE ...
    FROM (VALUES ...)`` in statements of many rows.
    """
    if not rows:
        return
    raw = RawSql(connection)
    names = list(rows[0])
    values = driver_values(raw, table, names, rows)
    others = [name for name in names if name != key]
    cursor = connection.connection.driver_connection.cursor()
    try:
        if raw.sqlite:
            # UPDATE ... FROM (VALUES ...), whose columns SQLite names
            # column1, column2, ...: a statement per row would journal the
            # pages it changes once per row (see _sqlite_in_statements).
            column = {name: f"v.column{n}" for n, name in enumerate(names, start=1)}
            _sqlite_in_statements(
                cursor, f"UPDATE {table.name} SET "
                f"{', '.join(f'{n} = {column[n]}' for n in others)} FROM (VALUES ",
                f"({', '.join([raw.mark] * len(names))})",
                f") AS v WHERE {table.name}.{key} = {column[key]}", values)
            return
        # One scratch table per set of columns: it lives as long as the
        # connection, and a second caller updating other columns must not
        # find the first one's.
        scratch = f"{table.name}_changes_{zlib.crc32(','.join(names).encode()):08x}"
        # Same column types, none of the table's constraints or generated columns.
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {scratch} ON COMMIT DELETE ROWS "
                       f"AS SELECT {', '.join(names)} FROM {table.name} WITH NO DATA")
        with cursor.copy(f"COPY {scratch} ({', '.join(names)}) FROM STDIN") as copy:
            for value in values:
                copy.write_row(value)
        cursor.execute(f"UPDATE {table.name} AS t SET "
                       f"{', '.join(f'{n} = c.{n}' for n in others)} "
                       f"FROM {scratch} AS c WHERE t.{key} = c.{key}")
        cursor.execute(f"DELETE FROM {scratch}")
    finally:
        cursor.close()


def driver_values(raw: RawSql, table, names: list[str], rows: list[dict]) -> list[tuple]:
    """Each row's values in ``names`` order, converted as the columns store
    them. Only the columns that need it are touched: this runs for every
    value a push writes."""
    # Each time object is converted once per call: a batch's receive time
    # fills a column of every row, an event's time is also its effective
    # time, a session's start is also its key. Keyed by id(), which stays
    # unique while ``rows`` hold the objects, i.e. throughout this call.
    times: dict[int, object] = {}
    converting = [(n, convert) for n, convert in
                  enumerate(_converter(raw, table.c[name].type, times) for name in names)
                  if convert]
    pick = itemgetter(*names)
    if len(names) == 1:
        values = [(pick(row),) for row in rows]
    else:
        values = [pick(row) for row in rows]
    if not converting:
        return values
    converted = []
    for value in values:
        value = list(value)
        for n, convert in converting:
            value[n] = convert(value[n])
        converted.append(tuple(value))
    return converted


class PartialInsert(Exception):
    """Some rows of a SQLite bulk insert were already there."""


def _converter(raw: RawSql, type_, times: dict):
    from sqlalchemy import Boolean, Date

    from server.db_types import UTCDateTime
    if isinstance(type_, UTCDateTime):
        return _once_per_time(raw, times)
    if isinstance(type_, Date) and raw.sqlite:
        return lambda v: None if v is None else v.isoformat()
    if isinstance(type_, Boolean) and raw.sqlite:
        return lambda v: None if v is None else int(v)
    return None


def _once_per_time(raw: RawSql, times: dict):
    """``raw.time_param`` that converts each time object once, remembered in
    ``times`` by id(): valid while the caller holds the objects."""
    def convert_time(value, missing=_MISSING, known=times.get):
        stored = known(id(value), missing)
        if stored is missing:
            stored = times[id(value)] = None if value is None else raw.time_param(value)
        return stored
    return convert_time


_MISSING = object()


def fetch_plain(connection: Connection, statement) -> list[tuple]:
    """The rows of a SELECT, as the driver returns them: SQLAlchemy builds
    the statement, the DBAPI cursor runs it and fetches. For columns and
    parameters of plain types only (integers, text: no type of ours
    converts them). SQLAlchemy's result rows cost ~2 µs a row more, which
    a report of the city's 30,000 organisations felt (60 ms of 150)."""
    compiled = statement.compile(dialect=connection.dialect,
                                 compile_kwargs={"render_postcompile": True})
    params = compiled.params
    if compiled.positiontup is not None:  # SQLite: positional placeholders
        params = tuple(params[name] for name in compiled.positiontup)
    cursor = connection.connection.cursor()
    try:
        cursor.execute(compiled.string, params)
        return cursor.fetchall()
    finally:
        cursor.close()
