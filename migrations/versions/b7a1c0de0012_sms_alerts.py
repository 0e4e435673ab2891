"""sms alerts (issue 16): staff numbers for SMS alerts, tipsters' SMS updates per tip

Revision ID: b7a1c0de0012
Revises: b7a1c0de0011
Create Date: 2026-12-06 16:40:00

Both tables hold phone numbers sealed (Fernet) beside a keyed hash, never in the clear.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7a1c0de0012'
down_revision = 'b7a1c0de0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('staff_sms_numbers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('phone_sealed', sa.Text(), nullable=False),
    sa.Column('phone_hash', sa.String(length=64), nullable=False),
    sa.Column('verified_at', sa.DateTime(), nullable=True),
    sa.Column('code_hash', sa.String(length=64), nullable=True),
    sa.Column('code_expires_at', sa.DateTime(), nullable=True),
    sa.Column('code_tries', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_staff_sms_numbers_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_sms_numbers')),
    sa.UniqueConstraint('user_id', name=op.f('uq_staff_sms_numbers_user_id'))
    )
    with op.batch_alter_table('staff_sms_numbers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_sms_numbers_phone_hash'), ['phone_hash'], unique=False)

    op.create_table('tip_sms_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tip_id', sa.Integer(), nullable=False),
    sa.Column('phone_sealed', sa.Text(), nullable=False),
    sa.Column('phone_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tip_id'], ['tips.id'], name=op.f('fk_tip_sms_subscriptions_tip_id_tips'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tip_sms_subscriptions')),
    sa.UniqueConstraint('tip_id', name=op.f('uq_tip_sms_subscriptions_tip_id'))
    )
    with op.batch_alter_table('tip_sms_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tip_sms_subscriptions_phone_hash'), ['phone_hash'], unique=False)


def downgrade():
    with op.batch_alter_table('tip_sms_subscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tip_sms_subscriptions_phone_hash'))
    op.drop_table('tip_sms_subscriptions')
    with op.batch_alter_table('staff_sms_numbers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_sms_numbers_phone_hash'))
    op.drop_table('staff_sms_numbers')
