"""web push subscriptions (issue 16)

Revision ID: b7a1c0de0011
Revises: b7a1c0de0010
Create Date: 2026-12-06 16:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7a1c0de0011'
down_revision = 'b7a1c0de0010'
branch_labels = None
depends_on = None


def upgrade():
    # A staff member's device or a resident's opt-in for one tip: the endpoint and keys
    # sealed (tipline/core/sealed.py), found again by a keyed hash of the endpoint.
    op.create_table('push_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('tip_id', sa.Integer(), nullable=True),
    sa.Column('endpoint_hash', sa.String(length=64), nullable=False),
    sa.Column('sealed', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('(user_id IS NULL AND tip_id IS NOT NULL) OR (user_id IS NOT NULL AND tip_id IS NULL)', name=op.f('ck_push_subscriptions_one_owner')),
    sa.ForeignKeyConstraint(['tip_id'], ['tips.id'], name=op.f('fk_push_subscriptions_tip_id_tips'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_push_subscriptions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_subscriptions')),
    sa.UniqueConstraint('endpoint_hash', name=op.f('uq_push_subscriptions_endpoint_hash')),
    sa.UniqueConstraint('public_id', name=op.f('uq_push_subscriptions_public_id'))
    )
    with op.batch_alter_table('push_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_push_subscriptions_tip_id'), ['tip_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_push_subscriptions_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('push_subscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_push_subscriptions_user_id'))
        batch_op.drop_index(batch_op.f('ix_push_subscriptions_tip_id'))

    op.drop_table('push_subscriptions')
