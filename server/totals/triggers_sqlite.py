"""SQLite's service-total triggers: each counted session in or out appends
a row to ``service_total_change``, and ``fold`` applies a transaction's
rows set-based before it commits (server/totals/triggers.py says why)."""
from __future__ import annotations

from sqlalchemy.engine import Connection

from server.totals.rules import COUNTED, SUMMED, period_expressions


_WATCHED = ("person_id", "branch_id", "local_date", "status", *SUMMED)


_CHANGE_COLUMNS = ("person_id", "branch_id", "local_date", *SUMMED)


def _log_change(row: str, sign: int) -> str:
    values = ", ".join(f"{row}.{c}" for c in _CHANGE_COLUMNS)
    return (f"INSERT INTO service_total_change ({', '.join(_CHANGE_COLUMNS)}, sign) "
            f"SELECT {values}, {sign} WHERE {COUNTED.format(r=row)}")


def change_log_triggers() -> list[str]:
    """One appended row per counted session in or out; ``fold`` does the rest."""
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in _WATCHED)
    return [
        "CREATE TRIGGER service_totals_insert AFTER INSERT ON service_session "
        f"WHEN {COUNTED.format(r='NEW')} BEGIN {_log_change('NEW', 1)}; END",
        "CREATE TRIGGER service_totals_delete AFTER DELETE ON service_session "
        f"WHEN {COUNTED.format(r='OLD')} BEGIN {_log_change('OLD', -1)}; END",
        "CREATE TRIGGER service_totals_update AFTER UPDATE ON service_session "
        f"WHEN {changed} BEGIN {_log_change('OLD', -1)}; {_log_change('NEW', 1)}; END",
    ]


#: The change log's net presence per (person, period, branch), computed once
#: per fold: each of the statements after it reads it (as a CTE each took a
#: quarter of the fold's time).
_PRESENCE = "service_total_presence"


def _fold_statements() -> list[str]:
    """SQLite: the change log into the figures, as the PostgreSQL trigger
    function does it from transition tables. Order matters: the totals'
    people need the presence before it changes, the movers after."""
    month, quarter, year = period_expressions("sqlite", "local_date")
    signed = ", ".join(f"sign * {c} AS {c}" for c in SUMMED)
    by_period = " UNION ALL ".join(
        f"SELECT person_id, branch_id, {p} AS period, sign, {signed} "
        f"FROM service_total_change"
        for p in (month, quarter, year))
    presence = (
        f"CREATE TEMP TABLE IF NOT EXISTS {_PRESENCE} "
        "(person_id INTEGER, period TEXT, branch_id INTEGER, n INTEGER)",
        f"WITH by_period AS ({by_period}) INSERT INTO temp.{_PRESENCE} "
        "SELECT person_id, period, branch_id, sum(sign) FROM by_period "
        "GROUP BY person_id, period, branch_id HAVING sum(sign) <> 0")
    before = "coalesce(b.sessions, 0)"
    zeros = ", ".join("0" for _ in SUMMED)
    summed = ", ".join(f"sum({c}) AS {c}" for c in SUMMED)
    nonzero = " OR ".join(f"{c} <> 0" for c in (*SUMMED, "sessions", "people"))
    added = ", ".join(f"{c} = {c} + excluded.{c}" for c in (*SUMMED, "sessions", "people"))
    totals = (
        f"WITH by_period AS ({by_period}), crossings AS (SELECT p.branch_id, p.period, "
        f"CASE WHEN {before} = 0 AND {before} + p.n > 0 THEN 1 "
        f"WHEN {before} > 0 AND {before} + p.n = 0 THEN -1 ELSE 0 END AS people "
        f"FROM temp.{_PRESENCE} p LEFT JOIN person_branch_period b "
        "ON b.person_id = p.person_id AND b.period = p.period AND b.branch_id = p.branch_id), "
        f"deltas AS (SELECT branch_id, period, {', '.join(SUMMED)}, sign AS sessions, "
        "0 AS people FROM by_period UNION ALL "
        f"SELECT branch_id, period, {zeros}, 0, people FROM crossings), "
        f"summed AS (SELECT branch_id, period, {summed}, sum(sessions) AS sessions, "
        "sum(people) AS people FROM deltas GROUP BY branch_id, period) "
        f"INSERT INTO branch_period_total (branch_id, period, {', '.join(SUMMED)}, "
        f"sessions, people) SELECT branch_id, period, {', '.join(SUMMED)}, sessions, people "
        f"FROM summed WHERE {nonzero} "
        f"ON CONFLICT (period, branch_id) DO UPDATE SET {added}")
    presence_in = (
        "INSERT INTO person_branch_period (person_id, period, branch_id, sessions) "
        f"SELECT person_id, period, branch_id, n FROM temp.{_PRESENCE} WHERE true "
        "ON CONFLICT (person_id, period, branch_id) "
        "DO UPDATE SET sessions = sessions + excluded.sessions")
    branches = (
        "WITH branches AS (SELECT t.person_id, t.period, "
        "(SELECT count(*) FROM person_branch_period b WHERE b.person_id = t.person_id "
        "AND b.period = t.period AND b.sessions > 0) AS n "
        f"FROM (SELECT DISTINCT person_id, period FROM temp.{_PRESENCE}) t)")
    movers_out = (f"{branches} DELETE FROM period_mover WHERE (period, person_id) IN "
                  "(SELECT period, person_id FROM branches WHERE n < 2)")
    movers_in = (f"{branches} INSERT INTO period_mover (period, person_id) "
                 "SELECT period, person_id FROM branches WHERE n >= 2 ON CONFLICT DO NOTHING")
    return [*presence, totals, presence_in, movers_out, movers_in,
            f"DELETE FROM temp.{_PRESENCE}", "DELETE FROM service_total_change"]


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
