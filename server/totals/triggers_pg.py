"""PostgreSQL's service-total triggers: per statement, with transition
tables, so a push batch updates each figure once however many sessions it
touched (server/totals/triggers.py says why triggers)."""
from __future__ import annotations

from server.totals.rules import COUNTED, SUMMED, period_expressions


def _pg_function(name: str, sources: list[tuple[str, int]]) -> str:
    """A trigger function folding the transition tables ``sources`` (table,
    sign) into the figures: two set-based statements per triggering statement."""
    month, quarter, year = period_expressions("postgresql", "c.local_date")
    changed = " UNION ALL ".join(
        f"SELECT person_id, branch_id, local_date, {', '.join(SUMMED)}, "
        f"{sign} AS sign FROM {table} WHERE {COUNTED.format(r=table)}"
        for table, sign in sources)
    signed = ", ".join(f"c.sign * c.{c} AS {c}" for c in SUMMED)
    by_period = (
        f"changed AS ({changed}), "
        f"by_period AS (SELECT c.person_id, c.branch_id, p.period, c.sign, {signed} "
        f"FROM changed c CROSS JOIN LATERAL (VALUES ({month}), ({quarter}), ({year})) "
        f"AS p(period))")
    summed = ", ".join(SUMMED)
    zeros = ", ".join("0" for _ in SUMMED)
    sums = ", ".join(f"sum({c})" for c in SUMMED)
    nonzero = " OR ".join(f"sum({c}) <> 0" for c in (*SUMMED, "sessions", "people"))
    added = ",\n    ".join(
        f"{c} = t.{c} + excluded.{c}" for c in (*SUMMED, "sessions", "people"))
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
    SELECT branch_id, period, {summed}, sign AS sessions, 0 AS people FROM by_period
    UNION ALL
    SELECT branch_id, period, {zeros}, 0, people FROM crossings)
  INSERT INTO branch_period_total AS t
    (branch_id, period, {summed}, sessions, people)
  SELECT branch_id, period, {sums}, sum(sessions), sum(people)
  FROM deltas GROUP BY branch_id, period
  HAVING {nonzero}
  ORDER BY branch_id, period
  ON CONFLICT (period, branch_id) DO UPDATE SET
    {added};

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


def trigger_statements() -> list[str]:
    statements = []
    for name, event, referencing, sources in _PG_TRIGGERS:
        statements.append(_pg_function(name, sources))
        statements.append(f"CREATE TRIGGER {name} AFTER {event} ON service_session "
                          f"{referencing} FOR EACH STATEMENT EXECUTE FUNCTION {name}()")
    return statements
