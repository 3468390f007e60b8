"""suspect sessions: an index of the sessions flagged with a pattern of faked hours

Revision ID: 3f6b9d2e8a14
Revises: 4f2a9c7d1e63
Create Date: 2026-12-05 10:00:00

A partial index on service_session (local_date) of the sessions flagged
impossible_travel, overlapping_sessions, code_far_away or backfilled_days
(sync/fraud.py): the console's suspicious-records page of a city's month
reads those few instead of the month. No column changes. The flags apply
to what is paired from now on; `flask --app server pairing requeue-all`
judges every session with them (docs/deploy.md).
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '3f6b9d2e8a14'
down_revision = '4f2a9c7d1e63'
branch_labels = None
depends_on = None

# The predicate as this revision wrote it (docs/migrations.md, rule 1).
SUSPECT = ("flags LIKE '%impossible_travel%' OR flags LIKE '%overlapping_sessions%' "
           "OR flags LIKE '%code_far_away%' OR flags LIKE '%backfilled_days%'")


def upgrade():
    op.create_index('ix_service_session_suspect', 'service_session', ['local_date'],
                    unique=False, postgresql_where=sa.text(SUSPECT),
                    sqlite_where=sa.text(SUSPECT))


def downgrade():
    op.drop_index('ix_service_session_suspect', table_name='service_session')
