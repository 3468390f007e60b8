"""app_user.console_session: the console's sign-in, revocable on the server

Revision ID: 994e15ea9d29
Revises: b5e1d0c3a7f2
Create Date: 2026-12-04 20:40:00

The console's session cookie carries the user's id and this value; signing
out and a new password replace it, so a copied cookie stops working. Users
start with NULL (no console session open): cookies signed before this
revision carried the password hash's tail instead and are refused once, so
everyone signs in again after the upgrade.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '994e15ea9d29'
down_revision = 'b5e1d0c3a7f2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('app_user') as batch_op:
        batch_op.add_column(sa.Column('console_session', sa.String(length=43), nullable=True))


def downgrade():
    with op.batch_alter_table('app_user') as batch_op:
        batch_op.drop_column('console_session')
