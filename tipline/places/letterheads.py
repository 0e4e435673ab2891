"""How each unit's documents are headed and signed (Nghị định 30/2020/NĐ-CP): what an
administrator set, or a default drawn from the unit's name."""

from __future__ import annotations

from sqlalchemy import or_, select

from tipline.core.textsort import proper_name
from tipline.extensions import db
from tipline.places.models import Letterhead, Unit, UnitLevel
from tipline.places.services import tree_order

FIELDS = ("parent_body", "body", "symbol", "place", "signer_title", "signer_name", "recipients")


def default_letterhead(unit: Unit) -> Letterhead:
    """What a unit's documents say until an administrator sets it: its People's Committee."""
    province = unit.ancestor_at(UnitLevel.PROVINCE) or unit
    seat = unit if unit.level in (UnitLevel.COMMUNE, UnitLevel.DISTRICT) else province
    return Letterhead(
        unit_id=unit.id,
        parent_body="",
        body=f"ỦY BAN NHÂN DÂN {unit.kind} {proper_name(unit.name, unit.kind)}".upper(),
        symbol="UBND",
        place=proper_name(seat.name, seat.kind),
        signer_title="TM. ỦY BAN NHÂN DÂN\nCHỦ TỊCH",
        signer_name="",
        recipients="- Ban Chỉ đạo cấp trên (để báo cáo);\n- Lưu: VT.",
    )


def letterhead_of(unit: Unit) -> Letterhead:
    """The unit's saved letterhead, or the default one (not saved)."""
    return db.session.get(Letterhead, unit.id) or default_letterhead(unit)


def save_letterhead(unit: Unit, values: dict[str, str]) -> Letterhead:
    """Set the unit's letterhead (the FIELDS in `values`); flushed, not committed."""
    letterhead = db.session.get(Letterhead, unit.id)
    if letterhead is None:
        letterhead = Letterhead(unit_id=unit.id)
        db.session.add(letterhead)
    for name in FIELDS:
        setattr(letterhead, name, values.get(name) or "")
    db.session.flush()
    return letterhead


ISSUING_LEVELS = (UnitLevel.COUNTRY, UnitLevel.PROVINCE, UnitLevel.DISTRICT, UnitLevel.COMMUNE)


def issuing_units(roots: list[Unit]) -> list[Unit]:
    """The active units below `roots` that issue reviews (not villages), as a tree."""
    if not roots:
        return []
    units = db.session.scalars(
        select(Unit).where(
            or_(*(root.subtree_clause() for root in roots)),
            Unit.active,
            Unit.level.in_(ISSUING_LEVELS),
        )
    )
    return tree_order(units)
