"""audit_chain: each audit entry is chained to the one before by a hash

Revision ID: d0db9f0ff2d5
Revises: e7a1c5d9b3f0
Create Date: 2026-12-04 23:30:00

Adds ``seq``, ``prev_hash`` and ``entry_hash`` to ``audit_entry`` and chains
the entries already there in id order (seq 1, 2, 3, ...), with the hashing
code carried below as it was when this revision was written (the
application's is sync/chain.py with server/audit/chain.py:
tests/test_migrations.py checks that ``flask --app server audit verify``
accepts what this revision wrote). SQLite copies the table to make the
columns NOT NULL. 200,000 entries take about 12 s (docs/benchmarks.md).
"""
import hashlib
import json

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'd0db9f0ff2d5'
down_revision = 'e7a1c5d9b3f0'
branch_labels = None
depends_on = None

_SEQ_TYPE = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_ROWS_PER_READ = 5000

_entry = sa.table(
    'audit_entry', sa.column('id', sa.Integer()), sa.column('seq', _SEQ_TYPE),
    sa.column('at', sa.DateTime()), sa.column('actor', sa.String()),
    sa.column('action', sa.String()), sa.column('object_type', sa.String()),
    sa.column('object_code', sa.String()), sa.column('reason', sa.Text()),
    sa.column('changes', sa.JSON()), sa.column('prev_hash', sa.String()),
    sa.column('entry_hash', sa.String()))


def _link_hash(previous, fields):
    """SHA-256 (hex) of the canonical JSON of [previous hash, fields]: keys
    sorted, no whitespace, non-ASCII as itself, UTF-8."""
    text = json.dumps([previous, fields], sort_keys=True, separators=(',', ':'),
                      ensure_ascii=False)
    return hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()


def _fields(seq, row):
    # ``at`` is stored as naive UTC.
    return {'seq': seq, 'at': row.at.isoformat(timespec='microseconds') + 'Z', 'actor': row.actor,
            'action': row.action, 'object_type': row.object_type,
            'object_code': row.object_code, 'reason': row.reason, 'changes': row.changes}


def _write(connection, chained):
    if connection.dialect.name == 'postgresql':
        # One statement per read: several times faster than one per row.
        connection.exec_driver_sql(
            'UPDATE audit_entry AS a SET seq = v.seq, prev_hash = v.prev, entry_hash = v.hash '
            'FROM unnest(%s::int[], %s::bigint[], %s::varchar[], %s::varchar[]) '
            'AS v(id, seq, prev, hash) WHERE a.id = v.id',
            tuple(list(column) for column in zip(*chained)))
        return
    connection.exec_driver_sql(
        'UPDATE audit_entry SET seq = ?, prev_hash = ?, entry_hash = ? WHERE id = ?',
        [(seq, prev, entry_hash, row_id) for row_id, seq, prev, entry_hash in chained])


def _chain_existing(connection):
    seq, previous, after = 0, None, None
    while True:
        query = sa.select(_entry.c.id, _entry.c.at, _entry.c.actor, _entry.c.action,
                          _entry.c.object_type, _entry.c.object_code, _entry.c.reason,
                          _entry.c.changes).order_by(_entry.c.id).limit(_ROWS_PER_READ)
        if after is not None:
            query = query.where(_entry.c.id > after)
        rows = connection.execute(query).all()
        if not rows:
            return
        chained = []
        for row in rows:
            seq += 1
            entry_hash = _link_hash(previous, _fields(seq, row))
            chained.append((row.id, seq, previous, entry_hash))
            previous = entry_hash
        _write(connection, chained)
        after = rows[-1].id


def upgrade():
    op.add_column('audit_entry', sa.Column('seq', _SEQ_TYPE, nullable=True))
    op.add_column('audit_entry', sa.Column('prev_hash', sa.String(length=64), nullable=True))
    op.add_column('audit_entry', sa.Column('entry_hash', sa.String(length=64), nullable=True))
    _chain_existing(op.get_bind())
    with op.batch_alter_table('audit_entry') as batch:
        batch.alter_column('seq', existing_type=_SEQ_TYPE, nullable=False)
        batch.alter_column('entry_hash', existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint(batch.f('uq_audit_entry_seq'), ['seq'])


def downgrade():
    with op.batch_alter_table('audit_entry') as batch:
        batch.drop_constraint(batch.f('uq_audit_entry_seq'), type_='unique')
        batch.drop_column('entry_hash')
        batch.drop_column('prev_hash')
        batch.drop_column('seq')
