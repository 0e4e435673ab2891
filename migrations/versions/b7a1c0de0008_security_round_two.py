"""security round two: one-use TOTP codes, tipster sign-out that ends every copy

users.totp_last_step keeps the last accepted TOTP time step, so a code opens one
session or one API token, never two. tips.tipster_session_version is part of the
tipster's signed session: signing out raises it, so a copied cookie dies too.

Revision ID: b7a1c0de0008
Revises: b7a1c0de0007
Create Date: 2026-12-06 14:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7a1c0de0008'
down_revision = 'b7a1c0de0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_last_step', sa.BigInteger(), nullable=True))
    with op.batch_alter_table('tips', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('tipster_session_version', sa.Integer(), server_default='0', nullable=False)
        )


def downgrade():
    with op.batch_alter_table('tips', schema=None) as batch_op:
        batch_op.drop_column('tipster_session_version')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('totp_last_step')
