"""Creating units and keeping their materialised paths right."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from tipline.core.textsort import vi_key
from tipline.extensions import db
from tipline.places.models import Unit, UnitLevel


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


def unit_by_code(code: str) -> Unit | None:
    return db.session.scalar(select(Unit).where(Unit.code == code, Unit.active))


def unit_sort_key(unit: Unit) -> tuple:
    """Vietnamese order of the proper name: "Phường Hàm Rồng" sorts under H, not P."""
    name = unit.name
    prefix = f"{unit.kind} "
    if name.lower().startswith(prefix.lower()):
        name = name[len(prefix) :]
    return vi_key(name)


def communes_of(unit: Unit) -> list[Unit]:
    communes = db.session.scalars(
        select(Unit).where(unit.subtree_clause(), Unit.level == UnitLevel.COMMUNE, Unit.active)
    )
    return sorted(communes, key=unit_sort_key)


def villages_of(commune: Unit) -> list[Unit]:
    villages = db.session.scalars(
        select(Unit).where(
            Unit.parent_id == commune.id, Unit.level == UnitLevel.VILLAGE, Unit.active
        )
    )
    return sorted(villages, key=lambda v: vi_key(v.name))
