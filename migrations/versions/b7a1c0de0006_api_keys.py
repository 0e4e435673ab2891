"""api keys: partner keys, staff API tokens, the API use log, audit actions for keys

Revision ID: b7a1c0de0006
Revises: b7a1c0de0005
Create Date: 2026-11-29 03:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7a1c0de0006'
down_revision = 'b7a1c0de0005'
branch_labels = None
depends_on = None

OLD_AUDIT_ACTIONS = (
    'user_created', 'role_granted', 'role_revoked', 'user_deactivated', 'user_reactivated',
    'password_reset', 'password_changed', 'two_factor_enabled', 'two_factor_disabled',
    'villages_imported', 'unit_retired',
)
NEW_AUDIT_ACTIONS = OLD_AUDIT_ACTIONS + ('api_key_created', 'api_key_revoked')


def _action_type(values):
    return sa.Enum(*values, name='audit_action', native_enum=False, create_constraint=True, length=24)


def _set_audit_actions(values, previous):
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.drop_constraint(op.f('ck_audit_entries_audit_action'), 'audit_entries', type_='check')
        quoted = ', '.join(f"'{v}'" for v in values)
        op.create_check_constraint(op.f('ck_audit_entries_audit_action'), 'audit_entries', f'action IN ({quoted})')
    else:
        # SQLite cannot alter a CHECK constraint: the batch copies the table with the new one.
        with op.batch_alter_table('audit_entries', recreate='always') as batch_op:
            batch_op.alter_column(
                'action', existing_type=_action_type(previous), type_=_action_type(values),
                existing_nullable=False,
            )


def upgrade():
    op.create_table('partner_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('may_submit', sa.Boolean(), nullable=False),
    sa.Column('may_read', sa.Boolean(), nullable=False),
    sa.Column('may_name', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_partner_keys_created_by_id_users')),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['users.id'], name=op.f('fk_partner_keys_revoked_by_id_users')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_partner_keys_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_keys')),
    sa.UniqueConstraint('prefix', name=op.f('uq_partner_keys_prefix'))
    )
    with op.batch_alter_table('partner_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partner_keys_unit_id'), ['unit_id'], unique=False)

    op.create_table('staff_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('session_version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_staff_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_tokens')),
    sa.UniqueConstraint('prefix', name=op.f('uq_staff_tokens_prefix'))
    )
    with op.batch_alter_table('staff_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('api_uses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('partner_key_id', sa.Integer(), nullable=True),
    sa.Column('staff_token_id', sa.Integer(), nullable=True),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('endpoint', sa.String(length=80), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('tip_reference', sa.String(length=16), nullable=True),
    sa.CheckConstraint('(partner_key_id IS NULL) <> (staff_token_id IS NULL)', name=op.f('ck_api_uses_one_credential')),
    sa.ForeignKeyConstraint(['partner_key_id'], ['partner_keys.id'], name=op.f('fk_api_uses_partner_key_id_partner_keys')),
    sa.ForeignKeyConstraint(['staff_token_id'], ['staff_tokens.id'], name=op.f('fk_api_uses_staff_token_id_staff_tokens'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_uses'))
    )
    with op.batch_alter_table('api_uses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_uses_at'), ['at'], unique=False)
        batch_op.create_index('ix_api_uses_key_at', ['partner_key_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_api_uses_staff_token_id'), ['staff_token_id'], unique=False)

    _set_audit_actions(NEW_AUDIT_ACTIONS, OLD_AUDIT_ACTIONS)


def downgrade():
    op.execute("DELETE FROM audit_entries WHERE action IN ('api_key_created', 'api_key_revoked')")
    _set_audit_actions(OLD_AUDIT_ACTIONS, NEW_AUDIT_ACTIONS)
    with op.batch_alter_table('api_uses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_uses_staff_token_id'))
        batch_op.drop_index('ix_api_uses_key_at')
        batch_op.drop_index(batch_op.f('ix_api_uses_at'))
    op.drop_table('api_uses')
    with op.batch_alter_table('staff_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_tokens_user_id'))
    op.drop_table('staff_tokens')
    with op.batch_alter_table('partner_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partner_keys_unit_id'))
    op.drop_table('partner_keys')
