"""web push subscriptions (issue 16)

Revision ID: b7a1c0de0011
Revises: b7a1c0de0010
Create Date: 2026-12-06 16:40:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = 'b7a1c0de0011'
down_revision = 'b7a1c0de0010'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
