"""What a client is told when the database fails under it.

A database that is restarting, read-only (a replica promoted late, a
volume remounted) or out of disk is a fault that passes: the answer is 503
with Retry-After and a stable code, so devices keep their queue and try
again, and nothing is half-written (the transaction rolls back). Anything
else stays a 500. Logs name the fault, never the statement's parameters
(they hold personal data).
"""
from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

#: Seconds a client should wait before trying again.
RETRY_AFTER_S = 30

#: SQLSTATE class or code -> our code.
_POSTGRES = {
    "08": "database_unavailable",      # connection exception
    "57P01": "database_unavailable",   # admin shutdown
    "57P02": "database_unavailable",   # crash shutdown
    "57P03": "database_unavailable",   # cannot connect now (starting up)
    "53100": "database_full",          # disk full
    "53200": "database_unavailable",   # out of memory
    "53300": "database_unavailable",   # too many connections
    "25006": "database_read_only",     # read-only transaction
}
_SQLITE = {
    "readonly": "database_read_only",  # attempt to write a readonly database
    "full": "database_full",           # database or disk is full
    "locked": "database_unavailable",  # busy beyond the busy timeout
    "unable to open": "database_unavailable",
    "disk i/o error": "database_unavailable",
}
DETAILS = {
    "database_unavailable": "The database is not answering; try again shortly.",
    "database_read_only": "The database accepts no writes at the moment; try again later.",
    "database_full": "The database has no space left; try again later.",
}


def driver_error_classes() -> list[type[Exception]]:
    """SQLAlchemy's wrapper, and the drivers' own errors (the hot paths in
    ``server.common.rawsql`` talk to the drivers directly)."""
    import sqlite3
    classes = [DBAPIError, sqlite3.Error]
    try:
        import psycopg
        classes.append(psycopg.Error)
    except ImportError:
        pass
    return classes


#: PostgreSQL's deadlock and serialisation failure: the same work, done again, succeeds.
_RETRYABLE_SQLSTATES = {"40P01", "40001"}


def worth_retrying(error: Exception) -> bool:
    """Whether the transaction that raised ``error`` may simply be run again:
    a PostgreSQL deadlock or serialisation failure, or SQLite's write lock
    still held by another writer when the busy timeout ran out. ``error`` is
    SQLAlchemy's wrapper or the driver's own (``server.common.rawsql``)."""
    driver_error = error.orig if isinstance(error, DBAPIError) else error
    sqlstate = getattr(driver_error, "sqlstate", None)
    if sqlstate:
        return sqlstate in _RETRYABLE_SQLSTATES
    import sqlite3
    return (isinstance(driver_error, sqlite3.OperationalError)
            and "database is locked" in str(driver_error))


def fault_code(error: Exception) -> str | None:
    """Our code for a passing database fault, or None for anything else."""
    driver_error = error.orig if isinstance(error, DBAPIError) else error
    sqlstate = getattr(driver_error, "sqlstate", None)
    if sqlstate:
        return _POSTGRES.get(sqlstate) or _POSTGRES.get(sqlstate[:2])
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return "database_unavailable"
    if _lost_postgres_connection(driver_error):
        return "database_unavailable"
    message = str(driver_error).lower()
    return next((code for marker, code in _SQLITE.items() if marker in message), None)


def _lost_postgres_connection(driver_error: Exception) -> bool:
    """psycopg's errors without a SQLSTATE: the server went away or refused
    the connection ("the connection is lost", "connection failed")."""
    try:
        import psycopg
    except ImportError:
        return False
    return isinstance(driver_error, (psycopg.OperationalError, psycopg.InterfaceError))


def _text_with_nul(driver_error: Exception) -> bool:
    """PostgreSQL refuses U+0000 in text (SQLite stores it). psycopg raises
    DataError before sending, without a SQLSTATE."""
    try:
        import psycopg
    except ImportError:
        return False
    return isinstance(driver_error, psycopg.DataError) and "NUL" in str(driver_error)


def handle_database_error(error: Exception):
    from server.api import problem_response
    code = fault_code(error)
    driver_error = error.orig if isinstance(error, DBAPIError) else error
    if code is None and _text_with_nul(driver_error):
        # Free text from a client (a search, a name) that the schemas let
        # through: the client's input, not our failure. Codes and push
        # events are validated before they reach the database.
        return problem_response(400, "invalid_text",
                                "Text may not contain the NUL character (U+0000).")
    if code is None:
        log.error("database error %s (sqlstate %s)", type(driver_error).__name__,
                  getattr(driver_error, "sqlstate", None))
        return problem_response(500, "internal_error", "The server failed; it has been logged.")
    log.warning("database fault: %s (%s)", code, type(driver_error).__name__)
    return problem_response(503, code, DETAILS[code], {"Retry-After": str(RETRY_AFTER_S)})
