"""checkin_event: drop the indexes no query reads (device, station, activity)

Revision ID: 5d2c7e9a41b8
Revises: 8e4b2d6a9c13
Create Date: 2026-12-02 06:10:00

Every push pays for each index of checkin_event; these three served no
query (events are read by event id, by person and time, and by id) and
would take ~1.3 GB at 20 million events. See server/checkins/models.py.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '5d2c7e9a41b8'
down_revision = '8e4b2d6a9c13'
branch_labels = None
depends_on = None

_UNREAD = ('activity_id', 'device_id', 'station_id')


def upgrade():
    for column in _UNREAD:
        op.drop_index(op.f(f'ix_checkin_event_{column}'), table_name='checkin_event')


def downgrade():
    for column in _UNREAD:
        op.create_index(op.f(f'ix_checkin_event_{column}'), 'checkin_event', [column],
                        unique=False)
