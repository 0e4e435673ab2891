"""Units that change: a reform retires a unit and merges it into another.

The retired unit is not deleted and its tips keep pointing at it. It moves, with its
villages, below the unit that took it over and stops taking new tips. Reading the new
unit's subtree then includes it (the new structure), and reading the retired unit alone
still gives its own figures (the old structure); the totals above both are unchanged.
"""

from __future__ import annotations

from sqlalchemy import select

from tipline.core.timeutil import utcnow
from tipline.extensions import db
from tipline.places.importer import ImportRefused, move_subtree
from tipline.places.models import Unit, UnitLevel

# Smaller is higher in the tree.
_DEPTH = {
    UnitLevel.COUNTRY: 0,
    UnitLevel.PROVINCE: 1,
    UnitLevel.DISTRICT: 2,
    UnitLevel.COMMUNE: 3,
    UnitLevel.VILLAGE: 4,
    UnitLevel.CLUSTER: 5,
}


def retire_unit(unit: Unit, into: Unit) -> None:
    """Merge `unit` into `into` (same level or higher up), keeping it readable on its own."""
    if not unit.active:
        raise ImportRefused(f"{unit.name} ({unit.code}) is already retired")
    if not into.active:
        raise ImportRefused(f"{into.name} ({into.code}) is retired: merge into its successor")
    if into.path.startswith(unit.path):
        raise ImportRefused(f"{into.name} lies inside {unit.name}")
    if _DEPTH[into.level] > _DEPTH[unit.level]:
        raise ImportRefused(f"a {unit.level.value} cannot be merged into a {into.level.value}")
    move_subtree(unit, into)
    unit.active = False
    unit.merged_into = into
    unit.retired_at = utcnow()
    db.session.flush()


def successor(unit: Unit) -> Unit:
    """The active unit that carries on a retired one (itself when active)."""
    seen = set()
    while not unit.active and unit.merged_into is not None and unit.id not in seen:
        seen.add(unit.id)
        unit = unit.merged_into
    return unit


def unit_by_any_code(code: str) -> Unit | None:
    return db.session.scalar(select(Unit).where(Unit.code == code))
