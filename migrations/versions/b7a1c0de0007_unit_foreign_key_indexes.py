"""indexes on the foreign keys that point at units and had none

Deleting or merging a unit made PostgreSQL scan units, tips, tip_events and teams once
per unit (no index on units.merged_into_id, tips.submitted_unit_id,
tip_events.from_unit_id / to_unit_id, teams.unit_id).

Revision ID: b7a1c0de0007
Revises: b7a1c0de0006
Create Date: 2026-11-29 05:20:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'b7a1c0de0007'
down_revision = 'b7a1c0de0006'
branch_labels = None
depends_on = None

INDEXES = (
    ('units', 'merged_into_id'),
    ('tips', 'submitted_unit_id'),
    ('tip_events', 'from_unit_id'),
    ('tip_events', 'to_unit_id'),
    ('teams', 'unit_id'),
)


def upgrade():
    for table, column in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f'ix_{table}_{column}'), [column], unique=False)


def downgrade():
    for table, column in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table}_{column}'))
