"""service totals per branch and period

Revision ID: 756ba0c90610
Revises: fb74cb49664c
Create Date: 2026-11-23 18:02:10.166001

"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = '756ba0c90610'
down_revision = 'fb74cb49664c'
branch_labels = None
depends_on = None

# The SQL this revision ran, carried here rather than imported from the
# application, so that the revision stays what it was whatever the app
# becomes (docs/migrations.md).

#: SQLite: the service totals' row triggers (nine statements per changed session).
SQLITE_ROW_TRIGGERS = [
    ("CREATE TRIGGER service_totals_insert AFTER INSERT ON service_session WHEN NEW.branch_id "
     "IS NOT NULL AND NEW.status <> 'rejected' BEGIN INSERT INTO person_branch_period "
     "(person_id, period, branch_id, sessions) SELECT NEW.person_id, substr(NEW.local_date, 1,"
     " 7), NEW.branch_id, 1 WHERE NEW.branch_id IS NOT NULL AND NEW.status <> 'rejected' ON "
     "CONFLICT (person_id, period, branch_id) DO UPDATE SET sessions = sessions + 1; INSERT "
     "INTO branch_period_total (branch_id, period, credited_seconds, pending_seconds, "
     "sessions, people) SELECT NEW.branch_id, substr(NEW.local_date, 1, 7), "
     "NEW.credited_seconds, NEW.pending_seconds, 1, sessions = 1 FROM person_branch_period "
     "WHERE person_id = NEW.person_id AND period = substr(NEW.local_date, 1, 7) AND branch_id "
     "= NEW.branch_id AND NEW.branch_id IS NOT NULL AND NEW.status <> 'rejected' ON CONFLICT "
     "(period, branch_id) DO UPDATE SET credited_seconds = credited_seconds + "
     "excluded.credited_seconds, pending_seconds = pending_seconds + excluded.pending_seconds,"
     " sessions = sessions + 1, people = people + excluded.people; INSERT INTO period_mover "
     "(period, person_id) SELECT substr(NEW.local_date, 1, 7), NEW.person_id WHERE "
     "NEW.branch_id IS NOT NULL AND NEW.status <> 'rejected' AND (SELECT count(*) FROM "
     "person_branch_period WHERE person_id = NEW.person_id AND period = substr(NEW.local_date,"
     " 1, 7) AND sessions > 0) > 1 ON CONFLICT DO NOTHING; INSERT INTO person_branch_period "
     "(person_id, period, branch_id, sessions) SELECT NEW.person_id, substr(NEW.local_date, 1,"
     " 4) || '-Q' || ((CAST(substr(NEW.local_date, 6, 2) AS INTEGER) + 2) / 3), NEW.branch_id,"
     " 1 WHERE NEW.branch_id IS NOT NULL AND NEW.status <> 'rejected' ON CONFLICT (person_id, "
     "period, branch_id) DO UPDATE SET sessions = sessions + 1; INSERT INTO "
     "branch_period_total (branch_id, period, credited_seconds, pending_seconds, sessions, "
     "people) SELECT NEW.branch_id, substr(NEW.local_date, 1, 4) || '-Q' || "
     "((CAST(substr(NEW.local_date, 6, 2) AS INTEGER) + 2) / 3), NEW.credited_seconds, "
     "NEW.pending_seconds, 1, sessions = 1 FROM person_branch_period WHERE person_id = "
     "NEW.person_id AND period = substr(NEW.local_date, 1, 4) || '-Q' || "
     "((CAST(substr(NEW.local_date, 6, 2) AS INTEGER) + 2) / 3) AND branch_id = NEW.branch_id "
     "AND NEW.branch_id IS NOT NULL AND NEW.status <> 'rejected' ON CONFLICT (period, "
     "branch_id) DO UPDATE SET credited_seconds = credited_seconds + "
     "excluded.credited_seconds, pending_seconds = pending_seconds + excluded.pending_seconds,"
     " sessions = sessions + 1, people = people + excluded.people; INSERT INTO period_mover "
     "(period, person_id) SELECT substr(NEW.local_date, 1, 4) || '-Q' || "
     "((CAST(substr(NEW.local_date, 6, 2) AS INTEGER) + 2) / 3), NEW.person_id WHERE "
     "NEW.branch_id IS NOT NULL AND NEW.status <> 'rejected' AND (SELECT count(*) FROM "
     "person_branch_period WHERE person_id = NEW.person_id AND period = substr(NEW.local_date,"
     " 1, 4) || '-Q' || ((CAST(substr(NEW.local_date, 6, 2) AS INTEGER) + 2) / 3) AND sessions"
     " > 0) > 1 ON CONFLICT DO NOTHING; INSERT INTO person_branch_period (person_id, period, "
     "branch_id, sessions) SELECT NEW.person_id, substr(NEW.local_date, 1, 4), NEW.branch_id, "
     "1 WHERE NEW.branch_id IS NOT NULL AND NEW.status <> 'rejected' ON CONFLICT (person_id, "
     "period, branch_id) DO UPDATE SET sessions = sessions + 1; INSERT INTO "
     "branch_period_total (branch_id, period, credited_seconds, pending_seconds, sessions, "
     "people) SELECT NEW.branch_id, substr(NEW.local_date, 1, 4), NEW.credited_seconds, "
     "NEW.pending_seconds, 1, sessions = 1 FROM person_branch_period WHERE person_id = "
     "NEW.person_id AND period = substr(NEW.local_date, 1, 4) AND branch_id = NEW.branch_id "
     "AND NEW.branch_id IS NOT NULL AND NEW.status <> 'rejected' ON CONFLICT (period, "
     "branch_id) DO UPDATE SET credited_seconds = credited_seconds + "
     "excluded.credited_seconds, pending_seconds = pending_seconds + excluded.pending_seconds,"
     " sessions = sessions + 1, people = people + excluded.people; INSERT INTO period_mover "
     "(period, person_id) SELECT substr(NEW.local_date, 1, 4), NEW.person_id WHERE "
     "NEW.branch_id IS NOT NULL AND NEW.status <> 'rejected' AND (SELECT count(*) FROM "
     "person_branch_period WHERE person_id = NEW.person_id AND period = substr(NEW.local_date,"
     " 1, 4) AND sessions > 0) > 1 ON CONFLICT DO NOTHING; END"),
    ("CREATE TRIGGER service_totals_delete AFTER DELETE ON service_session WHEN OLD.branch_id "
     "IS NOT NULL AND OLD.status <> 'rejected' BEGIN UPDATE person_branch_period SET sessions "
     "= sessions - 1 WHERE person_id = OLD.person_id AND period = substr(OLD.local_date, 1, 7)"
     " AND branch_id = OLD.branch_id AND OLD.branch_id IS NOT NULL AND OLD.status <> "
     "'rejected'; UPDATE branch_period_total SET credited_seconds = credited_seconds - "
     "OLD.credited_seconds, pending_seconds = pending_seconds - OLD.pending_seconds, sessions "
     "= sessions - 1, people = people - (SELECT sessions = 0 FROM person_branch_period WHERE "
     "person_id = OLD.person_id AND period = substr(OLD.local_date, 1, 7) AND branch_id = "
     "OLD.branch_id) WHERE branch_id = OLD.branch_id AND period = substr(OLD.local_date, 1, 7)"
     " AND OLD.branch_id IS NOT NULL AND OLD.status <> 'rejected'; DELETE FROM period_mover "
     "WHERE period = substr(OLD.local_date, 1, 7) AND person_id = OLD.person_id AND "
     "OLD.branch_id IS NOT NULL AND OLD.status <> 'rejected' AND (SELECT count(*) FROM "
     "person_branch_period WHERE person_id = OLD.person_id AND period = substr(OLD.local_date,"
     " 1, 7) AND sessions > 0) < 2; UPDATE person_branch_period SET sessions = sessions - 1 "
     "WHERE person_id = OLD.person_id AND period = substr(OLD.local_date, 1, 4) || '-Q' || "
     "((CAST(substr(OLD.local_date, 6, 2) AS INTEGER) + 2) / 3) AND branch_id = OLD.branch_id "
     "AND OLD.branch_id IS NOT NULL AND OLD.status <> 'rejected'; UPDATE branch_period_total "
     "SET credited_seconds = credited_seconds - OLD.credited_seconds, pending_seconds = "
     "pending_seconds - OLD.pending_seconds, sessions = sessions - 1, people = people - "
     "(SELECT sessions = 0 FROM person_branch_period WHERE person_id = OLD.person_id AND "
     "period = substr(OLD.local_date, 1, 4) || '-Q' || ((CAST(substr(OLD.local_date, 6, 2) AS "
     "INTEGER) + 2) / 3) AND branch_id = OLD.branch_id) WHERE branch_id = OLD.branch_id AND "
     "period = substr(OLD.local_date, 1, 4) || '-Q' || ((CAST(substr(OLD.local_date, 6, 2) AS "
     "INTEGER) + 2) / 3) AND OLD.branch_id IS NOT NULL AND OLD.status <> 'rejected'; DELETE "
     "FROM period_mover WHERE period = substr(OLD.local_date, 1, 4) || '-Q' || "
     "((CAST(substr(OLD.local_date, 6, 2) AS INTEGER) + 2) / 3) AND person_id = OLD.person_id "
     "AND OLD.branch_id IS NOT NULL AND OLD.status <> 'rejected' AND (SELECT count(*) FROM "
     "person_branch_period WHERE person_id = OLD.person_id AND period = substr(OLD.local_date,"
     " 1, 4) || '-Q' || ((CAST(substr(OLD.local_date, 6, 2) AS INTEGER) + 2) / 3) AND sessions"
     " > 0) < 2; UPDATE person_branch_period SET sessions = sessions - 1 WHERE person_id = "
     "OLD.person_id AND period = substr(OLD.local_date, 1, 4) AND branch_id = OLD.branch_id "
     "AND OLD.branch_id IS NOT NULL AND OLD.status <> 'rejected'; UPDATE branch_period_total "
     "SET credited_seconds = credited_seconds - OLD.credited_seconds, pending_seconds = "
     "pending_seconds - OLD.pending_seconds, sessions = sessions - 1, people = people - "
     "(SELECT sessions = 0 FROM person_branch_period WHERE person_id = OLD.person_id AND "
     "period = substr(OLD.local_date, 1, 4) AND branch_id = OLD.branch_id) WHERE branch_id = "
     "OLD.branch_id AND period = substr(OLD.local_date, 1, 4) AND OLD.branch_id IS NOT NULL "
     "AND OLD.status <> 'rejected'; DELETE FROM period_mover WHERE period = "
     "substr(OLD.local_date, 1, 4) AND person_id = OLD.person_id AND OLD.branch_id IS NOT NULL"
     " AND OLD.status <> 'rejected' AND (SELECT count(*) FROM person_branch_period WHERE "
     "person_id = OLD.person_id AND period = substr(OLD.local_date, 1, 4) AND sessions > 0) < "
     "2; END"),
    ("CREATE TRIGGER service_totals_update AFTER UPDATE ON service_session WHEN OLD.person_id "
     "IS NOT NEW.person_id OR OLD.branch_id IS NOT NEW.branch_id OR OLD.local_date IS NOT "
     "NEW.local_date OR OLD.status IS NOT NEW.status OR OLD.credited_seconds IS NOT "
     "NEW.credited_seconds OR OLD.pending_seconds IS NOT NEW.pending_seconds BEGIN UPDATE "
     "person_branch_period SET sessions = sessions - 1 WHERE person_id = OLD.person_id AND "
     "period = substr(OLD.local_date, 1, 7) AND branch_id = OLD.branch_id AND OLD.branch_id IS"
     " NOT NULL AND OLD.status <> 'rejected'; UPDATE branch_period_total SET credited_seconds "
     "= credited_seconds - OLD.credited_seconds, pending_seconds = pending_seconds - "
     "OLD.pending_seconds, sessions = sessions - 1, people = people - (SELECT sessions = 0 "
     "FROM person_branch_period WHERE person_id = OLD.person_id AND period = "
     "substr(OLD.local_date, 1, 7) AND branch_id = OLD.branch_id) WHERE branch_id = "
     "OLD.branch_id AND period = substr(OLD.local_date, 1, 7) AND OLD.branch_id IS NOT NULL "
     "AND OLD.status <> 'rejected'; DELETE FROM period_mover WHERE period = "
     "substr(OLD.local_date, 1, 7) AND person_id = OLD.person_id AND OLD.branch_id IS NOT NULL"
     " AND OLD.status <> 'rejected' AND (SELECT count(*) FROM person_branch_period WHERE "
     "person_id = OLD.person_id AND period = substr(OLD.local_date, 1, 7) AND sessions > 0) < "
     "2; UPDATE person_branch_period SET sessions = sessions - 1 WHERE person_id = "
     "OLD.person_id AND period = substr(OLD.local_date, 1, 4) || '-Q' || "
     "((CAST(substr(OLD.local_date, 6, 2) AS INTEGER) + 2) / 3) AND branch_id = OLD.branch_id "
     "AND OLD.branch_id IS NOT NULL AND OLD.status <> 'rejected'; UPDATE branch_period_total "
     "SET credited_seconds = credited_seconds - OLD.credited_seconds, pending_seconds = "
     "pending_seconds - OLD.pending_seconds, sessions = sessions - 1, people = people - "
     "(SELECT sessions = 0 FROM person_branch_period WHERE person_id = OLD.person_id AND "
     "period = substr(OLD.local_date, 1, 4) || '-Q' || ((CAST(substr(OLD.local_date, 6, 2) AS "
     "INTEGER) + 2) / 3) AND branch_id = OLD.branch_id) WHERE branch_id = OLD.branch_id AND "
     "period = substr(OLD.local_date, 1, 4) || '-Q' || ((CAST(substr(OLD.local_date, 6, 2) AS "
     "INTEGER) + 2) / 3) AND OLD.branch_id IS NOT NULL AND OLD.status <> 'rejected'; DELETE "
     "FROM period_mover WHERE period = substr(OLD.local_date, 1, 4) || '-Q' || "
     "((CAST(substr(OLD.local_date, 6, 2) AS INTEGER) + 2) / 3) AND person_id = OLD.person_id "
     "AND OLD.branch_id IS NOT NULL AND OLD.status <> 'rejected' AND (SELECT count(*) FROM "
     "person_branch_period WHERE person_id = OLD.person_id AND period = substr(OLD.local_date,"
     " 1, 4) || '-Q' || ((CAST(substr(OLD.local_date, 6, 2) AS INTEGER) + 2) / 3) AND sessions"
     " > 0) < 2; UPDATE person_branch_period SET sessions = sessions - 1 WHERE person_id = "
     "OLD.person_id AND period = substr(OLD.local_date, 1, 4) AND branch_id = OLD.branch_id "
     "AND OLD.branch_id IS NOT NULL AND OLD.status <> 'rejected'; UPDATE branch_period_total "
     "SET credited_seconds = credited_seconds - OLD.credited_seconds, pending_seconds = "
     "pending_seconds - OLD.pending_seconds, sessions = sessions - 1, people = people - "
     "(SELECT sessions = 0 FROM person_branch_period WHERE person_id = OLD.person_id AND "
     "period = substr(OLD.local_date, 1, 4) AND branch_id = OLD.branch_id) WHERE branch_id = "
     "OLD.branch_id AND period = substr(OLD.local_date, 1, 4) AND OLD.branch_id IS NOT NULL "
     "AND OLD.status <> 'rejected'; DELETE FROM period_mover WHERE period = "
     "substr(OLD.local_date, 1, 4) AND person_id = OLD.person_id AND OLD.branch_id IS NOT NULL"
     " AND OLD.status <> 'rejected' AND (SELECT count(*) FROM person_branch_period WHERE "
     "person_id = OLD.person_id AND period = substr(OLD.local_date, 1, 4) AND sessions > 0) < "
     "2; INSERT INTO person_branch_period (person_id, period, branch_id, sessions) SELECT "
     "NEW.person_id, substr(NEW.local_date, 1, 7), NEW.branch_id, 1 WHERE NEW.branch_id IS NOT"
     " NULL AND NEW.status <> 'rejected' ON CONFLICT (person_id, period, branch_id) DO UPDATE "
     "SET sessions = sessions + 1; INSERT INTO branch_period_total (branch_id, period, "
     "credited_seconds, pending_seconds, sessions, people) SELECT NEW.branch_id, "
     "substr(NEW.local_date, 1, 7), NEW.credited_seconds, NEW.pending_seconds, 1, sessions = 1"
     " FROM person_branch_period WHERE person_id = NEW.person_id AND period = "
     "substr(NEW.local_date, 1, 7) AND branch_id = NEW.branch_id AND NEW.branch_id IS NOT NULL"
     " AND NEW.status <> 'rejected' ON CONFLICT (period, branch_id) DO UPDATE SET "
     "credited_seconds = credited_seconds + excluded.credited_seconds, pending_seconds = "
     "pending_seconds + excluded.pending_seconds, sessions = sessions + 1, people = people + "
     "excluded.people; INSERT INTO period_mover (period, person_id) SELECT "
     "substr(NEW.local_date, 1, 7), NEW.person_id WHERE NEW.branch_id IS NOT NULL AND "
     "NEW.status <> 'rejected' AND (SELECT count(*) FROM person_branch_period WHERE person_id "
     "= NEW.person_id AND period = substr(NEW.local_date, 1, 7) AND sessions > 0) > 1 ON "
     "CONFLICT DO NOTHING; INSERT INTO person_branch_period (person_id, period, branch_id, "
     "sessions) SELECT NEW.person_id, substr(NEW.local_date, 1, 4) || '-Q' || "
     "((CAST(substr(NEW.local_date, 6, 2) AS INTEGER) + 2) / 3), NEW.branch_id, 1 WHERE "
     "NEW.branch_id IS NOT NULL AND NEW.status <> 'rejected' ON CONFLICT (person_id, period, "
     "branch_id) DO UPDATE SET sessions = sessions + 1; INSERT INTO branch_period_total "
     "(branch_id, period, credited_seconds, pending_seconds, sessions, people) SELECT "
     "NEW.branch_id, substr(NEW.local_date, 1, 4) || '-Q' || ((CAST(substr(NEW.local_date, 6, "
     "2) AS INTEGER) + 2) / 3), NEW.credited_seconds, NEW.pending_seconds, 1, sessions = 1 "
     "FROM person_branch_period WHERE person_id = NEW.person_id AND period = "
     "substr(NEW.local_date, 1, 4) || '-Q' || ((CAST(substr(NEW.local_date, 6, 2) AS INTEGER) "
     "+ 2) / 3) AND branch_id = NEW.branch_id AND NEW.branch_id IS NOT NULL AND NEW.status <> "
     "'rejected' ON CONFLICT (period, branch_id) DO UPDATE SET credited_seconds = "
     "credited_seconds + excluded.credited_seconds, pending_seconds = pending_seconds + "
     "excluded.pending_seconds, sessions = sessions + 1, people = people + excluded.people; "
     "INSERT INTO period_mover (period, person_id) SELECT substr(NEW.local_date, 1, 4) || '-Q'"
     " || ((CAST(substr(NEW.local_date, 6, 2) AS INTEGER) + 2) / 3), NEW.person_id WHERE "
     "NEW.branch_id IS NOT NULL AND NEW.status <> 'rejected' AND (SELECT count(*) FROM "
     "person_branch_period WHERE person_id = NEW.person_id AND period = substr(NEW.local_date,"
     " 1, 4) || '-Q' || ((CAST(substr(NEW.local_date, 6, 2) AS INTEGER) + 2) / 3) AND sessions"
     " > 0) > 1 ON CONFLICT DO NOTHING; INSERT INTO person_branch_period (person_id, period, "
     "branch_id, sessions) SELECT NEW.person_id, substr(NEW.local_date, 1, 4), NEW.branch_id, "
     "1 WHERE NEW.branch_id IS NOT NULL AND NEW.status <> 'rejected' ON CONFLICT (person_id, "
     "period, branch_id) DO UPDATE SET sessions = sessions + 1; INSERT INTO "
     "branch_period_total (branch_id, period, credited_seconds, pending_seconds, sessions, "
     "people) SELECT NEW.branch_id, substr(NEW.local_date, 1, 4), NEW.credited_seconds, "
     "NEW.pending_seconds, 1, sessions = 1 FROM person_branch_period WHERE person_id = "
     "NEW.person_id AND period = substr(NEW.local_date, 1, 4) AND branch_id = NEW.branch_id "
     "AND NEW.branch_id IS NOT NULL AND NEW.status <> 'rejected' ON CONFLICT (period, "
     "branch_id) DO UPDATE SET credited_seconds = credited_seconds + "
     "excluded.credited_seconds, pending_seconds = pending_seconds + excluded.pending_seconds,"
     " sessions = sessions + 1, people = people + excluded.people; INSERT INTO period_mover "
     "(period, person_id) SELECT substr(NEW.local_date, 1, 4), NEW.person_id WHERE "
     "NEW.branch_id IS NOT NULL AND NEW.status <> 'rejected' AND (SELECT count(*) FROM "
     "person_branch_period WHERE person_id = NEW.person_id AND period = substr(NEW.local_date,"
     " 1, 4) AND sessions > 0) > 1 ON CONFLICT DO NOTHING; END"),
]

#: PostgreSQL: the statement-level trigger functions and triggers.
POSTGRESQL_TRIGGERS = [
    """
CREATE FUNCTION service_totals_insert() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  WITH changed AS (SELECT person_id, branch_id, local_date, credited_seconds, pending_seconds, 1 AS sign FROM new_rows WHERE new_rows.branch_id IS NOT NULL AND new_rows.status <> 'rejected'), by_period AS (SELECT c.person_id, c.branch_id, p.period, c.sign, c.sign * c.credited_seconds AS credited, c.sign * c.pending_seconds AS pending FROM changed c CROSS JOIN LATERAL (VALUES (to_char(c.local_date, 'YYYY-MM')), (to_char(c.local_date, 'YYYY-"Q"Q')), (to_char(c.local_date, 'YYYY'))) AS p(period)),
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
  WITH changed AS (SELECT person_id, branch_id, local_date, credited_seconds, pending_seconds, 1 AS sign FROM new_rows WHERE new_rows.branch_id IS NOT NULL AND new_rows.status <> 'rejected'), by_period AS (SELECT c.person_id, c.branch_id, p.period, c.sign, c.sign * c.credited_seconds AS credited, c.sign * c.pending_seconds AS pending FROM changed c CROSS JOIN LATERAL (VALUES (to_char(c.local_date, 'YYYY-MM')), (to_char(c.local_date, 'YYYY-"Q"Q')), (to_char(c.local_date, 'YYYY'))) AS p(period)),
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
END $fn$""",
    ("CREATE TRIGGER service_totals_insert AFTER INSERT ON service_session REFERENCING NEW "
     "TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION service_totals_insert()"),
    """
CREATE FUNCTION service_totals_delete() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  WITH changed AS (SELECT person_id, branch_id, local_date, credited_seconds, pending_seconds, -1 AS sign FROM old_rows WHERE old_rows.branch_id IS NOT NULL AND old_rows.status <> 'rejected'), by_period AS (SELECT c.person_id, c.branch_id, p.period, c.sign, c.sign * c.credited_seconds AS credited, c.sign * c.pending_seconds AS pending FROM changed c CROSS JOIN LATERAL (VALUES (to_char(c.local_date, 'YYYY-MM')), (to_char(c.local_date, 'YYYY-"Q"Q')), (to_char(c.local_date, 'YYYY'))) AS p(period)),
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
  WITH changed AS (SELECT person_id, branch_id, local_date, credited_seconds, pending_seconds, -1 AS sign FROM old_rows WHERE old_rows.branch_id IS NOT NULL AND old_rows.status <> 'rejected'), by_period AS (SELECT c.person_id, c.branch_id, p.period, c.sign, c.sign * c.credited_seconds AS credited, c.sign * c.pending_seconds AS pending FROM changed c CROSS JOIN LATERAL (VALUES (to_char(c.local_date, 'YYYY-MM')), (to_char(c.local_date, 'YYYY-"Q"Q')), (to_char(c.local_date, 'YYYY'))) AS p(period)),
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
END $fn$""",
    ("CREATE TRIGGER service_totals_delete AFTER DELETE ON service_session REFERENCING OLD "
     "TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION service_totals_delete()"),
    """
CREATE FUNCTION service_totals_update() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  WITH changed AS (SELECT person_id, branch_id, local_date, credited_seconds, pending_seconds, -1 AS sign FROM old_rows WHERE old_rows.branch_id IS NOT NULL AND old_rows.status <> 'rejected' UNION ALL SELECT person_id, branch_id, local_date, credited_seconds, pending_seconds, 1 AS sign FROM new_rows WHERE new_rows.branch_id IS NOT NULL AND new_rows.status <> 'rejected'), by_period AS (SELECT c.person_id, c.branch_id, p.period, c.sign, c.sign * c.credited_seconds AS credited, c.sign * c.pending_seconds AS pending FROM changed c CROSS JOIN LATERAL (VALUES (to_char(c.local_date, 'YYYY-MM')), (to_char(c.local_date, 'YYYY-"Q"Q')), (to_char(c.local_date, 'YYYY'))) AS p(period)),
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
  WITH changed AS (SELECT person_id, branch_id, local_date, credited_seconds, pending_seconds, -1 AS sign FROM old_rows WHERE old_rows.branch_id IS NOT NULL AND old_rows.status <> 'rejected' UNION ALL SELECT person_id, branch_id, local_date, credited_seconds, pending_seconds, 1 AS sign FROM new_rows WHERE new_rows.branch_id IS NOT NULL AND new_rows.status <> 'rejected'), by_period AS (SELECT c.person_id, c.branch_id, p.period, c.sign, c.sign * c.credited_seconds AS credited, c.sign * c.pending_seconds AS pending FROM changed c CROSS JOIN LATERAL (VALUES (to_char(c.local_date, 'YYYY-MM')), (to_char(c.local_date, 'YYYY-"Q"Q')), (to_char(c.local_date, 'YYYY'))) AS p(period)),
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
END $fn$""",
    ("CREATE TRIGGER service_totals_update AFTER UPDATE ON service_session REFERENCING OLD "
     "TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "
     "service_totals_update()"),
]

#: SQLite: dropping them.
SQLITE_DROP_TRIGGERS = [
    "DROP TRIGGER IF EXISTS service_totals_insert",
    "DROP TRIGGER IF EXISTS service_totals_delete",
    "DROP TRIGGER IF EXISTS service_totals_update",
]

#: PostgreSQL: dropping them.
POSTGRESQL_DROP_TRIGGERS = [
    "DROP TRIGGER IF EXISTS service_totals_insert ON service_session",
    "DROP FUNCTION IF EXISTS service_totals_insert()",
    "DROP TRIGGER IF EXISTS service_totals_delete ON service_session",
    "DROP FUNCTION IF EXISTS service_totals_delete()",
    "DROP TRIGGER IF EXISTS service_totals_update ON service_session",
    "DROP FUNCTION IF EXISTS service_totals_update()",
]

#: SQLite: the figures computed afresh from the sessions.
SQLITE_REBUILD = [
    "DELETE FROM period_mover",
    "DELETE FROM branch_period_total",
    "DELETE FROM person_branch_period",
    "DROP TABLE IF EXISTS rebuild_month",
    ("CREATE TEMPORARY TABLE rebuild_month AS SELECT person_id, branch_id, substr(local_date, "
     "1, 7) AS month, count(*) AS sessions, sum(credited_seconds) AS credited, "
     "sum(pending_seconds) AS pending FROM service_session NOT INDEXED WHERE "
     "service_session.branch_id IS NOT NULL AND service_session.status <> 'rejected' GROUP BY "
     "person_id, branch_id, substr(local_date, 1, 7)"),
    "DROP TABLE IF EXISTS rebuild_period",
    ("CREATE TEMPORARY TABLE rebuild_period AS SELECT person_id, month AS period, branch_id, "
     "sum(sessions) AS sessions, sum(credited) AS credited, sum(pending) AS pending FROM "
     "rebuild_month GROUP BY person_id, month, branch_id UNION ALL SELECT person_id, "
     "substr(month, 1, 4) || '-Q' || ((CAST(substr(month, 6, 2) AS INTEGER) + 2) / 3) AS "
     "period, branch_id, sum(sessions) AS sessions, sum(credited) AS credited, sum(pending) AS"
     " pending FROM rebuild_month GROUP BY person_id, substr(month, 1, 4) || '-Q' || "
     "((CAST(substr(month, 6, 2) AS INTEGER) + 2) / 3), branch_id UNION ALL SELECT person_id, "
     "substr(month, 1, 4) AS period, branch_id, sum(sessions) AS sessions, sum(credited) AS "
     "credited, sum(pending) AS pending FROM rebuild_month GROUP BY person_id, substr(month, "
     "1, 4), branch_id"),
    ("INSERT INTO person_branch_period (person_id, period, branch_id, sessions) SELECT "
     "person_id, period, branch_id, sessions FROM rebuild_period"),
    ("INSERT INTO branch_period_total (period, branch_id, credited_seconds, pending_seconds, "
     "sessions, people) SELECT period, branch_id, sum(credited), sum(pending), sum(sessions), "
     "count(*) FROM rebuild_period GROUP BY period, branch_id"),
    ("INSERT INTO period_mover (period, person_id) SELECT period, person_id FROM "
     "rebuild_period GROUP BY period, person_id HAVING count(*) > 1"),
    "DROP TABLE rebuild_month",
    "DROP TABLE rebuild_period",
]

#: PostgreSQL: the figures computed afresh from the sessions.
POSTGRESQL_REBUILD = [
    "DELETE FROM period_mover",
    "DELETE FROM branch_period_total",
    "DELETE FROM person_branch_period",
    "DROP TABLE IF EXISTS rebuild_month",
    ("CREATE TEMPORARY TABLE rebuild_month AS SELECT person_id, branch_id, to_char(local_date,"
     " 'YYYY-MM') AS month, count(*) AS sessions, sum(credited_seconds) AS credited, "
     "sum(pending_seconds) AS pending FROM service_session WHERE service_session.branch_id IS "
     "NOT NULL AND service_session.status <> 'rejected' GROUP BY person_id, branch_id, "
     "to_char(local_date, 'YYYY-MM')"),
    "DROP TABLE IF EXISTS rebuild_period",
    ("CREATE TEMPORARY TABLE rebuild_period AS SELECT person_id, month AS period, branch_id, "
     "sum(sessions) AS sessions, sum(credited) AS credited, sum(pending) AS pending FROM "
     "rebuild_month GROUP BY person_id, month, branch_id UNION ALL SELECT person_id, "
     "substr(month, 1, 4) || '-Q' || ((substr(month, 6, 2)::int + 2) / 3) AS period, "
     "branch_id, sum(sessions) AS sessions, sum(credited) AS credited, sum(pending) AS pending"
     " FROM rebuild_month GROUP BY person_id, substr(month, 1, 4) || '-Q' || ((substr(month, "
     "6, 2)::int + 2) / 3), branch_id UNION ALL SELECT person_id, substr(month, 1, 4) AS "
     "period, branch_id, sum(sessions) AS sessions, sum(credited) AS credited, sum(pending) AS"
     " pending FROM rebuild_month GROUP BY person_id, substr(month, 1, 4), branch_id"),
    ("INSERT INTO person_branch_period (person_id, period, branch_id, sessions) SELECT "
     "person_id, period, branch_id, sessions FROM rebuild_period"),
    ("INSERT INTO branch_period_total (period, branch_id, credited_seconds, pending_seconds, "
     "sessions, people) SELECT period, branch_id, sum(credited), sum(pending), sum(sessions), "
     "count(*) FROM rebuild_period GROUP BY period, branch_id"),
    ("INSERT INTO period_mover (period, person_id) SELECT period, person_id FROM "
     "rebuild_period GROUP BY period, person_id HAVING count(*) > 1"),
    "DROP TABLE rebuild_month",
    "DROP TABLE rebuild_period",
]


def _run(statements):
    for statement in statements:
        op.get_bind().exec_driver_sql(statement)


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade():
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table('branch_period_total',
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('credited_seconds', sa.BigInteger(), nullable=False),
    sa.Column('pending_seconds', sa.BigInteger(), nullable=False),
    sa.Column('sessions', sa.Integer(), nullable=False),
    sa.Column('people', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('period', 'branch_id', name=op.f('pk_branch_period_total'))
    )
    op.create_table('period_mover',
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('period', 'person_id', name=op.f('pk_period_mover'))
    )
    op.create_table('person_branch_period',
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('sessions', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('person_id', 'period', 'branch_id', name=op.f('pk_person_branch_period'))
    )
    with op.batch_alter_table('service_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_session_branch_id'))
        batch_op.create_index('ix_service_session_branch_date', ['branch_id', 'local_date', 'station_id'], unique=False)

    # ### end Alembic commands ###
    _run(SQLITE_ROW_TRIGGERS if _sqlite() else POSTGRESQL_TRIGGERS)
    _run(SQLITE_REBUILD if _sqlite() else POSTGRESQL_REBUILD)


def downgrade():
    _run(SQLITE_DROP_TRIGGERS if _sqlite() else POSTGRESQL_DROP_TRIGGERS)
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('service_session', schema=None) as batch_op:
        batch_op.drop_index('ix_service_session_branch_date')
        batch_op.create_index(batch_op.f('ix_service_session_branch_id'), ['branch_id'], unique=False)

    op.drop_table('person_branch_period')
    op.drop_table('period_mover')
    op.drop_table('branch_period_total')
    # ### end Alembic commands ###
