"""tipster messages (placeholder, filled by its issue)

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


def upgrade():
    pass


def downgrade():
    pass
