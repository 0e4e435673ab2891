"""SMS review: a tip's SMS link remembers the last note to the tipster it has texted

Revision ID: b7a1c0de0018
Revises: b7a1c0de0017
Create Date: 2026-12-06 18:20:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7a1c0de0018'
down_revision = 'b7a1c0de0017'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sms_tip_links', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('last_note_id', sa.Integer(), server_default='0', nullable=False)
        )


def downgrade():
    with op.batch_alter_table('sms_tip_links', schema=None) as batch_op:
        batch_op.drop_column('last_note_id')
