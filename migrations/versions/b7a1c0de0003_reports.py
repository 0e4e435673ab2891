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

INDICATORS = [
    'steering_committees', 'protection_teams', 'social_security_teams', 'patrol_teams',
    'mediation_teams', 'self_managed_areas', 'disputes_mediated', 'people_managed',
    'people_improved', 'wanted_surrendered',
]


def upgrade():
    op.create_table('report_indicators',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    *[sa.Column(name, sa.Integer(), nullable=True) for name in INDICATORS],
    sa.Column('entered_by_id', sa.Integer(), nullable=True),
    sa.Column('entered_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('period_start <= period_end', name=op.f('ck_report_indicators_period_order')),
    sa.CheckConstraint('people_improved IS NULL OR people_managed IS NULL OR people_improved <= people_managed', name=op.f('ck_report_indicators_improved_within_managed')),
    *[sa.CheckConstraint(f'{name} IS NULL OR {name} >= 0', name=op.f(f'ck_report_indicators_{name}_not_negative')) for name in INDICATORS],
    sa.ForeignKeyConstraint(['entered_by_id'], ['users.id'], name=op.f('fk_report_indicators_entered_by_id_users')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_report_indicators_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_indicators')),
    sa.UniqueConstraint('unit_id', 'period_start', 'period_end', name=op.f('uq_report_indicators_unit_id_period_start_period_end'))
    )
    with op.batch_alter_table('report_indicators', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_indicators_unit_id'), ['unit_id'], unique=False)

    op.create_table('report_exports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('filters', sa.String(length=300), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('with_identity', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_report_exports_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_exports'))
    )
    with op.batch_alter_table('report_exports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_exports_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('tips', schema=None) as batch_op:
        batch_op.create_index('ix_tips_closed_at', ['closed_at'], unique=False)


def downgrade():
    with op.batch_alter_table('tips', schema=None) as batch_op:
        batch_op.drop_index('ix_tips_closed_at')

    with op.batch_alter_table('report_exports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_exports_user_id'))
    op.drop_table('report_exports')

    with op.batch_alter_table('report_indicators', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_indicators_unit_id'))
    op.drop_table('report_indicators')
