"""Which transactions only read: on SQLite they begin deferred.

Every other transaction begins IMMEDIATE (server/__init__.py,
``_sqlite_begin``): SQLite's write lock taken up front, so writers queue on
the busy timeout instead of failing. A transaction that never writes must
not take that lock: GET requests, and the pairing worker's look at its
queue between drains (several times a second; as a writer it would hold up
pushes each time).
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

_reading: ContextVar[bool] = ContextVar("reading", default=False)


@contextmanager
def reading():
    """Transactions begun inside this block only read."""
    token = _reading.set(True)
    try:
        yield
    finally:
        _reading.reset(token)


def only_reads() -> bool:
    """Whether a transaction begun now only reads: inside ``reading()``, or
    in a GET, HEAD or OPTIONS request."""
    if _reading.get():
        return True
    from flask import has_request_context, request
    return has_request_context() and request.method in ("GET", "HEAD", "OPTIONS")
