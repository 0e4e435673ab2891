"""voice notes (issue 21): a cleaned Ogg Opus recording sent with a tip

Revision ID: b7a1c0de0017
Revises: b7a1c0de0016
Create Date: 2026-12-06 18:10:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7a1c0de0017'
down_revision = 'b7a1c0de0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('tip_voice_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('tip_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=80), nullable=False),
    sa.Column('seconds', sa.Integer(), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tip_id'], ['tips.id'], name=op.f('fk_tip_voice_notes_tip_id_tips'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tip_voice_notes')),
    sa.UniqueConstraint('public_id', name=op.f('uq_tip_voice_notes_public_id'))
    )
    with op.batch_alter_table('tip_voice_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tip_voice_notes_tip_id'), ['tip_id'], unique=False)


def downgrade():
    with op.batch_alter_table('tip_voice_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tip_voice_notes_tip_id'))
    op.drop_table('tip_voice_notes')
