"""Released held tips: the event kind of a held tip judged "not spam" (issue 21)

Revision ID: b7a1c0de0021
Revises: b7a1c0de0020
Create Date: 2026-12-06 21:10:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7a1c0de0021'
down_revision = 'b7a1c0de0020'
branch_labels = None
depends_on = None

OLD_EVENT_KINDS = (
    'submitted', 'triaged', 'verifying', 'verified', 'resolved', 'unfounded', 'duplicate',
    'rejected', 'escalated', 'moved', 'note', 'photo_added', 'assigned', 'priority',
    'message', 'tipster_message', 'identity_revealed', 'tipster_answer', 'reopened',
    'rejection_undone',
)
NEW_EVENT_KINDS = OLD_EVENT_KINDS + ('released',)


def _enum(values, name):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=24)


def _set_values(values, previous):
    """Replace the CHECK of tip_events.kind (PostgreSQL alters it; SQLite copies the table)."""
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        constraint = op.f('ck_tip_events_event_kind')
        op.drop_constraint(constraint, 'tip_events', type_='check')
        quoted = ', '.join(f"'{v}'" for v in values)
        op.create_check_constraint(constraint, 'tip_events', f'kind IN ({quoted})')
    else:
        with op.batch_alter_table('tip_events', recreate='always') as batch_op:
            batch_op.alter_column(
                'kind', existing_type=_enum(previous, 'event_kind'),
                type_=_enum(values, 'event_kind'), existing_nullable=False,
            )


def upgrade():
    _set_values(NEW_EVENT_KINDS, OLD_EVENT_KINDS)


def downgrade():
    # The older schema has no such event: only the record of who released a held tip,
    # and when, goes (the tip's state does not depend on it).
    op.execute("DELETE FROM tip_events WHERE kind = 'released'")
    _set_values(OLD_EVENT_KINDS, NEW_EVENT_KINDS)
