"""device_station indexed by station

Revision ID: 8e4b2d6a9c13
Revises: 3c9a1e7f5b21
Create Date: 2026-12-02 02:10:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '8e4b2d6a9c13'
down_revision = '3c9a1e7f5b21'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(op.f('ix_device_station_station_id'), 'device_station', ['station_id'],
                    unique=False)


def downgrade():
    op.drop_index(op.f('ix_device_station_station_id'), table_name='device_station')
