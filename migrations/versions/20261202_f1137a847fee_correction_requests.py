"""correction requests (更正申请) from volunteers' phones

Revision ID: f1137a847fee
Revises: a6f7ed8d7a54
Create Date: 2026-12-02 14:47:49

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'f1137a847fee'
down_revision = 'a6f7ed8d7a54'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'correction_request',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.String(length=64), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('device_id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.String(length=64), nullable=True),
        sa.Column('station_id', sa.Integer(), nullable=True),
        sa.Column('start_at', sa.DateTime(), nullable=True),
        sa.Column('end_at', sa.DateTime(), nullable=True),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('closed_at', sa.DateTime(), nullable=True),
        sa.Column('closed_by_id', sa.Integer(), nullable=True),
        sa.Column('answer', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['closed_by_id'], ['app_user.id'],
                                name=op.f('fk_correction_request_closed_by_id_app_user')),
        sa.ForeignKeyConstraint(['device_id'], ['device.id'],
                                name=op.f('fk_correction_request_device_id_device')),
        sa.ForeignKeyConstraint(['person_id'], ['person.id'],
                                name=op.f('fk_correction_request_person_id_person')),
        sa.ForeignKeyConstraint(['station_id'], ['station.id'],
                                name=op.f('fk_correction_request_station_id_station')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_correction_request')),
        sa.UniqueConstraint('request_id', name=op.f('uq_correction_request_request_id')),
    )
    op.create_index('ix_correction_request_open', 'correction_request',
                    ['status', 'created_at'])
    op.create_index(op.f('ix_correction_request_person_id'), 'correction_request',
                    ['person_id'])


def downgrade():
    op.drop_index(op.f('ix_correction_request_person_id'), table_name='correction_request')
    op.drop_index('ix_correction_request_open', table_name='correction_request')
    op.drop_table('correction_request')
