"""The triggers that keep ``branch_period_total``, ``person_branch_period`` and
``period_mover`` equal to what the sessions say, and a rebuild from scratch.

Why triggers: sessions change in several places (re-pairing on push and on
replay, reviews, branch moves re-attributing sessions, bulk loads); a
trigger sees every change, in the same transaction, whatever code made it.

A session counts when it has a branch and is not rejected. On PostgreSQL
the triggers are per statement with transition tables, so a push batch
updates each figure once however many sessions it touched. SQLite has only
row triggers: they append each change to ``service_total_change`` and
``fold`` applies a transaction's changes set-based before it commits (a
SQLAlchemy ``before_commit`` hook does it for every app transaction; code
writing sessions on a bare connection calls ``fold`` itself, and what it
forgets is folded by the next app transaction, since the log is global).

The triggers themselves are in triggers_sqlite.py and triggers_pg.py, what
counts for them in rules.py. The migrations carry the SQL they ran
(docs/migrations.md): a change to the triggers' SQL needs a new revision
holding the new SQL, and tests/test_migrations.py fails until it exists.
"""
from __future__ import annotations

from sqlalchemy.engine import Connection

from server.totals import triggers_pg, triggers_sqlite
from server.totals.rules import COUNTED, SUMMED, TRIGGER_NAMES, period_expressions
from server.totals.triggers_sqlite import fold  # noqa: F401 - part of this module's API

PERIOD_TABLES = ("period_mover", "branch_period_total", "person_branch_period")


def install(connection: Connection) -> None:
    """Create the triggers."""
    if connection.dialect.name == "sqlite":
        statements = triggers_sqlite.change_log_triggers()
    else:
        statements = triggers_pg.trigger_statements()
    for statement in statements:
        connection.exec_driver_sql(statement)


def uninstall(connection: Connection) -> None:
    for name in TRIGGER_NAMES:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        else:
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON service_session")
            connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS {name}()")


def _fresh_selects(dialect: str) -> dict[str, str]:
    """SELECTs computing each table from the sessions, in column order."""
    counted = COUNTED.format(r="service_session")
    presence = " UNION ALL ".join(
        f"SELECT person_id, {p} AS period, branch_id, count(*) AS sessions "
        f"FROM service_session WHERE {counted} GROUP BY person_id, {p}, branch_id"
        for p in period_expressions(dialect, "local_date"))
    sums = ", ".join(f"sum({c})" for c in SUMMED)
    totals = " UNION ALL ".join(
        f"SELECT branch_id, {p} AS period, {sums}, "
        f"count(*), count(DISTINCT person_id) FROM service_session WHERE {counted} "
        f"GROUP BY branch_id, {p}"
        for p in period_expressions(dialect, "local_date"))
    movers = (f"SELECT period, person_id FROM ({presence}) AS presence "
              f"GROUP BY period, person_id HAVING count(*) > 1")
    return {"person_branch_period": presence, "branch_period_total": totals,
            "period_mover": movers}


def _periods_of_month(dialect: str, month: str) -> list[str]:
    """The month, quarter and year keys of a ``YYYY-MM`` text column."""
    number = (f"CAST(substr({month}, 6, 2) AS INTEGER)" if dialect == "sqlite"
              else f"substr({month}, 6, 2)::int")
    return [month, f"substr({month}, 1, 4) || '-Q' || (({number} + 2) / 3)",
            f"substr({month}, 1, 4)"]


def rebuild(connection: Connection) -> None:
    """Recompute the three tables from the sessions (after a bulk load, or to
    repair). One pass over the sessions, per person, branch and month, into
    a scratch table; quarters, years, totals and movers come from that."""
    dialect = connection.dialect.name
    month = period_expressions(dialect, "local_date")[0]
    run = connection.exec_driver_sql
    for table in PERIOD_TABLES:
        run(f"DELETE FROM {table}")
    if dialect == "sqlite" and connection.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE name = 'service_total_change'").first():
        # Changes not yet folded are in the sessions the rebuild reads (the
        # log is absent when an old revision's migration rebuilds).
        run("DELETE FROM service_total_change")
    run("DROP TABLE IF EXISTS rebuild_month")
    # SQLite, before statistics exist, walks the (person, time) index to save
    # a sort and fetches each session from wherever it lies: on a 10 GB
    # city that is random reads for hours. Read the table in its order.
    sessions = "service_session NOT INDEXED" if dialect == "sqlite" else "service_session"
    summed = ", ".join(SUMMED)
    sums = ", ".join(f"sum({c}) AS {c}" for c in SUMMED)
    run(f"CREATE TEMPORARY TABLE rebuild_month AS "
        f"SELECT person_id, branch_id, {month} AS month, count(*) AS sessions, {sums} "
        f"FROM {sessions} WHERE {COUNTED.format(r='service_session')} "
        f"GROUP BY person_id, branch_id, {month}")
    run("DROP TABLE IF EXISTS rebuild_period")
    run("CREATE TEMPORARY TABLE rebuild_period AS " + " UNION ALL ".join(
        f"SELECT person_id, {p} AS period, branch_id, sum(sessions) AS sessions, {sums} "
        f"FROM rebuild_month "
        f"GROUP BY person_id, {p}, branch_id" for p in _periods_of_month(dialect, "month")))
    run("INSERT INTO person_branch_period (person_id, period, branch_id, sessions) "
        "SELECT person_id, period, branch_id, sessions FROM rebuild_period")
    run(f"INSERT INTO branch_period_total (period, branch_id, {summed}, sessions, people) "
        f"SELECT period, branch_id, {', '.join(f'sum({c})' for c in SUMMED)}, sum(sessions), "
        "count(*) FROM rebuild_period GROUP BY period, branch_id")
    run("INSERT INTO period_mover (period, person_id) SELECT period, person_id "
        "FROM rebuild_period GROUP BY period, person_id HAVING count(*) > 1")
    run("DROP TABLE rebuild_month")
    run("DROP TABLE rebuild_period")


def differences(connection: Connection) -> dict[str, int]:
    """Rows in which each maintained table differs from a fresh computation
    (zero everywhere when the triggers did their job). Rows left at zero
    sessions by removals are not differences."""
    selects = _fresh_selects(connection.dialect.name)
    stored = {
        "person_branch_period": "SELECT person_id, period, branch_id, sessions "
                                "FROM person_branch_period WHERE sessions <> 0",
        "branch_period_total": (f"SELECT branch_id, period, {', '.join(SUMMED)}, "
                                "sessions, people FROM branch_period_total WHERE "
                                + " OR ".join(f"{c} <> 0"
                                              for c in (*SUMMED, "sessions", "people"))),
        "period_mover": "SELECT period, person_id FROM period_mover",
    }
    result = {}
    for table, fresh in selects.items():
        # SQLite takes no parenthesised compound SELECTs; subqueries it does.
        kept = f"SELECT * FROM ({stored[table]}) AS kept"
        computed = f"SELECT * FROM ({fresh}) AS computed"
        result[table] = connection.exec_driver_sql(
            f"SELECT count(*) FROM (SELECT * FROM ({kept} EXCEPT {computed}) AS a "
            f"UNION ALL SELECT * FROM ({computed} EXCEPT {kept}) AS b) AS d").scalar()
    return result
