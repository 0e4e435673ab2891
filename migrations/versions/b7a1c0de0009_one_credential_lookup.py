"""staff tokens keep their hash under the same name as partner keys

One lookup serves both kinds of prefixed credential (tipline/api/keys.py), so the two
tables name the hash of the secret alike: staff_tokens.token_hash becomes secret_hash.

Revision ID: b7a1c0de0009
Revises: b7a1c0de0008
Create Date: 2026-12-06 15:20:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'b7a1c0de0009'
down_revision = 'b7a1c0de0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('staff_tokens', schema=None) as batch_op:
        batch_op.alter_column('token_hash', new_column_name='secret_hash')


def downgrade():
    with op.batch_alter_table('staff_tokens', schema=None) as batch_op:
        batch_op.alter_column('secret_hash', new_column_name='token_hash')
