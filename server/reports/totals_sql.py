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

The migration that installs these calls ``install``; a change to the SQL
here needs a new revision that calls ``uninstall`` and ``install`` again.
"""
from __future__ import annotations

from sqlalchemy.engine import Connection

PERIOD_TABLES = ("period_mover", "branch_period_total", "person_branch_period")

#: Period keys of a date column, per dialect: month, quarter, year.
_PERIODS = {
    "sqlite": ("substr({d}, 1, 7)",
               "substr({d}, 1, 4) || '-Q' || ((CAST(substr({d}, 6, 2) AS INTEGER) + 2) / 3)",
               "substr({d}, 1, 4)"),
    "postgresql": ("to_char({d}, 'YYYY-MM')", "to_char({d}, 'YYYY-\"Q\"Q')",
                   "to_char({d}, 'YYYY')"),
}

_COUNTED = "{r}.branch_id IS NOT NULL AND {r}.status <> 'rejected'"


def period_expressions(dialect: str, date_column: str) -> list[str]:
    return [p.format(d=date_column) for p in _PERIODS[dialect]]


# --- SQLite: row triggers ------------------------------------------------------------

def _sqlite_add(period: str) -> list[str]:
    """Statements adding the NEW row to one period's figures."""
    key = (f"person_id = NEW.person_id AND period = {period} "
           f"AND branch_id = NEW.branch_id")
    counted = _COUNTED.format(r="NEW")
    return [
        f"INSERT INTO person_branch_period (person_id, period, branch_id, sessions) "
        f"SELECT NEW.person_id, {period}, NEW.branch_id, 1 WHERE {counted} "
        f"ON CONFLICT (person_id, period, branch_id) DO UPDATE SET sessions = sessions + 1",
        f"INSERT INTO branch_period_total (branch_id, period, credited_seconds, "
        f"pending_seconds, sessions, people) "
        f"SELECT NEW.branch_id, {period}, NEW.credited_seconds, NEW.pending_seconds, 1, "
        f"sessions = 1 FROM person_branch_period WHERE {key} AND {counted} "
        f"ON CONFLICT (period, branch_id) DO UPDATE SET "
        f"credited_seconds = credited_seconds + excluded.credited_seconds, "
        f"pending_seconds = pending_seconds + excluded.pending_seconds, "
        f"sessions = sessions + 1, people = people + excluded.people",
        f"INSERT INTO period_mover (period, person_id) SELECT {period}, NEW.person_id "
        f"WHERE {counted} AND (SELECT count(*) FROM person_branch_period "
        f"WHERE person_id = NEW.person_id AND period = {period} AND sessions > 0) > 1 "
        f"ON CONFLICT DO NOTHING",
    ]


def _sqlite_remove(period: str) -> list[str]:
    """Statements taking the OLD row out of one period's figures."""
    key = (f"person_id = OLD.person_id AND period = {period} "
           f"AND branch_id = OLD.branch_id")
    counted = _COUNTED.format(r="OLD")
    return [
        f"UPDATE person_branch_period SET sessions = sessions - 1 WHERE {key} AND {counted}",
        f"UPDATE branch_period_total SET "
        f"credited_seconds = credited_seconds - OLD.credited_seconds, "
        f"pending_seconds = pending_seconds - OLD.pending_seconds, sessions = sessions - 1, "
        f"people = people - (SELECT sessions = 0 FROM person_branch_period WHERE {key}) "
        f"WHERE branch_id = OLD.branch_id AND period = {period} AND {counted}",
        f"DELETE FROM period_mover WHERE period = {period} AND person_id = OLD.person_id "
        f"AND {counted} AND (SELECT count(*) FROM person_branch_period "
        f"WHERE person_id = OLD.person_id AND period = {period} AND sessions > 0) < 2",
    ]


_WATCHED = ("person_id", "branch_id", "local_date", "status", "credited_seconds",
            "pending_seconds")


def _sqlite_row_triggers() -> list[str]:
    """The first SQLite triggers (revisions 756ba0c90610 to f05d623b5649):
    nine statements per changed session. Kept for the downgrade of the
    revision that replaced them with the change log."""
    new_periods = period_expressions("sqlite", "NEW.local_date")
    old_periods = period_expressions("sqlite", "OLD.local_date")
    add = [s for p in new_periods for s in _sqlite_add(p)]
    remove = [s for p in old_periods for s in _sqlite_remove(p)]
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in _WATCHED)

    def body(statements):
        return "BEGIN " + "; ".join(statements) + "; END"

    return [
        "CREATE TRIGGER service_totals_insert AFTER INSERT ON service_session "
        f"WHEN {_COUNTED.format(r='NEW')} " + body(add),
        "CREATE TRIGGER service_totals_delete AFTER DELETE ON service_session "
        f"WHEN {_COUNTED.format(r='OLD')} " + body(remove),
        "CREATE TRIGGER service_totals_update AFTER UPDATE ON service_session "
        f"WHEN {changed} " + body(remove + add),
    ]


_CHANGE_COLUMNS = ("person_id", "branch_id", "local_date", "credited_seconds",
                   "pending_seconds")


def _log_change(row: str, sign: int) -> str:
    values = ", ".join(f"{row}.{c}" for c in _CHANGE_COLUMNS)
    return (f"INSERT INTO service_total_change ({', '.join(_CHANGE_COLUMNS)}, sign) "
            f"SELECT {values}, {sign} WHERE {_COUNTED.format(r=row)}")


def _sqlite_triggers() -> list[str]:
    """One appended row per counted session in or out; ``fold`` does the rest."""
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in _WATCHED)
    return [
        "CREATE TRIGGER service_totals_insert AFTER INSERT ON service_session "
        f"WHEN {_COUNTED.format(r='NEW')} BEGIN {_log_change('NEW', 1)}; END",
        "CREATE TRIGGER service_totals_delete AFTER DELETE ON service_session "
        f"WHEN {_COUNTED.format(r='OLD')} BEGIN {_log_change('OLD', -1)}; END",
        "CREATE TRIGGER service_totals_update AFTER UPDATE ON service_session "
        f"WHEN {changed} BEGIN {_log_change('OLD', -1)}; {_log_change('NEW', 1)}; END",
    ]


def _fold_statements() -> list[str]:
    """SQLite: the change log into the figures, as the PostgreSQL trigger
    function does it from transition tables. Order matters: the totals'
    people need the presence before it changes, the movers after."""
    month, quarter, year = period_expressions("sqlite", "local_date")
    by_period = " UNION ALL ".join(
        f"SELECT person_id, branch_id, {p} AS period, sign, sign * credited_seconds "
        f"AS credited, sign * pending_seconds AS pending FROM service_total_change"
        for p in (month, quarter, year))
    common = (f"WITH by_period AS ({by_period}), "
              "presence AS (SELECT person_id, period, branch_id, sum(sign) AS n "
              "FROM by_period GROUP BY person_id, period, branch_id HAVING sum(sign) <> 0)")
    before = "coalesce(b.sessions, 0)"
    totals = (
        f"{common}, crossings AS (SELECT p.branch_id, p.period, "
        f"CASE WHEN {before} = 0 AND {before} + p.n > 0 THEN 1 "
        f"WHEN {before} > 0 AND {before} + p.n = 0 THEN -1 ELSE 0 END AS people "
        "FROM presence p LEFT JOIN person_branch_period b ON b.person_id = p.person_id "
        "AND b.period = p.period AND b.branch_id = p.branch_id), "
        "deltas AS (SELECT branch_id, period, credited, pending, sign AS sessions, "
        "0 AS people FROM by_period UNION ALL "
        "SELECT branch_id, period, 0, 0, 0, people FROM crossings), "
        "summed AS (SELECT branch_id, period, sum(credited) AS credited, "
        "sum(pending) AS pending, sum(sessions) AS sessions, sum(people) AS people "
        "FROM deltas GROUP BY branch_id, period) "
        "INSERT INTO branch_period_total (branch_id, period, credited_seconds, "
        "pending_seconds, sessions, people) "
        "SELECT branch_id, period, credited, pending, sessions, people FROM summed "
        "WHERE credited <> 0 OR pending <> 0 OR sessions <> 0 OR people <> 0 "
        "ON CONFLICT (period, branch_id) DO UPDATE SET "
        "credited_seconds = credited_seconds + excluded.credited_seconds, "
        "pending_seconds = pending_seconds + excluded.pending_seconds, "
        "sessions = sessions + excluded.sessions, people = people + excluded.people")
    presence = (
        f"{common} INSERT INTO person_branch_period (person_id, period, branch_id, sessions) "
        "SELECT person_id, period, branch_id, n FROM presence WHERE true "
        "ON CONFLICT (person_id, period, branch_id) "
        "DO UPDATE SET sessions = sessions + excluded.sessions")
    branches = (
        f"{common}, branches AS (SELECT t.person_id, t.period, "
        "(SELECT count(*) FROM person_branch_period b WHERE b.person_id = t.person_id "
        "AND b.period = t.period AND b.sessions > 0) AS n "
        "FROM (SELECT DISTINCT person_id, period FROM presence) t)")
    movers_out = (f"{branches} DELETE FROM period_mover WHERE (period, person_id) IN "
                  "(SELECT period, person_id FROM branches WHERE n < 2)")
    movers_in = (f"{branches} INSERT INTO period_mover (period, person_id) "
                 "SELECT period, person_id FROM branches WHERE n >= 2 ON CONFLICT DO NOTHING")
    return [totals, presence, movers_out, movers_in, "DELETE FROM service_total_change"]


def fold(connection: Connection) -> None:
    """SQLite: apply the logged session changes to the figures, in the
    caller's transaction. Nothing to do on PostgreSQL, or when nothing changed."""
    if connection.dialect.name != "sqlite":
        return
    if connection.exec_driver_sql(
            "SELECT EXISTS (SELECT 1 FROM service_total_change)").scalar():
        for statement in _FOLD_STATEMENTS:
            connection.exec_driver_sql(statement)


_FOLD_STATEMENTS = _fold_statements()


# --- PostgreSQL: statement triggers with transition tables ----------------------------

def _pg_function(name: str, sources: list[tuple[str, int]]) -> str:
    """A trigger function folding the transition tables ``sources`` (table,
    sign) into the figures: two set-based statements per triggering statement."""
    month, quarter, year = period_expressions("postgresql", "c.local_date")
    changed = " UNION ALL ".join(
        f"SELECT person_id, branch_id, local_date, credited_seconds, pending_seconds, "
        f"{sign} AS sign FROM {table} WHERE {_COUNTED.format(r=table)}"
        for table, sign in sources)
    by_period = (
        f"changed AS ({changed}), "
        f"by_period AS (SELECT c.person_id, c.branch_id, p.period, c.sign, "
        f"c.sign * c.credited_seconds AS credited, c.sign * c.pending_seconds AS pending "
        f"FROM changed c CROSS JOIN LATERAL (VALUES ({month}), ({quarter}), ({year})) "
        f"AS p(period))")
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  WITH {by_period},
  presence AS (
    SELECT person_id, period, branch_id, sum(sign) AS n FROM by_period
    GROUP BY person_id, period, branch_id HAVING sum(sign) <> 0),
  counted AS (
    INSERT INTO person_branch_period AS t (person_id, period, branch_id, sessions)
    SELECT person_id, period, branch_id, n FROM presence
    ORDER BY person_id, period, branch_id
    ON CONFLICT (person_id, period, branch_id)
    DO UPDATE SET sessions = t.sessions + excluded.sessions
    RETURNING t.person_id, t.period, t.branch_id, t.sessions),
  crossings AS (
    SELECT c.branch_id, c.period,
           CASE WHEN c.sessions = p.n AND c.sessions > 0 THEN 1
                WHEN c.sessions = 0 THEN -1 ELSE 0 END AS people
    FROM counted c JOIN presence p USING (person_id, period, branch_id)),
  deltas AS (
    SELECT branch_id, period, credited, pending, sign AS sessions, 0 AS people FROM by_period
    UNION ALL
    SELECT branch_id, period, 0, 0, 0, people FROM crossings)
  INSERT INTO branch_period_total AS t
    (branch_id, period, credited_seconds, pending_seconds, sessions, people)
  SELECT branch_id, period, sum(credited), sum(pending), sum(sessions), sum(people)
  FROM deltas GROUP BY branch_id, period
  HAVING sum(credited) <> 0 OR sum(pending) <> 0 OR sum(sessions) <> 0 OR sum(people) <> 0
  ORDER BY branch_id, period
  ON CONFLICT (period, branch_id) DO UPDATE SET
    credited_seconds = t.credited_seconds + excluded.credited_seconds,
    pending_seconds = t.pending_seconds + excluded.pending_seconds,
    sessions = t.sessions + excluded.sessions, people = t.people + excluded.people;

  -- Sub-statements of one WITH do not see each other's writes, so movers
  -- are settled by a second statement, which sees the new presence.
  WITH {by_period},
  touched AS (SELECT DISTINCT person_id, period FROM (
    SELECT person_id, period FROM by_period GROUP BY person_id, period, branch_id
    HAVING sum(sign) <> 0) AS crossed),
  branches AS (
    SELECT t.person_id, t.period, count(b.branch_id) AS n FROM touched t
    LEFT JOIN person_branch_period b
      ON b.person_id = t.person_id AND b.period = t.period AND b.sessions > 0
    GROUP BY t.person_id, t.period),
  settled AS (
    DELETE FROM period_mover m USING branches b
    WHERE m.person_id = b.person_id AND m.period = b.period AND b.n < 2)
  INSERT INTO period_mover (period, person_id)
  SELECT period, person_id FROM branches WHERE n >= 2 ORDER BY period, person_id
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END $fn$"""


_PG_TRIGGERS = (
    ("service_totals_insert", "INSERT", "REFERENCING NEW TABLE AS new_rows",
     [("new_rows", 1)]),
    ("service_totals_delete", "DELETE", "REFERENCING OLD TABLE AS old_rows",
     [("old_rows", -1)]),
    ("service_totals_update", "UPDATE",
     "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
     [("old_rows", -1), ("new_rows", 1)]),
)


def _pg_statements() -> list[str]:
    statements = []
    for name, event, referencing, sources in _PG_TRIGGERS:
        statements.append(_pg_function(name, sources))
        statements.append(f"CREATE TRIGGER {name} AFTER {event} ON service_session "
                          f"{referencing} FOR EACH STATEMENT EXECUTE FUNCTION {name}()")
    return statements


# --- Install, remove, rebuild, check -------------------------------------------------

def install(connection: Connection, sqlite_row_triggers: bool = False) -> None:
    """Create the triggers (``sqlite_row_triggers``: the first SQLite ones,
    for a downgrade)."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        statements = _sqlite_row_triggers() if sqlite_row_triggers else _sqlite_triggers()
    else:
        statements = _pg_statements()
    for statement in statements:
        connection.exec_driver_sql(statement)


def uninstall(connection: Connection) -> None:
    for name, *_ in _PG_TRIGGERS:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        else:
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON service_session")
            connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS {name}()")


def _fresh_selects(dialect: str) -> dict[str, str]:
    """SELECTs computing each table from the sessions, in column order."""
    counted = _COUNTED.format(r="service_session")
    presence = " UNION ALL ".join(
        f"SELECT person_id, {p} AS period, branch_id, count(*) AS sessions "
        f"FROM service_session WHERE {counted} GROUP BY person_id, {p}, branch_id"
        for p in period_expressions(dialect, "local_date"))
    totals = " UNION ALL ".join(
        f"SELECT branch_id, {p} AS period, sum(credited_seconds), sum(pending_seconds), "
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
    run(f"CREATE TEMPORARY TABLE rebuild_month AS "
        f"SELECT person_id, branch_id, {month} AS month, count(*) AS sessions, "
        f"sum(credited_seconds) AS credited, sum(pending_seconds) AS pending "
        f"FROM {sessions} WHERE {_COUNTED.format(r='service_session')} "
        f"GROUP BY person_id, branch_id, {month}")
    run("DROP TABLE IF EXISTS rebuild_period")
    run("CREATE TEMPORARY TABLE rebuild_period AS " + " UNION ALL ".join(
        f"SELECT person_id, {p} AS period, branch_id, sum(sessions) AS sessions, "
        f"sum(credited) AS credited, sum(pending) AS pending FROM rebuild_month "
        f"GROUP BY person_id, {p}, branch_id" for p in _periods_of_month(dialect, "month")))
    run("INSERT INTO person_branch_period (person_id, period, branch_id, sessions) "
        "SELECT person_id, period, branch_id, sessions FROM rebuild_period")
    run("INSERT INTO branch_period_total (period, branch_id, credited_seconds, "
        "pending_seconds, sessions, people) "
        "SELECT period, branch_id, sum(credited), sum(pending), sum(sessions), count(*) "
        "FROM rebuild_period GROUP BY period, branch_id")
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
        "branch_period_total": "SELECT branch_id, period, credited_seconds, pending_seconds, "
                               "sessions, people FROM branch_period_total "
                               "WHERE sessions <> 0 OR credited_seconds <> 0 "
                               "OR pending_seconds <> 0 OR people <> 0",
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
