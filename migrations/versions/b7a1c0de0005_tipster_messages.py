"""tipster messages: messages between staff and the tipster, three more event kinds

Revision ID: b7a1c0de0005
Revises: b7a1c0de0004
Create Date: 2026-11-29 03:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7a1c0de0005'
down_revision = 'b7a1c0de0004'
branch_labels = None
depends_on = None

OLD_EVENT_KINDS = (
    'submitted', 'triaged', 'verifying', 'verified', 'resolved', 'unfounded', 'duplicate',
    'rejected', 'escalated', 'moved', 'note', 'photo_added', 'assigned', 'priority',
)
NEW_EVENT_KINDS = OLD_EVENT_KINDS + ('message', 'tipster_message', 'identity_revealed')
MESSAGE_KINDS = ('question', 'status_note', 'reply', 'information')


def _kind_type(values):
    return sa.Enum(*values, name='event_kind', native_enum=False, create_constraint=True, length=24)


def _set_event_kinds(values, previous):
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.drop_constraint(op.f('ck_tip_events_event_kind'), 'tip_events', type_='check')
        quoted = ', '.join(f"'{v}'" for v in values)
        op.create_check_constraint(op.f('ck_tip_events_event_kind'), 'tip_events', f'kind IN ({quoted})')
    else:
        # SQLite cannot alter a CHECK constraint: the batch copies the table with the new one.
        with op.batch_alter_table('tip_events', recreate='always') as batch_op:
            batch_op.alter_column(
                'kind', existing_type=_kind_type(previous), type_=_kind_type(values),
                existing_nullable=False,
            )


def upgrade():
    op.create_table('tip_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tip_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum(*MESSAGE_KINDS, name='message_kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('purged_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_tip_messages_author_id_users')),
    sa.ForeignKeyConstraint(['tip_id'], ['tips.id'], name=op.f('fk_tip_messages_tip_id_tips'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tip_messages'))
    )
    with op.batch_alter_table('tip_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tip_messages_tip_id'), ['tip_id'], unique=False)

    _set_event_kinds(NEW_EVENT_KINDS, OLD_EVENT_KINDS)


def downgrade():
    op.execute("DELETE FROM tip_events WHERE kind IN ('message', 'tipster_message', 'identity_revealed')")
    _set_event_kinds(OLD_EVENT_KINDS, NEW_EVENT_KINDS)
    with op.batch_alter_table('tip_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tip_messages_tip_id'))
    op.drop_table('tip_messages')
