"""reports: indicators entered per commune and period

Revision ID: b7a1c0de0003
Revises: b7a1c0de0002
Create Date: 2026-11-29 01:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7a1c0de0003'
down_revision = 'b7a1c0de0002'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
