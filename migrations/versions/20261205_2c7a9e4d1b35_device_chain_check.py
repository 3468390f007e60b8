"""device scan chains: checkin_event by (device_id, seq), device_chain_check and _break

Revision ID: 2c7a9e4d1b35
Revises: 3f6b9d2e8a14
Create Date: 2026-12-05 09:00:00

A device's scans are verified as a hash chain (server/devices/chain.py),
read in seq order: accepted events by a new index on (device_id, seq);
quarantined ones by their device_id index, which they have. What was
verified, per device, is kept in device_chain_check and the breaks found
in device_chain_break, so that a device's page reads only what arrived
since.

On PostgreSQL the index is built CONCURRENTLY, outside the migration's
transaction: pushes go on while it is built (0.37 s for 345,000 events on
the benchmark machine; docs/benchmarks.md, "Scan chains"; docs/deploy.md).
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '2c7a9e4d1b35'
down_revision = '3f6b9d2e8a14'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        # Outside the migration's transaction; a build cut short leaves an
        # invalid index behind, so a second run drops it first.
        with op.get_context().autocommit_block():
            op.execute('DROP INDEX CONCURRENTLY IF EXISTS ix_checkin_event_device_seq')
            op.create_index('ix_checkin_event_device_seq', 'checkin_event',
                            ['device_id', 'seq'], unique=False, postgresql_concurrently=True)
    else:
        op.create_index('ix_checkin_event_device_seq', 'checkin_event', ['device_id', 'seq'],
                        unique=False)
    op.create_table(
        'device_chain_check',
        sa.Column('device_id', sa.Integer(), nullable=False),
        sa.Column('through_seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  nullable=False),
        sa.Column('linked_from', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  nullable=True),
        sa.Column('row_counts', sa.Text(), nullable=False),
        sa.Column('checked_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['device_id'], ['device.id'],
                                name=op.f('fk_device_chain_check_device_id_device')),
        sa.PrimaryKeyConstraint('device_id', name=op.f('pk_device_chain_check')),
    )
    op.create_table(
        'device_chain_break',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('device_id', sa.Integer(), nullable=False),
        sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('found_at', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  nullable=False),
        sa.Column('expected', sa.String(length=64), nullable=True),
        sa.Column('stored', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['device_id'], ['device.id'],
                                name=op.f('fk_device_chain_break_device_id_device')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_device_chain_break')),
    )
    op.create_index('ix_device_chain_break_device_seq', 'device_chain_break',
                    ['device_id', 'seq', 'kind'], unique=False)


def downgrade():
    op.drop_index('ix_device_chain_break_device_seq', table_name='device_chain_break')
    op.drop_table('device_chain_break')
    op.drop_table('device_chain_check')
    op.drop_index('ix_checkin_event_device_seq', table_name='checkin_event')
