"""station_display: screens at a station that sign check-in codes changing every 30 s

Revision ID: 4f2a9c7d1e63
Revises: d0db9f0ff2d5
Create Date: 2026-12-04 22:05:00

A display generates its Ed25519 key pair in the browser and keeps the
private key; the server keeps the public key, to verify the display's codes
(docs/sync-protocol.md, "Station QR codes") and to send it to devices by pull.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '4f2a9c7d1e63'
down_revision = 'd0db9f0ff2d5'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'station_display',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=32), nullable=False),
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.Column('public_key', sa.LargeBinary(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('registered_by_user_id', sa.Integer(), nullable=True),
        sa.Column('registered_by_device_id', sa.Integer(), nullable=True),
        sa.Column('registered_at', sa.DateTime(), nullable=False),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
        sa.Column('revoked_by_user_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['registered_by_device_id'], ['device.id'],
                                name=op.f('fk_station_display_registered_by_device_id_device')),
        sa.ForeignKeyConstraint(['registered_by_user_id'], ['app_user.id'],
                                name=op.f('fk_station_display_registered_by_user_id_app_user')),
        sa.ForeignKeyConstraint(['revoked_by_user_id'], ['app_user.id'],
                                name=op.f('fk_station_display_revoked_by_user_id_app_user')),
        sa.ForeignKeyConstraint(['station_id'], ['station.id'],
                                name=op.f('fk_station_display_station_id_station')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_station_display')),
        sa.UniqueConstraint('code', name=op.f('uq_station_display_code')),
        sa.UniqueConstraint('public_key', name=op.f('uq_station_display_public_key')),
    )
    op.create_index(op.f('ix_station_display_station_id'), 'station_display', ['station_id'])


def downgrade():
    op.drop_index(op.f('ix_station_display_station_id'), table_name='station_display')
    op.drop_table('station_display')
