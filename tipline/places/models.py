"""Administrative units: one table, one tree; the level of a unit is data."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tipline.core.db import Base
from tipline.core.enums import LabelledEnum, enum_column


def path_ids(path: str) -> list[int]:
    """The unit ids a materialised path ("/1/5/9/") names, from the root down."""
    return [int(part) for part in path.strip("/").split("/") if part]


class UnitLevel(LabelledEnum):
    COUNTRY = "country"
    PROVINCE = "province"
    DISTRICT = "district"
    COMMUNE = "commune"
    VILLAGE = "village"
    CLUSTER = "cluster"

    @classmethod
    def _labels(cls) -> dict:
        return {
            cls.COUNTRY: _l("Quốc gia"),
            cls.PROVINCE: _l("Tỉnh, thành phố"),
            cls.DISTRICT: _l("Huyện, thị xã, thành phố thuộc tỉnh"),
            cls.COMMUNE: _l("Xã, phường, đặc khu"),
            cls.VILLAGE: _l("Thôn, bản, tổ dân phố"),
            cls.CLUSTER: _l("Cụm dân cư"),
        }


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    # The unit's own word for its kind ("xã", "phường", "thôn", "bản", "khu phố", ...).
    kind: Mapped[str] = mapped_column(String(40))
    level: Mapped[UnitLevel] = mapped_column(enum_column(UnitLevel, "unit_level"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    # Materialised path of ids, "/1/17/230/": a subtree is a prefix match.
    path: Mapped[str] = mapped_column(String(255), index=True, default="")
    active: Mapped[bool] = mapped_column(default=True)
    # A retired unit (merged by a reform) stays in the tree below the unit that took it
    # over, so its figures add up in the new structure and can still be read on their own.
    # Indexed: deleting or merging a unit looks up the units merged into it.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    retired_at: Mapped[datetime | None]

    parent: Mapped[Unit | None] = relationship(
        remote_side=[id], back_populates="children", foreign_keys=[parent_id]
    )
    merged_into: Mapped[Unit | None] = relationship(remote_side=[id], foreign_keys=[merged_into_id])
    children: Mapped[list[Unit]] = relationship(
        back_populates="parent", order_by="Unit.name", foreign_keys=[parent_id]
    )

    def __repr__(self) -> str:
        return f"<Unit {self.code} {self.name}>"

    def contains(self, other: Unit) -> bool:
        """True when `other` is this unit or lies below it."""
        return other.path.startswith(self.path)

    def subtree_clause(self):
        return Unit.path.startswith(self.path, autoescape=True)

    @property
    def ancestor_ids(self) -> list[int]:
        """The ids from the root down to this unit (itself last), read from its path."""
        return path_ids(self.path)

    def ancestor_at(self, level: UnitLevel) -> Unit | None:
        unit: Unit | None = self
        while unit is not None:
            if unit.level == level:
                return unit
            unit = unit.parent
        return None

    @property
    def commune(self) -> Unit | None:
        return self.ancestor_at(UnitLevel.COMMUNE)


class Letterhead(Base):
    """How a unit's documents are headed and signed (Nghị định 30/2020/NĐ-CP): the body
    above the issuer, the issuer, its symbol in "Số: …/BC-…", the place, the signer."""

    __tablename__ = "unit_letterheads"

    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)
    parent_body: Mapped[str] = mapped_column(String(200), default="")  # cơ quan chủ quản
    body: Mapped[str] = mapped_column(String(200))  # cơ quan ban hành
    symbol: Mapped[str] = mapped_column(String(30))  # "UBND" in "Số: …/BC-UBND"
    place: Mapped[str] = mapped_column(String(60))  # "Thanh Hóa" in "Thanh Hóa, ngày …"
    signer_title: Mapped[str] = mapped_column(String(200))  # "TM. ỦY BAN NHÂN DÂN\nCHỦ TỊCH"
    signer_name: Mapped[str] = mapped_column(String(120), default="")
    recipients: Mapped[str] = mapped_column(String(1000), default="")  # "Nơi nhận", a line each

    unit: Mapped[Unit] = relationship()
