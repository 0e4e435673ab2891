"""closing and reopening (issue 22): the tipster's answer, a reopening, false reports,
rejections undone

Revision ID: b7a1c0de0015
Revises: b7a1c0de0014
Create Date: 2026-12-06 16:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7a1c0de0015'
down_revision = 'b7a1c0de0014'
branch_labels = None
depends_on = None

OLD_EVENT_KINDS = (
    'submitted', 'triaged', 'verifying', 'verified', 'resolved', 'unfounded', 'duplicate',
    'rejected', 'escalated', 'moved', 'note', 'photo_added', 'assigned', 'priority',
    'message', 'tipster_message', 'identity_revealed',
)
NEW_EVENT_KINDS = OLD_EVENT_KINDS + ('tipster_answer', 'reopened', 'rejection_undone')
OLD_REASONS = ('spam', 'abuse', 'out_of_scope')
NEW_REASONS = OLD_REASONS + ('false_report',)
ANSWERS = ('done', 'not_done', 'unknown')


def _enum(values, name):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=24)


def _set_values(table, column, name, values, previous):
    """Replace the CHECK of an enum column (PostgreSQL alters it; SQLite copies the table)."""
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        constraint = op.f(f'ck_{table}_{name}')
        op.drop_constraint(constraint, table, type_='check')
        quoted = ', '.join(f"'{v}'" for v in values)
        op.create_check_constraint(constraint, table, f'{column} IN ({quoted})')
    else:
        with op.batch_alter_table(table, recreate='always') as batch_op:
            batch_op.alter_column(
                column, existing_type=_enum(previous, name), type_=_enum(values, name),
                existing_nullable=column != 'kind',
            )


def upgrade():
    _set_values('tip_events', 'kind', 'event_kind', NEW_EVENT_KINDS, OLD_EVENT_KINDS)
    _set_values('tip_events', 'reject_reason', 'event_reject_reason', NEW_REASONS, OLD_REASONS)
    _set_values('tips', 'reject_reason', 'reject_reason', NEW_REASONS, OLD_REASONS)
    with op.batch_alter_table('tips', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reopened_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('earlier_closed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('tipster_answer', _enum(ANSWERS, 'tipster_answer'), nullable=True))
        batch_op.add_column(sa.Column('tipster_answer_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('tip_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answer', _enum(ANSWERS, 'event_answer'), nullable=True))


def downgrade():
    with op.batch_alter_table('tip_events', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_tip_events_event_answer'), type_='check')
        batch_op.drop_column('answer')
    with op.batch_alter_table('tips', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_tips_tipster_answer'), type_='check')
        batch_op.drop_column('tipster_answer_at')
        batch_op.drop_column('tipster_answer')
        batch_op.drop_column('earlier_closed_at')
        batch_op.drop_column('reopened_at')
    # The older schema has no false report: such rejections become abuse.
    op.execute("UPDATE tips SET reject_reason = 'abuse' WHERE reject_reason = 'false_report'")
    op.execute(
        "UPDATE tip_events SET reject_reason = 'abuse' WHERE reject_reason = 'false_report'"
    )
    op.execute(
        "DELETE FROM tip_events WHERE kind IN ('tipster_answer', 'reopened', 'rejection_undone')"
    )
    _set_values('tips', 'reject_reason', 'reject_reason', OLD_REASONS, NEW_REASONS)
    _set_values('tip_events', 'reject_reason', 'event_reject_reason', OLD_REASONS, NEW_REASONS)
    _set_values('tip_events', 'kind', 'event_kind', OLD_EVENT_KINDS, NEW_EVENT_KINDS)
