"""path prefix indexes for PostgreSQL (varchar_pattern_ops)

Revision ID: 3c9a1e7f5b21
Revises: ffea229686b4
Create Date: 2026-12-02 01:40:00

A subtree is ``path LIKE 'prefix%'``; a plain btree answers that only under
the "C" collation. SQLite gets nothing: it has no operator classes.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '3c9a1e7f5b21'
down_revision = 'ffea229686b4'
branch_labels = None
depends_on = None

_TABLES = ("area", "organisation")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.create_index(f"ix_{table}_path_prefix", table, ["path"],
                        postgresql_ops={"path": "varchar_pattern_ops"})


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.drop_index(f"ix_{table}_path_prefix", table_name=table)
