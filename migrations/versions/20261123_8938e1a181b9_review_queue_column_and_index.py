"""review queue column and index

Revision ID: 8938e1a181b9
Revises: 756ba0c90610
Create Date: 2026-11-23 18:15:28.143012

"""
from alembic import op
import sqlalchemy as sa

from server.reports import totals_sql


# revision identifiers, used by Alembic.
revision = '8938e1a181b9'
down_revision = '756ba0c90610'
branch_labels = None
depends_on = None


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade():
    # SQLite adds a stored generated column only by rebuilding the table,
    # which drops the table's triggers: take them off and put them back.
    if _sqlite():
        totals_sql.uninstall(op.get_bind())
    with op.batch_alter_table('service_session', schema=None,
                              recreate="always" if _sqlite() else "auto") as batch_op:
        batch_op.add_column(sa.Column('awaiting_review', sa.Boolean(), sa.Computed("status IN ('missing_checkout', 'too_long', 'orphan_checkout', 'needs_review') OR review_stale", persisted=True), nullable=False))
        batch_op.create_index('ix_service_session_review_queue', ['awaiting_review', 'branch_id', 'key_at'], unique=False)
    if _sqlite():
        totals_sql.install(op.get_bind(), sqlite_row_triggers=True)


def downgrade():
    if _sqlite():
        totals_sql.uninstall(op.get_bind())
    with op.batch_alter_table('service_session', schema=None) as batch_op:
        batch_op.drop_index('ix_service_session_review_queue')
        batch_op.drop_column('awaiting_review')
    if _sqlite():
        totals_sql.install(op.get_bind(), sqlite_row_triggers=True)
