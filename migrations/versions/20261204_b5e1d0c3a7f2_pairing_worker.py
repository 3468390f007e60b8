"""pairing_worker: the pairing workers' heartbeats

Revision ID: b5e1d0c3a7f2
Revises: 07cee75a9f55
Create Date: 2026-12-04 21:10:00

Pairing moved out of the web workers into ``flask --app server pairing
worker``; each worker says it is alive here, and the dashboard and
/health/pairing read it.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'b5e1d0c3a7f2'
down_revision = '07cee75a9f55'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'pairing_worker',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('beat_at', sa.DateTime(), nullable=False),
        sa.Column('paired_people', sa.BigInteger(), nullable=False),
        sa.Column('last_paired_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pairing_worker')),
        sa.UniqueConstraint('name', name=op.f('uq_pairing_worker_name')),
    )


def downgrade():
    op.drop_table('pairing_worker')
