"""Staff alerts resolved by the worker: one notification row for "the staff who can act"

A resident's submission or reply wrote one notification per staff member inside its own
transaction, after reading their roles, accounts and preferences. It now writes one row
marked for_staff; the worker's fan-out finds the recipients and writes theirs.

Revision ID: b7a1c0de0019
Revises: b7a1c0de0018
Create Date: 2026-12-06 19:50:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7a1c0de0019'
down_revision = 'b7a1c0de0018'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('for_staff', sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade():
    # Rows still waiting for their recipients cannot be told from residents' alerts
    # without the column: they go (the worker would have sent them to nobody anyway).
    op.execute("DELETE FROM notifications WHERE for_staff")
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('for_staff')
