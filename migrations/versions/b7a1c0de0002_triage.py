"""triage: priority, assignment, deadlines, templates, notifications

Revision ID: b7a1c0de0002
Revises: 94c7a030457c
Create Date: 2026-11-29 01:00:00

"""
import re
import unicodedata

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b7a1c0de0002'
down_revision = '94c7a030457c'
branch_labels = None
depends_on = None

OLD_EVENT_KINDS = (
    'submitted', 'triaged', 'verifying', 'verified', 'resolved', 'unfounded', 'duplicate',
    'rejected', 'escalated', 'moved', 'note', 'photo_added',
)
NEW_EVENT_KINDS = OLD_EVENT_KINDS + ('assigned', 'priority')
OPEN_SQL = "status IN ('received', 'triaged', 'verifying', 'verified')"


def _kind_type(values):
    return sa.Enum(*values, name='event_kind', native_enum=False, create_constraint=True, length=24)


def _fold(value):
    # A frozen copy of tipline.core.text.fold: a migration must not change with the app.
    if not value:
        return ''
    value = value.translate(str.maketrans({'đ': 'd', 'Đ': 'd'}))
    bare = ''.join(c for c in unicodedata.normalize('NFD', value) if not unicodedata.combining(c))
    return re.sub(r'\s+', ' ', bare.lower()).strip()


def _set_event_kinds(values):
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.drop_constraint(op.f('ck_tip_events_event_kind'), 'tip_events', type_='check')
        quoted = ', '.join(f"'{v}'" for v in values)
        op.create_check_constraint(op.f('ck_tip_events_event_kind'), 'tip_events', f'kind IN ({quoted})')
    else:
        # SQLite cannot alter a CHECK constraint: the batch copies the table with the new one.
        with op.batch_alter_table('tip_events', recreate='always') as batch_op:
            batch_op.alter_column(
                'kind', existing_type=_kind_type(OLD_EVENT_KINDS if values == NEW_EVENT_KINDS else NEW_EVENT_KINDS),
                type_=_kind_type(values), existing_nullable=False,
            )


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')

    op.create_table('response_templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_response_templates_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_response_templates'))
    )
    with op.batch_alter_table('response_templates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_response_templates_unit_id'), ['unit_id'], unique=False)

    op.create_table('staff_emails',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('urgent_tips', sa.Boolean(), nullable=False),
    sa.Column('tipster_replies', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_staff_emails_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_staff_emails'))
    )
    op.create_table('outbox_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('tip_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tip_id'], ['tips.id'], name=op.f('fk_outbox_messages_tip_id_tips'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_messages'))
    )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_messages_sent_at'), ['sent_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_messages_tip_id'), ['tip_id'], unique=False)

    op.create_table('tip_reads',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('tip_id', sa.Integer(), nullable=False),
    sa.Column('seen_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tip_id'], ['tips.id'], name=op.f('fk_tip_reads_tip_id_tips'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_tip_reads_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'tip_id', name=op.f('pk_tip_reads'))
    )
    with op.batch_alter_table('tip_reads', schema=None) as batch_op:
        batch_op.create_index('ix_tip_reads_tip_id', ['tip_id'], unique=False)

    _set_event_kinds(NEW_EVENT_KINDS)
    with op.batch_alter_table('tip_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assignee_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('priority', sa.Enum('urgent', 'normal', 'low', name='event_priority', native_enum=False, create_constraint=True, length=24), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_tip_events_assignee_id_users'), 'users', ['assignee_id'], ['id'])

    with op.batch_alter_table('tips', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', sa.Enum('urgent', 'normal', 'low', name='priority', native_enum=False, create_constraint=True, length=24), nullable=False, server_default='normal'))
        batch_op.add_column(sa.Column('assignee_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('response_due_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('settle_due_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('source', sa.Enum('online', 'meeting', 'tip_box', 'phone', 'in_person', name='tip_source', native_enum=False, create_constraint=True, length=24), nullable=False, server_default='online'))
        batch_op.add_column(sa.Column('recorded_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('search_text', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('activity_at', sa.DateTime(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_tips_assignee_id_users'), 'users', ['assignee_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_tips_recorded_by_id_users'), 'users', ['recorded_by_id'], ['id'])

    # Existing tips: searchable, and read as of their submission.
    tips = sa.table('tips', sa.column('id'), sa.column('description'), sa.column('place'),
                    sa.column('search_text'), sa.column('activity_at'), sa.column('submitted_at'))
    rows = bind.execute(sa.select(tips.c.id, tips.c.description, tips.c.place)).all()
    for tip_id, description, place in rows:
        text = _fold(' '.join(p for p in (description, place) if p))
        bind.execute(tips.update().where(tips.c.id == tip_id).values(search_text=text))
    bind.execute(tips.update().values(activity_at=tips.c.submitted_at))

    with op.batch_alter_table('tips', schema=None) as batch_op:
        batch_op.alter_column('priority', server_default=None)
        batch_op.alter_column('source', server_default=None)
        batch_op.alter_column('search_text', server_default=None)
        batch_op.create_index('ix_tips_assignee_status', ['assignee_id', 'status'], unique=False)
        batch_op.create_index('ix_tips_open_unit', ['unit_id'], unique=False, postgresql_where=sa.text(OPEN_SQL), sqlite_where=sa.text(OPEN_SQL))
        batch_op.create_index('ix_tips_priority_submitted', ['priority', 'submitted_at'], unique=False)
        batch_op.create_index('ix_tips_search_trgm', ['search_text'], unique=False, postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})


def downgrade():
    with op.batch_alter_table('tips', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_tips_recorded_by_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_tips_assignee_id_users'), type_='foreignkey')
        batch_op.drop_index('ix_tips_search_trgm')
        batch_op.drop_index('ix_tips_priority_submitted')
        batch_op.drop_index('ix_tips_assignee_status')
        batch_op.drop_index('ix_tips_open_unit')
        batch_op.drop_constraint(op.f('ck_tips_priority'), type_='check')
        batch_op.drop_constraint(op.f('ck_tips_tip_source'), type_='check')
        batch_op.drop_column('activity_at')
        batch_op.drop_column('search_text')
        batch_op.drop_column('recorded_by_id')
        batch_op.drop_column('source')
        batch_op.drop_column('settle_due_at')
        batch_op.drop_column('response_due_at')
        batch_op.drop_column('assignee_id')
        batch_op.drop_column('priority')

    with op.batch_alter_table('tip_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_tip_events_assignee_id_users'), type_='foreignkey')
        batch_op.drop_constraint(op.f('ck_tip_events_event_priority'), type_='check')
        batch_op.drop_column('priority')
        batch_op.drop_column('assignee_id')
    op.execute("DELETE FROM tip_events WHERE kind IN ('assigned', 'priority')")
    _set_event_kinds(OLD_EVENT_KINDS)

    with op.batch_alter_table('tip_reads', schema=None) as batch_op:
        batch_op.drop_index('ix_tip_reads_tip_id')
    op.drop_table('tip_reads')
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_messages_tip_id'))
        batch_op.drop_index(batch_op.f('ix_outbox_messages_sent_at'))
    op.drop_table('outbox_messages')
    op.drop_table('staff_emails')
    with op.batch_alter_table('response_templates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_response_templates_unit_id'))
    op.drop_table('response_templates')
