"""triage: priority, assignment, deadlines, templates, notifications

Revision ID: b7a1c0de0002
Revises: 94c7a030457c
Create Date: 2026-11-29 01:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7a1c0de0002'
down_revision = '94c7a030457c'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
