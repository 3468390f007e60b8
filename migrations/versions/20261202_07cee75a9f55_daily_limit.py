"""service_session.over_daily_limit: hours past a person's daily limit wait for review

Revision ID: 07cee75a9f55
Revises: f1137a847fee
Create Date: 2026-12-02 15:05:00

Plain ADD/DROP COLUMN, not a batch copy: on SQLite a copy of service_session
would drop the triggers that keep the branch totals. Existing days are
judged by the limit when they are next re-paired; `flask --app server
pairing requeue-all` judges all of them at once (docs/deploy.md).
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '07cee75a9f55'
down_revision = 'f1137a847fee'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('service_session', sa.Column('over_daily_limit', sa.Boolean(),
                                               server_default=sa.false(), nullable=False))


def downgrade():
    op.drop_column('service_session', 'over_daily_limit')
