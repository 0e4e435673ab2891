"""english names of database labels (issue 17)

The labels kept as enums (states, outcomes, reject reasons, tiers, team kinds) are
translated by gettext; the categories are rows, and `categories.name_en` (since 0004) holds
their English name. This fills it for the standard categories that `flask tipline setup`
seeds, where nobody has written one yet. The names are copied here on purpose: a
migration must not change when the application's code does.

Revision ID: b7a1c0de0013
Revises: b7a1c0de0012
Create Date: 2026-12-06 16:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7a1c0de0013'
down_revision = 'b7a1c0de0012'
branch_labels = None
depends_on = None

ENGLISH = {
    "theft": "Theft of property",
    "drugs": "Drugs",
    "gambling": "Gambling, illegal lottery",
    "disturbance": "Fighting, disturbing public order",
    "domestic_violence": "Domestic violence",
    "suspicious": "Suspicious people or vehicles",
    "traffic": "Road safety",
    "fire": "Fire and explosion hazards",
    "social_evils": "Social evils",
    "other": "Other",
}

categories = sa.table(
    "categories",
    sa.column("code", sa.String),
    sa.column("name_en", sa.String),
)


def upgrade():
    for code, english in ENGLISH.items():
        op.execute(
            categories.update()
            .where(categories.c.code == code, categories.c.name_en.is_(None))
            .values(name_en=english)
        )


def downgrade():
    # Only the names this revision wrote: an administrator's own English name stays.
    for code, english in ENGLISH.items():
        op.execute(
            categories.update()
            .where(categories.c.code == code, categories.c.name_en == english)
            .values(name_en=None)
        )
