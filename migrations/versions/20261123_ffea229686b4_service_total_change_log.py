"""service total change log: SQLite's triggers append, a fold before commit applies

Revision ID: ffea229686b4
Revises: 7554b1826cca
Create Date: 2026-11-23 21:11:04.669186

"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = 'ffea229686b4'
down_revision = '7554b1826cca'
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

#: SQLite: the triggers that append each counted session in or out to service_total_change.
SQLITE_CHANGE_LOG_TRIGGERS = [
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

#: SQLite: dropping them.
SQLITE_DROP_TRIGGERS = [
    "DROP TRIGGER IF EXISTS service_totals_insert",
    "DROP TRIGGER IF EXISTS service_totals_delete",
    "DROP TRIGGER IF EXISTS service_totals_update",
]


def _run(statements):
    for statement in statements:
        op.get_bind().exec_driver_sql(statement)


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade():
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table('service_total_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.Column('credited_seconds', sa.BigInteger(), nullable=False),
    sa.Column('pending_seconds', sa.BigInteger(), nullable=False),
    sa.Column('sign', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_total_change'))
    )
    # ### end Alembic commands ###
    if _sqlite():
        _run(SQLITE_DROP_TRIGGERS)
        _run(SQLITE_CHANGE_LOG_TRIGGERS)


def downgrade():
    if _sqlite():
        _run(SQLITE_DROP_TRIGGERS)
        _run(SQLITE_ROW_TRIGGERS)
    # ### commands auto generated by Alembic - please adjust! ###
    op.drop_table('service_total_change')
    # ### end Alembic commands ###
