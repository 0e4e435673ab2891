"""Held tips: a tip posted without a solved puzzle during a flood waits for review as possible spam

Revision ID: b7a1c0de0020
Revises: b7a1c0de0019
Create Date: 2026-12-06 19:45:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7a1c0de0020'
down_revision = 'b7a1c0de0019'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('tips', schema=None) as batch_op:
        batch_op.add_column(sa.Column('held', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('tips', schema=None) as batch_op:
        batch_op.drop_column('held')
