"""alerts outbox, deliveries and preferences (issue 16)

Revision ID: b7a1c0de0010
Revises: b7a1c0de0009
Create Date: 2026-12-06 16:40:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = 'b7a1c0de0010'
down_revision = 'b7a1c0de0009'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
