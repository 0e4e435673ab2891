"""sms intake (issue 20): gateways registered to a unit, the numbers that wrote, their
tips, replies waiting in the outbox, webhook events taken; "sms" as a tip's source

Revision ID: b7a1c0de0016
Revises: b7a1c0de0015
Create Date: 2026-12-06 17:30:00

Numbers, passwords, signing keys and reply texts are sealed (Fernet), never in the clear.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7a1c0de0016'
down_revision = 'b7a1c0de0015'
branch_labels = None
depends_on = None

OLD_SOURCES = ('online', 'meeting', 'tip_box', 'phone', 'in_person')
NEW_SOURCES = OLD_SOURCES + ('sms',)
OLD_RECIPIENT = 'user_id IS NOT NULL OR tip_id IS NOT NULL'
NEW_RECIPIENT = "user_id IS NOT NULL OR tip_id IS NOT NULL OR kind = 'sms_text'"


def _enum(values, name):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=24)


def _set_sources(values, previous):
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        constraint = op.f('ck_tips_tip_source')
        op.drop_constraint(constraint, 'tips', type_='check')
        quoted = ', '.join(f"'{v}'" for v in values)
        op.create_check_constraint(constraint, 'tips', f'source IN ({quoted})')
    else:
        with op.batch_alter_table('tips', recreate='always') as batch_op:
            batch_op.alter_column(
                'source', existing_type=_enum(previous, 'tip_source'),
                type_=_enum(values, 'tip_source'), existing_nullable=False,
            )


def _set_recipient(sql):
    if op.get_bind().dialect.name == 'postgresql':
        constraint = op.f('ck_notifications_recipient')
        op.drop_constraint(constraint, 'notifications', type_='check')
        op.create_check_constraint(constraint, 'notifications', sql)
        return
    with op.batch_alter_table('notifications', recreate='always') as batch_op:
        batch_op.drop_constraint(op.f('ck_notifications_recipient'), type_='check')
        batch_op.create_check_constraint('recipient', sql)


def upgrade():
    _set_sources(NEW_SOURCES, OLD_SOURCES)
    _set_recipient(NEW_RECIPIENT)
    op.create_table('sms_gateways',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('base_url', sa.String(length=300), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('password_sealed', sa.Text(), nullable=False),
    sa.Column('signing_key_sealed', sa.Text(), nullable=False),
    sa.Column('sim', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_sms_gateways_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_gateways')),
    sa.UniqueConstraint('public_id', name=op.f('uq_sms_gateways_public_id'))
    )
    with op.batch_alter_table('sms_gateways', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sms_gateways_unit_id'), ['unit_id'], unique=False)

    op.create_table('sms_senders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('gateway_id', sa.Integer(), nullable=False),
    sa.Column('phone_hash', sa.String(length=64), nullable=False),
    sa.Column('phone_sealed', sa.Text(), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('pending_sealed', sa.Text(), nullable=True),
    sa.Column('candidate_unit_id', sa.Integer(), nullable=True),
    sa.Column('state_expires_at', sa.DateTime(), nullable=True),
    sa.Column('stopped_at', sa.DateTime(), nullable=True),
    sa.Column('told_privacy', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['candidate_unit_id'], ['units.id'], name=op.f('fk_sms_senders_candidate_unit_id_units')),
    sa.ForeignKeyConstraint(['gateway_id'], ['sms_gateways.id'], name=op.f('fk_sms_senders_gateway_id_sms_gateways'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_senders')),
    sa.UniqueConstraint('gateway_id', 'phone_hash', name=op.f('uq_sms_senders_gateway_id_phone_hash'))
    )
    with op.batch_alter_table('sms_senders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sms_senders_gateway_id'), ['gateway_id'], unique=False)

    op.create_table('sms_tip_links',
    sa.Column('tip_id', sa.Integer(), nullable=False),
    sa.Column('sender_id', sa.Integer(), nullable=False),
    sa.Column('last_message_id', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['sender_id'], ['sms_senders.id'], name=op.f('fk_sms_tip_links_sender_id_sms_senders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tip_id'], ['tips.id'], name=op.f('fk_sms_tip_links_tip_id_tips'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tip_id', name=op.f('pk_sms_tip_links'))
    )
    with op.batch_alter_table('sms_tip_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sms_tip_links_sender_id'), ['sender_id'], unique=False)

    op.create_table('sms_outgoing',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sender_id', sa.Integer(), nullable=False),
    sa.Column('text_sealed', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['sender_id'], ['sms_senders.id'], name=op.f('fk_sms_outgoing_sender_id_sms_senders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_outgoing'))
    )
    with op.batch_alter_table('sms_outgoing', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sms_outgoing_sender_id'), ['sender_id'], unique=False)

    op.create_table('sms_webhook_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('gateway_id', sa.Integer(), nullable=False),
    sa.Column('event_hash', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['gateway_id'], ['sms_gateways.id'], name=op.f('fk_sms_webhook_events_gateway_id_sms_gateways'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_webhook_events')),
    sa.UniqueConstraint('gateway_id', 'event_hash', name=op.f('uq_sms_webhook_events_gateway_id_event_hash'))
    )
    with op.batch_alter_table('sms_webhook_events', schema=None) as batch_op:
        batch_op.create_index('ix_sms_webhook_events_received_at', ['received_at'], unique=False)


def downgrade():
    op.drop_table('sms_webhook_events')
    op.drop_table('sms_outgoing')
    op.drop_table('sms_tip_links')
    op.drop_table('sms_senders')
    op.drop_table('sms_gateways')
    op.execute("DELETE FROM notifications WHERE kind = 'sms_text'")
    _set_recipient(OLD_RECIPIENT)
    # The older schema has no SMS source: such tips become tips recorded by phone.
    op.execute("UPDATE tips SET source = 'phone' WHERE source = 'sms'")
    _set_sources(OLD_SOURCES, NEW_SOURCES)
