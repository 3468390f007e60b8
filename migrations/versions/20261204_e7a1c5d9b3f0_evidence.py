"""evidence: what proves each scan and session, and credited hours split by what credits them

Revision ID: e7a1c5d9b3f0
Revises: 994e15ea9d29
Create Date: 2026-12-04 23:30:00

checkin_event.evidence and service_session.evidence (sync/evidence.py:
station_device, display_code, location, signed_code, none, entered), and the
credited seconds a reviewer approved (reviewed_seconds) or that were entered
afterwards (entered_seconds), on each session and in the branch totals,
whose triggers now sum them too. Existing rows are classified from what they
stored (the device's stations, the signed code's version, the location fix
and its accuracy); a session's evidence is the weaker of its two scans.
Flags of the new policy (unsigned_scan, late_upload) apply to scans pushed
from now on; `flask --app server pairing requeue-all` judges all sessions
again with the current rules (docs/deploy.md).
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e7a1c5d9b3f0'
down_revision = '994e15ea9d29'
branch_labels = None
depends_on = None

# The SQL this revision ran, carried here rather than imported from the
# application (docs/migrations.md).

#: SQLite: the change-log triggers, now logging the reviewed and entered seconds too.
SQLITE_TRIGGERS = [
    ("CREATE TRIGGER service_totals_insert AFTER INSERT ON service_session WHEN NEW.branch_id "
     "IS NOT NULL AND NEW.status <> 'rejected' BEGIN INSERT INTO service_total_change "
     "(person_id, branch_id, local_date, credited_seconds, pending_seconds, reviewed_seconds, "
     "entered_seconds, sign) SELECT NEW.person_id, NEW.branch_id, NEW.local_date, "
     "NEW.credited_seconds, NEW.pending_seconds, NEW.reviewed_seconds, NEW.entered_seconds, 1 "
     "WHERE NEW.branch_id IS NOT NULL AND NEW.status <> 'rejected'; END"),
    ("CREATE TRIGGER service_totals_delete AFTER DELETE ON service_session WHEN OLD.branch_id "
     "IS NOT NULL AND OLD.status <> 'rejected' BEGIN INSERT INTO service_total_change "
     "(person_id, branch_id, local_date, credited_seconds, pending_seconds, reviewed_seconds, "
     "entered_seconds, sign) SELECT OLD.person_id, OLD.branch_id, OLD.local_date, "
     "OLD.credited_seconds, OLD.pending_seconds, OLD.reviewed_seconds, OLD.entered_seconds, -1"
     " WHERE OLD.branch_id IS NOT NULL AND OLD.status <> 'rejected'; END"),
    ("CREATE TRIGGER service_totals_update AFTER UPDATE ON service_session WHEN OLD.person_id "
     "IS NOT NEW.person_id OR OLD.branch_id IS NOT NEW.branch_id OR OLD.local_date IS NOT "
     "NEW.local_date OR OLD.status IS NOT NEW.status OR OLD.credited_seconds IS NOT "
     "NEW.credited_seconds OR OLD.pending_seconds IS NOT NEW.pending_seconds OR "
     "OLD.reviewed_seconds IS NOT NEW.reviewed_seconds OR OLD.entered_seconds IS NOT "
     "NEW.entered_seconds BEGIN INSERT INTO service_total_change (person_id, branch_id, "
     "local_date, credited_seconds, pending_seconds, reviewed_seconds, entered_seconds, sign) "
     "SELECT OLD.person_id, OLD.branch_id, OLD.local_date, OLD.credited_seconds, "
     "OLD.pending_seconds, OLD.reviewed_seconds, OLD.entered_seconds, -1 WHERE OLD.branch_id "
     "IS NOT NULL AND OLD.status <> 'rejected'; INSERT INTO service_total_change (person_id, "
     "branch_id, local_date, credited_seconds, pending_seconds, reviewed_seconds, "
     "entered_seconds, sign) SELECT NEW.person_id, NEW.branch_id, NEW.local_date, "
     "NEW.credited_seconds, NEW.pending_seconds, NEW.reviewed_seconds, NEW.entered_seconds, 1 "
     "WHERE NEW.branch_id IS NOT NULL AND NEW.status <> 'rejected'; END"),
]

#: PostgreSQL: the trigger functions and triggers, now summing the reviewed and entered seconds too.
POSTGRESQL_TRIGGERS = [
    """
CREATE FUNCTION service_totals_insert() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  WITH changed AS (SELECT person_id, branch_id, local_date, credited_seconds, pending_seconds, reviewed_seconds, entered_seconds, 1 AS sign FROM new_rows WHERE new_rows.branch_id IS NOT NULL AND new_rows.status <> 'rejected'), by_period AS (SELECT c.person_id, c.branch_id, p.period, c.sign, c.sign * c.credited_seconds AS credited_seconds, c.sign * c.pending_seconds AS pending_seconds, c.sign * c.reviewed_seconds AS reviewed_seconds, c.sign * c.entered_seconds AS entered_seconds FROM changed c CROSS JOIN LATERAL (VALUES (to_char(c.local_date, 'YYYY-MM')), (to_char(c.local_date, 'YYYY-"Q"Q')), (to_char(c.local_date, 'YYYY'))) AS p(period)),
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
    SELECT branch_id, period, credited_seconds, pending_seconds, reviewed_seconds, entered_seconds, sign AS sessions, 0 AS people FROM by_period
    UNION ALL
    SELECT branch_id, period, 0, 0, 0, 0, 0, people FROM crossings)
  INSERT INTO branch_period_total AS t
    (branch_id, period, credited_seconds, pending_seconds, reviewed_seconds, entered_seconds, sessions, people)
  SELECT branch_id, period, sum(credited_seconds), sum(pending_seconds), sum(reviewed_seconds), sum(entered_seconds), sum(sessions), sum(people)
  FROM deltas GROUP BY branch_id, period
  HAVING sum(credited_seconds) <> 0 OR sum(pending_seconds) <> 0 OR sum(reviewed_seconds) <> 0 OR sum(entered_seconds) <> 0 OR sum(sessions) <> 0 OR sum(people) <> 0
  ORDER BY branch_id, period
  ON CONFLICT (period, branch_id) DO UPDATE SET
    credited_seconds = t.credited_seconds + excluded.credited_seconds,
    pending_seconds = t.pending_seconds + excluded.pending_seconds,
    reviewed_seconds = t.reviewed_seconds + excluded.reviewed_seconds,
    entered_seconds = t.entered_seconds + excluded.entered_seconds,
    sessions = t.sessions + excluded.sessions,
    people = t.people + excluded.people;

  -- Sub-statements of one WITH do not see each other's writes, so movers
  -- are settled by a second statement, which sees the new presence.
  WITH changed AS (SELECT person_id, branch_id, local_date, credited_seconds, pending_seconds, reviewed_seconds, entered_seconds, 1 AS sign FROM new_rows WHERE new_rows.branch_id IS NOT NULL AND new_rows.status <> 'rejected'), by_period AS (SELECT c.person_id, c.branch_id, p.period, c.sign, c.sign * c.credited_seconds AS credited_seconds, c.sign * c.pending_seconds AS pending_seconds, c.sign * c.reviewed_seconds AS reviewed_seconds, c.sign * c.entered_seconds AS entered_seconds FROM changed c CROSS JOIN LATERAL (VALUES (to_char(c.local_date, 'YYYY-MM')), (to_char(c.local_date, 'YYYY-"Q"Q')), (to_char(c.local_date, 'YYYY'))) AS p(period)),
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
  WITH changed AS (SELECT person_id, branch_id, local_date, credited_seconds, pending_seconds, reviewed_seconds, entered_seconds, -1 AS sign FROM old_rows WHERE old_rows.branch_id IS NOT NULL AND old_rows.status <> 'rejected'), by_period AS (SELECT c.person_id, c.branch_id, p.period, c.sign, c.sign * c.credited_seconds AS credited_seconds, c.sign * c.pending_seconds AS pending_seconds, c.sign * c.reviewed_seconds AS reviewed_seconds, c.sign * c.entered_seconds AS entered_seconds FROM changed c CROSS JOIN LATERAL (VALUES (to_char(c.local_date, 'YYYY-MM')), (to_char(c.local_date, 'YYYY-"Q"Q')), (to_char(c.local_date, 'YYYY'))) AS p(period)),
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
    SELECT branch_id, period, credited_seconds, pending_seconds, reviewed_seconds, entered_seconds, sign AS sessions, 0 AS people FROM by_period
    UNION ALL
    SELECT branch_id, period, 0, 0, 0, 0, 0, people FROM crossings)
  INSERT INTO branch_period_total AS t
    (branch_id, period, credited_seconds, pending_seconds, reviewed_seconds, entered_seconds, sessions, people)
  SELECT branch_id, period, sum(credited_seconds), sum(pending_seconds), sum(reviewed_seconds), sum(entered_seconds), sum(sessions), sum(people)
  FROM deltas GROUP BY branch_id, period
  HAVING sum(credited_seconds) <> 0 OR sum(pending_seconds) <> 0 OR sum(reviewed_seconds) <> 0 OR sum(entered_seconds) <> 0 OR sum(sessions) <> 0 OR sum(people) <> 0
  ORDER BY branch_id, period
  ON CONFLICT (period, branch_id) DO UPDATE SET
    credited_seconds = t.credited_seconds + excluded.credited_seconds,
    pending_seconds = t.pending_seconds + excluded.pending_seconds,
    reviewed_seconds = t.reviewed_seconds + excluded.reviewed_seconds,
    entered_seconds = t.entered_seconds + excluded.entered_seconds,
    sessions = t.sessions + excluded.sessions,
    people = t.people + excluded.people;

  -- Sub-statements of one WITH do not see each other's writes, so movers
  -- are settled by a second statement, which sees the new presence.
  WITH changed AS (SELECT person_id, branch_id, local_date, credited_seconds, pending_seconds, reviewed_seconds, entered_seconds, -1 AS sign FROM old_rows WHERE old_rows.branch_id IS NOT NULL AND old_rows.status <> 'rejected'), by_period AS (SELECT c.person_id, c.branch_id, p.period, c.sign, c.sign * c.credited_seconds AS credited_seconds, c.sign * c.pending_seconds AS pending_seconds, c.sign * c.reviewed_seconds AS reviewed_seconds, c.sign * c.entered_seconds AS entered_seconds FROM changed c CROSS JOIN LATERAL (VALUES (to_char(c.local_date, 'YYYY-MM')), (to_char(c.local_date, 'YYYY-"Q"Q')), (to_char(c.local_date, 'YYYY'))) AS p(period)),
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
  WITH changed AS (SELECT person_id, branch_id, local_date, credited_seconds, pending_seconds, reviewed_seconds, entered_seconds, -1 AS sign FROM old_rows WHERE old_rows.branch_id IS NOT NULL AND old_rows.status <> 'rejected' UNION ALL SELECT person_id, branch_id, local_date, credited_seconds, pending_seconds, reviewed_seconds, entered_seconds, 1 AS sign FROM new_rows WHERE new_rows.branch_id IS NOT NULL AND new_rows.status <> 'rejected'), by_period AS (SELECT c.person_id, c.branch_id, p.period, c.sign, c.sign * c.credited_seconds AS credited_seconds, c.sign * c.pending_seconds AS pending_seconds, c.sign * c.reviewed_seconds AS reviewed_seconds, c.sign * c.entered_seconds AS entered_seconds FROM changed c CROSS JOIN LATERAL (VALUES (to_char(c.local_date, 'YYYY-MM')), (to_char(c.local_date, 'YYYY-"Q"Q')), (to_char(c.local_date, 'YYYY'))) AS p(period)),
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
    SELECT branch_id, period, credited_seconds, pending_seconds, reviewed_seconds, entered_seconds, sign AS sessions, 0 AS people FROM by_period
    UNION ALL
    SELECT branch_id, period, 0, 0, 0, 0, 0, people FROM crossings)
  INSERT INTO branch_period_total AS t
    (branch_id, period, credited_seconds, pending_seconds, reviewed_seconds, entered_seconds, sessions, people)
  SELECT branch_id, period, sum(credited_seconds), sum(pending_seconds), sum(reviewed_seconds), sum(entered_seconds), sum(sessions), sum(people)
  FROM deltas GROUP BY branch_id, period
  HAVING sum(credited_seconds) <> 0 OR sum(pending_seconds) <> 0 OR sum(reviewed_seconds) <> 0 OR sum(entered_seconds) <> 0 OR sum(sessions) <> 0 OR sum(people) <> 0
  ORDER BY branch_id, period
  ON CONFLICT (period, branch_id) DO UPDATE SET
    credited_seconds = t.credited_seconds + excluded.credited_seconds,
    pending_seconds = t.pending_seconds + excluded.pending_seconds,
    reviewed_seconds = t.reviewed_seconds + excluded.reviewed_seconds,
    entered_seconds = t.entered_seconds + excluded.entered_seconds,
    sessions = t.sessions + excluded.sessions,
    people = t.people + excluded.people;

  -- Sub-statements of one WITH do not see each other's writes, so movers
  -- are settled by a second statement, which sees the new presence.
  WITH changed AS (SELECT person_id, branch_id, local_date, credited_seconds, pending_seconds, reviewed_seconds, entered_seconds, -1 AS sign FROM old_rows WHERE old_rows.branch_id IS NOT NULL AND old_rows.status <> 'rejected' UNION ALL SELECT person_id, branch_id, local_date, credited_seconds, pending_seconds, reviewed_seconds, entered_seconds, 1 AS sign FROM new_rows WHERE new_rows.branch_id IS NOT NULL AND new_rows.status <> 'rejected'), by_period AS (SELECT c.person_id, c.branch_id, p.period, c.sign, c.sign * c.credited_seconds AS credited_seconds, c.sign * c.pending_seconds AS pending_seconds, c.sign * c.reviewed_seconds AS reviewed_seconds, c.sign * c.entered_seconds AS entered_seconds FROM changed c CROSS JOIN LATERAL (VALUES (to_char(c.local_date, 'YYYY-MM')), (to_char(c.local_date, 'YYYY-"Q"Q')), (to_char(c.local_date, 'YYYY'))) AS p(period)),
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

#: SQLite: the triggers before this revision (for the downgrade).
SQLITE_OLD_TRIGGERS = [
    ("CREATE TRIGGER service_totals_insert AFTER INSERT ON service_session WHEN NEW.branch_id "
     "IS NOT NULL AND NEW.status <> 'rejected' BEGIN INSERT INTO service_total_change "
     "(person_id, branch_id, local_date, credited_seconds, pending_seconds, sign) SELECT "
     "NEW.person_id, NEW.branch_id, NEW.local_date, NEW.credited_seconds, NEW.pending_seconds,"
     " 1 WHERE NEW.branch_id IS NOT NULL AND NEW.status <> 'rejected'; END"),
    ("CREATE TRIGGER service_totals_delete AFTER DELETE ON service_session WHEN OLD.branch_id "
     "IS NOT NULL AND OLD.status <> 'rejected' BEGIN INSERT INTO service_total_change "
     "(person_id, branch_id, local_date, credited_seconds, pending_seconds, sign) SELECT "
     "OLD.person_id, OLD.branch_id, OLD.local_date, OLD.credited_seconds, OLD.pending_seconds,"
     " -1 WHERE OLD.branch_id IS NOT NULL AND OLD.status <> 'rejected'; END"),
    ("CREATE TRIGGER service_totals_update AFTER UPDATE ON service_session WHEN OLD.person_id "
     "IS NOT NEW.person_id OR OLD.branch_id IS NOT NEW.branch_id OR OLD.local_date IS NOT "
     "NEW.local_date OR OLD.status IS NOT NEW.status OR OLD.credited_seconds IS NOT "
     "NEW.credited_seconds OR OLD.pending_seconds IS NOT NEW.pending_seconds BEGIN INSERT INTO"
     " service_total_change (person_id, branch_id, local_date, credited_seconds, "
     "pending_seconds, sign) SELECT OLD.person_id, OLD.branch_id, OLD.local_date, "
     "OLD.credited_seconds, OLD.pending_seconds, -1 WHERE OLD.branch_id IS NOT NULL AND "
     "OLD.status <> 'rejected'; INSERT INTO service_total_change (person_id, branch_id, "
     "local_date, credited_seconds, pending_seconds, sign) SELECT NEW.person_id, "
     "NEW.branch_id, NEW.local_date, NEW.credited_seconds, NEW.pending_seconds, 1 WHERE "
     "NEW.branch_id IS NOT NULL AND NEW.status <> 'rejected'; END"),
]

#: PostgreSQL: the triggers before this revision (for the downgrade).
POSTGRESQL_OLD_TRIGGERS = [
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

#: SQLite: dropping the triggers.
SQLITE_DROP_TRIGGERS = [
    "DROP TRIGGER IF EXISTS service_totals_insert",
    "DROP TRIGGER IF EXISTS service_totals_delete",
    "DROP TRIGGER IF EXISTS service_totals_update",
]

#: PostgreSQL: dropping the triggers.
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
    "SELECT 1 FROM sqlite_master WHERE name = 'service_total_change'",
    "DELETE FROM service_total_change",
    "DROP TABLE IF EXISTS rebuild_month",
    ("CREATE TEMPORARY TABLE rebuild_month AS SELECT person_id, branch_id, substr(local_date, "
     "1, 7) AS month, count(*) AS sessions, sum(credited_seconds) AS credited_seconds, "
     "sum(pending_seconds) AS pending_seconds, sum(reviewed_seconds) AS reviewed_seconds, "
     "sum(entered_seconds) AS entered_seconds FROM service_session NOT INDEXED WHERE "
     "service_session.branch_id IS NOT NULL AND service_session.status <> 'rejected' GROUP BY "
     "person_id, branch_id, substr(local_date, 1, 7)"),
    "DROP TABLE IF EXISTS rebuild_period",
    ("CREATE TEMPORARY TABLE rebuild_period AS SELECT person_id, month AS period, branch_id, "
     "sum(sessions) AS sessions, sum(credited_seconds) AS credited_seconds, "
     "sum(pending_seconds) AS pending_seconds, sum(reviewed_seconds) AS reviewed_seconds, "
     "sum(entered_seconds) AS entered_seconds FROM rebuild_month GROUP BY person_id, month, "
     "branch_id UNION ALL SELECT person_id, substr(month, 1, 4) || '-Q' || "
     "((CAST(substr(month, 6, 2) AS INTEGER) + 2) / 3) AS period, branch_id, sum(sessions) AS "
     "sessions, sum(credited_seconds) AS credited_seconds, sum(pending_seconds) AS "
     "pending_seconds, sum(reviewed_seconds) AS reviewed_seconds, sum(entered_seconds) AS "
     "entered_seconds FROM rebuild_month GROUP BY person_id, substr(month, 1, 4) || '-Q' || "
     "((CAST(substr(month, 6, 2) AS INTEGER) + 2) / 3), branch_id UNION ALL SELECT person_id, "
     "substr(month, 1, 4) AS period, branch_id, sum(sessions) AS sessions, "
     "sum(credited_seconds) AS credited_seconds, sum(pending_seconds) AS pending_seconds, "
     "sum(reviewed_seconds) AS reviewed_seconds, sum(entered_seconds) AS entered_seconds FROM "
     "rebuild_month GROUP BY person_id, substr(month, 1, 4), branch_id"),
    ("INSERT INTO person_branch_period (person_id, period, branch_id, sessions) SELECT "
     "person_id, period, branch_id, sessions FROM rebuild_period"),
    ("INSERT INTO branch_period_total (period, branch_id, credited_seconds, pending_seconds, "
     "reviewed_seconds, entered_seconds, sessions, people) SELECT period, branch_id, "
     "sum(credited_seconds), sum(pending_seconds), sum(reviewed_seconds), "
     "sum(entered_seconds), sum(sessions), count(*) FROM rebuild_period GROUP BY period, "
     "branch_id"),
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
     " 'YYYY-MM') AS month, count(*) AS sessions, sum(credited_seconds) AS credited_seconds, "
     "sum(pending_seconds) AS pending_seconds, sum(reviewed_seconds) AS reviewed_seconds, "
     "sum(entered_seconds) AS entered_seconds FROM service_session WHERE "
     "service_session.branch_id IS NOT NULL AND service_session.status <> 'rejected' GROUP BY "
     "person_id, branch_id, to_char(local_date, 'YYYY-MM')"),
    "DROP TABLE IF EXISTS rebuild_period",
    ("CREATE TEMPORARY TABLE rebuild_period AS SELECT person_id, month AS period, branch_id, "
     "sum(sessions) AS sessions, sum(credited_seconds) AS credited_seconds, "
     "sum(pending_seconds) AS pending_seconds, sum(reviewed_seconds) AS reviewed_seconds, "
     "sum(entered_seconds) AS entered_seconds FROM rebuild_month GROUP BY person_id, month, "
     "branch_id UNION ALL SELECT person_id, substr(month, 1, 4) || '-Q' || ((substr(month, 6, "
     "2)::int + 2) / 3) AS period, branch_id, sum(sessions) AS sessions, sum(credited_seconds)"
     " AS credited_seconds, sum(pending_seconds) AS pending_seconds, sum(reviewed_seconds) AS "
     "reviewed_seconds, sum(entered_seconds) AS entered_seconds FROM rebuild_month GROUP BY "
     "person_id, substr(month, 1, 4) || '-Q' || ((substr(month, 6, 2)::int + 2) / 3), "
     "branch_id UNION ALL SELECT person_id, substr(month, 1, 4) AS period, branch_id, "
     "sum(sessions) AS sessions, sum(credited_seconds) AS credited_seconds, "
     "sum(pending_seconds) AS pending_seconds, sum(reviewed_seconds) AS reviewed_seconds, "
     "sum(entered_seconds) AS entered_seconds FROM rebuild_month GROUP BY person_id, "
     "substr(month, 1, 4), branch_id"),
    ("INSERT INTO person_branch_period (person_id, period, branch_id, sessions) SELECT "
     "person_id, period, branch_id, sessions FROM rebuild_period"),
    ("INSERT INTO branch_period_total (period, branch_id, credited_seconds, pending_seconds, "
     "reviewed_seconds, entered_seconds, sessions, people) SELECT period, branch_id, "
     "sum(credited_seconds), sum(pending_seconds), sum(reviewed_seconds), "
     "sum(entered_seconds), sum(sessions), count(*) FROM rebuild_period GROUP BY period, "
     "branch_id"),
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


#: Weakest first: a session's evidence is the weaker of its two scans'.
_RANK = ("CASE e.evidence WHEN 'entered' THEN 0 WHEN 'none' THEN 1 WHEN 'signed_code' "
         "THEN 2 WHEN 'location' THEN 3 WHEN 'display_code' THEN 4 ELSE 5 END")

_CLASSIFY_EVENTS = [
    "UPDATE checkin_event SET evidence = 'signed_code' WHERE qr_version IS NOT NULL",
    ("UPDATE checkin_event SET evidence = 'location' WHERE distance_m IS NOT NULL "
     "AND accuracy_m IS NOT NULL AND EXISTS (SELECT 1 FROM station s "
     "WHERE s.id = checkin_event.station_id AND checkin_event.distance_m <= s.geofence_radius_m "
     "AND checkin_event.accuracy_m <= s.geofence_radius_m)"),
    ("UPDATE checkin_event SET evidence = 'station_device' WHERE EXISTS (SELECT 1 FROM device d "
     "JOIN device_station ds ON ds.device_id = d.id WHERE d.id = checkin_event.device_id "
     "AND d.person_id IS NULL AND ds.station_id = checkin_event.station_id)"),
    "UPDATE checkin_event SET evidence = 'entered' WHERE device_id IS NULL",
]

_CLASSIFY_SESSIONS = [
    ("UPDATE service_session SET evidence = COALESCE((SELECT e.evidence FROM checkin_event e "
     "WHERE e.event_id IN (service_session.checkin_event_id, service_session.checkout_event_id) "
     f"ORDER BY {_RANK} LIMIT 1), 'none')"),
    ("UPDATE service_session SET reviewed_seconds = credited_seconds "
     "WHERE status IN ('approved', 'amended') AND flags NOT LIKE '%retroactive%'"),
    ("UPDATE service_session SET entered_seconds = credited_seconds "
     "WHERE status IN ('approved', 'amended') AND flags LIKE '%retroactive%'"),
]

_FIGURES = ["period", "branch_id", "credited_seconds", "pending_seconds", "sessions", "people"]


def upgrade():
    _run(SQLITE_DROP_TRIGGERS if _sqlite() else POSTGRESQL_DROP_TRIGGERS)
    evidence = dict(type_=sa.String(length=20), nullable=False, server_default="none")
    seconds = dict(nullable=False, server_default=sa.text("0"))
    op.add_column('checkin_event', sa.Column('evidence', **evidence))
    op.add_column('service_session', sa.Column('evidence', **evidence))
    op.add_column('service_session', sa.Column('reviewed_seconds', sa.Integer(), **seconds))
    op.add_column('service_session', sa.Column('entered_seconds', sa.Integer(), **seconds))
    for table in ('branch_period_total', 'service_total_change'):
        op.add_column(table, sa.Column('reviewed_seconds', sa.BigInteger(), **seconds))
        op.add_column(table, sa.Column('entered_seconds', sa.BigInteger(), **seconds))
    op.drop_index('ix_branch_period_total_figures', table_name='branch_period_total')
    op.create_index('ix_branch_period_total_figures', 'branch_period_total',
                    _FIGURES[:4] + ['reviewed_seconds', 'entered_seconds'] + _FIGURES[4:])
    # Through text(): the LIKE patterns' % must reach psycopg escaped.
    for statement in _CLASSIFY_EVENTS + _CLASSIFY_SESSIONS:
        op.execute(sa.text(statement))
    _run(SQLITE_TRIGGERS if _sqlite() else POSTGRESQL_TRIGGERS)
    _run(SQLITE_REBUILD if _sqlite() else POSTGRESQL_REBUILD)


def downgrade():
    _run(SQLITE_DROP_TRIGGERS if _sqlite() else POSTGRESQL_DROP_TRIGGERS)
    op.drop_index('ix_branch_period_total_figures', table_name='branch_period_total')
    op.create_index('ix_branch_period_total_figures', 'branch_period_total', _FIGURES)
    for table in ('service_total_change', 'branch_period_total'):
        op.drop_column(table, 'entered_seconds')
        op.drop_column(table, 'reviewed_seconds')
    op.drop_column('service_session', 'entered_seconds')
    op.drop_column('service_session', 'reviewed_seconds')
    op.drop_column('service_session', 'evidence')
    op.drop_column('checkin_event', 'evidence')
    _run(SQLITE_OLD_TRIGGERS if _sqlite() else POSTGRESQL_OLD_TRIGGERS)
