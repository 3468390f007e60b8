"""pairing_due.until_at: where re-pairing may stop

Revision ID: c4f8a2d6e913
Revises: 9b3e5f1c7a20
Create Date: 2026-12-02 09:30:00

Rows queued before this revision keep NULL: they re-pair to the end of the
person's history, as they would have.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c4f8a2d6e913'
down_revision = '9b3e5f1c7a20'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('pairing_due') as batch_op:
        batch_op.add_column(sa.Column('until_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('pairing_due') as batch_op:
        batch_op.drop_column('until_at')
