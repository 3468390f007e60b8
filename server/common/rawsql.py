"""Driver-level SQL for the few hot statements whose SQLAlchemy construction
(hundreds of typed parameters) cost more than running them.

Values cross the boundary as the models store them: times as naive UTC
(strings on SQLite), dates as dates (strings on SQLite).
"""
from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy.engine import Connection

_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


class RawSql:
    def __init__(self, connection: Connection):
        self.connection = connection
        self.sqlite = connection.dialect.name == "sqlite"
        #: The driver's positional placeholder.
        self.mark = "?" if self.sqlite else "%s"

    def time_param(self, value: datetime):
        naive = value.astimezone(timezone.utc).replace(tzinfo=None)
        return naive.strftime(_SQLITE_TIME) if self.sqlite else naive

    def fetch(self, sql: str, params: list) -> list[tuple]:
        return self.connection.exec_driver_sql(sql, tuple(params)).fetchall()


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
