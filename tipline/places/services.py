"""Creating units and keeping their materialised paths right."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import or_, select

from tipline.core import cache
from tipline.core.textsort import unit_key
from tipline.extensions import db
from tipline.places.models import Unit, UnitLevel

UNITS = (Unit.__tablename__,)


def add_unit(
    *, code: str, name: str, level: UnitLevel, kind: str, parent: Unit | None = None
) -> Unit:
    """Create a unit under `parent` (or a root) and give it its path."""
    unit = Unit(code=code, name=name, level=level, kind=kind, parent=parent)
    db.session.add(unit)
    db.session.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    db.session.flush()
    return unit


def get_or_add_unit(
    *, code: str, name: str, level: UnitLevel, kind: str, parent: Unit | None = None
) -> Unit:
    unit = db.session.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        unit = add_unit(code=code, name=name, level=level, kind=kind, parent=parent)
    return unit


def root_unit() -> Unit | None:
    """The deployment's root: one province, or the whole country."""
    return db.session.scalar(
        select(Unit).where(Unit.code == current_app.config["TIPLINE_ROOT_UNIT"])
    )


def commune_by_code(code: str) -> Unit | None:
    """An active commune (or ward) by its code."""
    return db.session.scalar(
        select(Unit).where(Unit.code == code, Unit.level == UnitLevel.COMMUNE, Unit.active)
    )


def unit_by_code(code: str) -> Unit | None:
    return db.session.scalar(select(Unit).where(Unit.code == code, Unit.active))


def unit_sort_key(unit: Unit) -> tuple:
    """Vietnamese order of the proper name: "Phường Hàm Rồng" sorts under H, not P."""
    return unit_key(unit.name, unit.kind)


def communes_of(unit: Unit) -> list[Unit]:
    communes = db.session.scalars(
        select(Unit).where(unit.subtree_clause(), Unit.level == UnitLevel.COMMUNE, Unit.active)
    )
    return sorted(communes, key=unit_sort_key)


def villages_of(commune: Unit) -> list[Unit]:
    """The commune's active villages, those of communes merged into it included."""
    villages = db.session.scalars(
        select(Unit).where(commune.subtree_clause(), Unit.level == UnitLevel.VILLAGE, Unit.active)
    )
    return sorted(villages, key=unit_sort_key)


# --- cached snapshots for the resident pages --------------------------------------------


@dataclass(frozen=True)
class UnitRef:
    """A read-only copy of a unit's columns, safe to share between requests and threads."""

    id: int
    code: str
    name: str
    kind: str
    level: UnitLevel
    parent_id: int | None
    path: str

    @classmethod
    def of(cls, unit: Unit) -> UnitRef:
        return cls(unit.id, unit.code, unit.name, unit.kind, unit.level, unit.parent_id, unit.path)

    def contains(self, other: Unit | UnitRef) -> bool:
        return other.path.startswith(self.path)

    def subtree_clause(self):
        return Unit.path.startswith(self.path, autoescape=True)


def cached_root_unit() -> UnitRef | None:
    """`root_unit()`, from the reference cache."""
    code = current_app.config["TIPLINE_ROOT_UNIT"]

    def load() -> UnitRef | None:
        unit = root_unit()
        return UnitRef.of(unit) if unit is not None else None

    return cache.reference(("root-unit", code), load, tables=UNITS)


def cached_unit(code: str) -> UnitRef | None:
    """An active unit by code, from the reference cache (unknown codes are not kept)."""
    return cache.reference(("unit", code), lambda: _unit_ref(code), tables=UNITS, keep_none=False)


def _unit_ref(code: str) -> UnitRef | None:
    unit = unit_by_code(code)
    return UnitRef.of(unit) if unit is not None else None


def cached_villages(commune: Unit | UnitRef) -> tuple[UnitRef, ...]:
    """`villages_of(commune)`, sorted, from the reference cache."""
    return cache.reference(
        ("villages", commune.id),
        lambda: tuple(UnitRef.of(v) for v in villages_of(commune)),  # type: ignore[arg-type]
        tables=UNITS,
    )


def cached_communes(root: Unit | UnitRef) -> tuple[UnitRef, ...]:
    """`communes_of(root)`, sorted, from the reference cache."""
    return cache.reference(
        ("communes", root.path),
        lambda: tuple(UnitRef.of(c) for c in communes_of(root)),  # type: ignore[arg-type]
        tables=UNITS,
    )


# Levels a role or a partner key can be given at (clusters take neither).
ASSIGNABLE_LEVELS = (UnitLevel.PROVINCE, UnitLevel.DISTRICT, UnitLevel.COMMUNE, UnitLevel.VILLAGE)


def unit_choices(roots: list[Unit]) -> list[tuple[str, str]]:
    """(code, indented name) of the active units below `roots` that a role or a key can take."""
    if not roots:
        return []
    units = db.session.scalars(
        select(Unit).where(
            or_(*(root.subtree_clause() for root in roots)),
            Unit.active,
            Unit.level.in_(ASSIGNABLE_LEVELS),
        )
    )
    return [(u.code, f"{'· ' * (u.path.count('/') - 2)}{u.name}") for u in tree_order(units)]


def tree_order(units) -> list[Unit]:
    """Units as a tree read top down, each unit's children in Vietnamese order."""
    units = list(units)
    children: dict[int | None, list[Unit]] = {}
    present = {u.id for u in units}
    for unit in units:
        parent = unit.parent_id if unit.parent_id in present else None
        children.setdefault(parent, []).append(unit)
    ordered: list[Unit] = []
    stack = sorted(children.get(None, []), key=unit_sort_key, reverse=True)
    while stack:
        unit = stack.pop()
        ordered.append(unit)
        stack += sorted(children.get(unit.id, []), key=unit_sort_key, reverse=True)
    return ordered
