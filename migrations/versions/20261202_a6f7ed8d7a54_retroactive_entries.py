"""retroactive entries (补录): their table, and events without a device

Revision ID: a6f7ed8d7a54
Revises: c4f8a2d6e913
Create Date: 2026-12-02 14:36:58

A retroactive entry's check-in and check-out are stored in checkin_event
with no device. On PostgreSQL dropping NOT NULL is a catalogue change; on
SQLite the batch operation copies the table once.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a6f7ed8d7a54'
down_revision = 'c4f8a2d6e913'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'retroactive_entry',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.Column('activity_id', sa.Integer(), nullable=True),
        sa.Column('start_at', sa.DateTime(), nullable=False),
        sa.Column('end_at', sa.DateTime(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('entered_by_id', sa.Integer(), nullable=False),
        sa.Column('entered_at', sa.DateTime(), nullable=False),
        sa.Column('checkin_event_id', sa.String(length=64), nullable=False),
        sa.Column('checkout_event_id', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['activity_id'], ['activity.id'],
                                name=op.f('fk_retroactive_entry_activity_id_activity')),
        sa.ForeignKeyConstraint(['entered_by_id'], ['app_user.id'],
                                name=op.f('fk_retroactive_entry_entered_by_id_app_user')),
        sa.ForeignKeyConstraint(['person_id'], ['person.id'],
                                name=op.f('fk_retroactive_entry_person_id_person')),
        sa.ForeignKeyConstraint(['station_id'], ['station.id'],
                                name=op.f('fk_retroactive_entry_station_id_station')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_retroactive_entry')),
        sa.UniqueConstraint('checkin_event_id',
                            name=op.f('uq_retroactive_entry_checkin_event_id')),
        sa.UniqueConstraint('checkout_event_id',
                            name=op.f('uq_retroactive_entry_checkout_event_id')),
    )
    op.create_index(op.f('ix_retroactive_entry_person_id'), 'retroactive_entry', ['person_id'])
    with op.batch_alter_table('checkin_event') as batch_op:
        batch_op.alter_column('device_id', existing_type=sa.Integer(), nullable=True)


def downgrade():
    # Records are never deleted: going back would have to drop the entered
    # events, so it is refused while there are any.
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM checkin_event WHERE device_id IS NULL "
                            "LIMIT 1")).first():
        raise RuntimeError("retroactive entries exist; they cannot be downgraded away")
    with op.batch_alter_table('checkin_event') as batch_op:
        batch_op.alter_column('device_id', existing_type=sa.Integer(), nullable=False)
    op.drop_index(op.f('ix_retroactive_entry_person_id'), table_name='retroactive_entry')
    op.drop_table('retroactive_entry')
