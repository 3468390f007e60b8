"""seq columns 64-bit on PostgreSQL

Revision ID: 9b3e5f1c7a20
Revises: 5d2c7e9a41b8
Create Date: 2026-12-02 06:40:00

The protocol's seq is any non-negative integer below 2**53. In 32-bit
columns a seq of 2**31 or more failed its whole batch on PostgreSQL, again
on every resend. SQLite's INTEGER is 64-bit already: nothing changes there.
On PostgreSQL the change rewrites checkin_event (run it in a quiet hour
once the table is large; docs/deploy.md).
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '9b3e5f1c7a20'
down_revision = '5d2c7e9a41b8'
branch_labels = None
depends_on = None

_COLUMNS = (('checkin_event', 'seq', True), ('quarantined_event', 'seq', True),
            ('device_seq_range', 'low', False), ('device_seq_range', 'high', False))


def upgrade():
    _retype(sa.BigInteger(), sa.Integer())


def downgrade():
    # Refused by PostgreSQL if a stored seq no longer fits: nothing is cut.
    _retype(sa.Integer(), sa.BigInteger())


def _retype(new, old) -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table, column, nullable in _COLUMNS:
        op.alter_column(table, column, type_=new, existing_type=old,
                        existing_nullable=nullable)
