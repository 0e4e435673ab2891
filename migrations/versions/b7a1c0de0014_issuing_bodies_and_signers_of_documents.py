"""issuing bodies and signers of documents (issue 17)

One row per unit that set how its documents are headed and signed (Nghị định 30/2020):
the annual review's PDF and DOCX read it; a unit without a row gets defaults.

Revision ID: b7a1c0de0014
Revises: b7a1c0de0013
Create Date: 2026-12-06 16:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7a1c0de0014'
down_revision = 'b7a1c0de0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('unit_letterheads',
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('parent_body', sa.String(length=200), nullable=False),
    sa.Column('body', sa.String(length=200), nullable=False),
    sa.Column('symbol', sa.String(length=30), nullable=False),
    sa.Column('place', sa.String(length=60), nullable=False),
    sa.Column('signer_title', sa.String(length=200), nullable=False),
    sa.Column('signer_name', sa.String(length=120), nullable=False),
    sa.Column('recipients', sa.String(length=1000), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_unit_letterheads_unit_id_units')),
    sa.PrimaryKeyConstraint('unit_id', name=op.f('pk_unit_letterheads'))
    )


def downgrade():
    op.drop_table('unit_letterheads')
