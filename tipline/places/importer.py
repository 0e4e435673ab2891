"""Filling the unit tree: provinces and communes from the national data, villages from CSV.

Codes follow the General Statistics Office: two digits for a province ("38"), three for
a district ("380"), five for a commune ("14758"), so one table can hold the whole country
without collisions. Villages get their commune's code and a number ("14758-01") unless
the commune's file gives codes of its own.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from tipline.core.errors import TiplineError
from tipline.extensions import db
from tipline.places.models import Unit, UnitLevel
from tipline.places.services import add_unit

STRUCTURES = ("2025", "2024")
DATA_2024 = Path(__file__).parent / "data" / "units-2024.json.gz"
COUNTRY_CODE = "VN"


class ImportRefused(ValueError):
    """The import would mix two structures or contradict the tree; nothing was changed."""


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    by_level: dict[UnitLevel, int] = field(default_factory=dict)

    def count(self, level: UnitLevel) -> None:
        self.by_level[level] = self.by_level.get(level, 0) + 1


# --- national data ----------------------------------------------------------------------


@dataclass(frozen=True)
class Division:
    code: str
    name: str
    kind: str
    level: UnitLevel
    children: tuple[Division, ...] = ()


def provinces_2025() -> list[Division]:
    """34 provinces and their 3,321 communes (the structure since 1 July 2025)."""
    from vietnam_provinces import Province, Ward

    wards: dict[int, list[Division]] = {}
    for ward in Ward.iter_all():
        wards.setdefault(int(ward.province_code), []).append(
            Division(
                f"{int(ward.code):05d}", ward.name, ward.division_type.value, UnitLevel.COMMUNE
            )
        )
    return [
        Division(
            f"{int(p.code):02d}",
            p.name,
            p.division_type.value,
            UnitLevel.PROVINCE,
            tuple(wards.get(int(p.code), ())),
        )
        for p in Province.iter_all()
    ]


@cache
def provinces_2024() -> tuple[Division, ...]:
    """63 provinces with their districts and communes, as before the 2025 reform."""
    document = json.loads(gzip.decompress(DATA_2024.read_bytes()))
    return tuple(
        Division(
            f"{p_code:02d}",
            p_name,
            p_kind,
            UnitLevel.PROVINCE,
            tuple(
                Division(
                    f"{d_code:03d}",
                    d_name,
                    d_kind,
                    UnitLevel.DISTRICT,
                    tuple(
                        Division(f"{w_code:05d}", w_name, w_kind, UnitLevel.COMMUNE)
                        for w_code, w_name, w_kind in wards
                    ),
                )
                for d_code, d_name, d_kind, wards in districts
            ),
        )
        for p_code, p_name, p_kind, districts in document["provinces"]
    )


def national_data(structure: str) -> list[Division]:
    if structure == "2025":
        return provinces_2025()
    if structure == "2024":
        return list(provinces_2024())
    raise ImportRefused(f"unknown structure {structure!r}: choose one of {', '.join(STRUCTURES)}")


def import_units(structure: str = "2025", province_codes: list[str] | None = None) -> ImportReport:
    """Import provinces (all under a country root, or the ones named) and their communes.

    Idempotent: a second run adds nothing and reports every unit unchanged; a renamed
    unit is updated in place, so its tips and counters stay with it.
    """
    provinces = national_data(structure)
    if province_codes:
        wanted = {f"{int(code):02d}" if code.isdigit() else code for code in province_codes}
        provinces = [p for p in provinces if p.code in wanted]
        missing = wanted - {p.code for p in provinces}
        if missing:
            raise ImportRefused(
                f"no province {', '.join(sorted(missing))} in the {structure} structure"
            )
    report = ImportReport()
    country = None
    if not province_codes:
        country = _upsert(
            Division(COUNTRY_CODE, "Việt Nam", "quốc gia", UnitLevel.COUNTRY), None, report
        )
    existing = {u.code: u for u in db.session.scalars(select(Unit))}
    for province in provinces:
        _check_shape(existing.get(province.code), province)
    _upsert_children(provinces, country, existing, report)
    db.session.flush()
    return report


def _check_shape(unit: Unit | None, province: Division) -> None:
    """Refuse to put one structure's communes under a province that holds the other's."""
    if unit is None:
        return
    wanted = province.children[0].level if province.children else None
    levels = set(
        db.session.scalars(select(Unit.level).where(Unit.parent_id == unit.id).distinct())
    ) - {UnitLevel.VILLAGE}
    if wanted is not None and levels and levels != {wanted}:
        raise ImportRefused(
            f"{unit.name} ({unit.code}) already holds units of the other structure "
            f"({', '.join(sorted(level.value for level in levels))}); "
            "a database keeps one structure"
        )


def _upsert_children(
    divisions: tuple[Division, ...] | list[Division],
    parent: Unit | None,
    existing: dict[str, Unit],
    report: ImportReport,
) -> None:
    """Add or update one level under `parent`, then the levels below (one flush a level)."""
    pairs = []
    fresh = []
    for division in divisions:
        unit = existing.get(division.code)
        if unit is None:
            report.count(division.level)
            report.added += 1
            unit = Unit(
                code=division.code,
                name=division.name,
                kind=division.kind,
                level=division.level,
                parent=parent,
            )
            db.session.add(unit)
            fresh.append(unit)
        else:
            _upsert(division, parent, report, unit)
        pairs.append((division, unit))
    if fresh:
        db.session.flush()  # ids first: a path is made of them
        for unit in fresh:
            unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    for division, unit in pairs:
        if division.children:
            _upsert_children(division.children, unit, existing, report)


def _upsert(
    division: Division, parent: Unit | None, report: ImportReport, unit: Unit | None = None
) -> Unit:
    if unit is None:
        unit = db.session.scalar(select(Unit).where(Unit.code == division.code))
    report.count(division.level)
    if unit is None:
        report.added += 1
        return add_unit(
            code=division.code,
            name=division.name,
            level=division.level,
            kind=division.kind,
            parent=parent,
        )
    changed = (unit.name, unit.kind, unit.level) != (division.name, division.kind, division.level)
    unit.name, unit.kind, unit.level = division.name, division.kind, division.level
    if parent is not None and unit.parent_id != parent.id:
        move_subtree(unit, parent)
        changed = True
    if changed:
        report.updated += 1
    else:
        report.unchanged += 1
    return unit


def move_subtree(unit: Unit, parent: Unit) -> None:
    """Hang `unit` and everything under it below `parent`, rewriting the paths."""
    if parent.path.startswith(unit.path):
        raise ImportRefused(f"{parent.code} lies inside {unit.code}")
    old = unit.path
    new = f"{parent.path}{unit.id}/"
    for member in db.session.scalars(select(Unit).where(unit.subtree_clause())):
        member.path = new + member.path[len(old) :]
    unit.parent = parent
    db.session.flush()


# --- villages from a commune's CSV ----------------------------------------------------------

VILLAGE_KINDS = (
    "thôn",
    "bản",
    "làng",
    "xóm",
    "ấp",
    "buôn",
    "plei",
    "sóc",
    "tổ dân phố",
    "khu phố",
    "khu dân cư",
    "tiểu khu",
    "khóm",
    "khu",
    "tổ",
)
CLUSTER_KIND = "cụm dân cư"
MAX_ROWS = 2000
MAX_NAME = 120


@dataclass
class PlannedUnit:
    line: int
    code: str
    name: str
    kind: str
    level: UnitLevel
    parent_code: str
    existing: Unit | None = None

    @property
    def action(self) -> str:
        if self.existing is None:
            return "add"
        if (self.existing.name, self.existing.kind) != (self.name, self.kind):
            return "update"
        return "unchanged"


@dataclass
class RowError:
    line: int
    message: str


@dataclass
class VillagePlan:
    """What a commune's file would do, row by row; applied only when it has no errors."""

    commune: Unit
    rows: list[PlannedUnit] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.rows)


HEADERS = {
    "code": ("code", "mã", "ma"),
    "name": ("name", "tên", "ten"),
    "kind": ("kind", "loại", "loai"),
    "parent": ("parent", "thuộc", "thuoc"),
}


class UnreadableFile(TiplineError):
    """A villages file that is not a CSV one can read; the message says why."""

    status_code = 400


def read_csv(data: bytes) -> list[dict[str, str]]:
    """Rows of a CSV from a spreadsheet (UTF-8, with or without BOM; comma or semicolon).

    Raises UnreadableFile, with a message for the person who sent it.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableFile(
            _l("Tệp không phải văn bản UTF-8. Hãy lưu lại dưới dạng CSV UTF-8.")
        ) from None
    if not text.strip():
        raise UnreadableFile(_l("Tệp trống."))
    first = text.splitlines()[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        table = [row for row in reader]
    except csv.Error:
        raise UnreadableFile(_l("Tệp CSV bị lỗi định dạng.")) from None
    columns: dict[str, int] = {}
    for index, title in enumerate(table[0]):
        key = title.strip().lower()
        for field_name, names in HEADERS.items():
            if key in names:
                columns[field_name] = index
    if "name" not in columns:
        raise UnreadableFile(_l("Dòng đầu phải có cột “name” (hoặc “tên”)."))
    rows = []
    for row in table[1:]:
        rows.append(
            {
                name: (row[index].strip() if index < len(row) else "")
                for name, index in columns.items()
            }
        )
    return rows


def plan_villages(commune: Unit, data: bytes) -> VillagePlan:
    """Check every row of a commune's villages file and say what importing it would do."""
    plan = VillagePlan(commune)
    try:
        rows = read_csv(data)
    except UnreadableFile as error:
        plan.errors.append(RowError(1, str(error.message)))
        return plan
    if len(rows) > MAX_ROWS:
        plan.errors.append(RowError(1, str(_l("Tệp có quá nhiều dòng (tối đa 2.000)."))))
        return plan
    existing = {
        u.code: u
        for u in db.session.scalars(
            select(Unit).where(commune.subtree_clause(), Unit.id != commune.id)
        )
    }
    seen: dict[str, int] = {}
    next_number = _next_village_number(commune, existing)
    planned_codes: dict[str, PlannedUnit] = {}
    for line, row in enumerate(rows, start=2):
        if not any(row.values()):
            continue
        name = " ".join(row.get("name", "").split())
        kind = " ".join(row.get("kind", "").split()).lower() or _kind_from_name(name)
        parent_code = row.get("parent", "").strip()
        code = row.get("code", "").strip()
        problems = []
        if not name:
            problems.append(_l("thiếu tên"))
        elif len(name) > MAX_NAME:
            problems.append(_l("tên quá dài (tối đa 120 ký tự)"))
        level = UnitLevel.CLUSTER if parent_code or kind == CLUSTER_KIND else UnitLevel.VILLAGE
        if level == UnitLevel.CLUSTER:
            kind = CLUSTER_KIND
        elif kind not in VILLAGE_KINDS:
            problems.append(
                _l("loại “%(kind)s” không phải thôn, bản, tổ dân phố…", kind=kind or "?")
            )
        if not code:
            code = f"{commune.code}-{next_number:02d}"
            next_number += 1
        elif len(code) > 40 or not all(ch.isalnum() or ch in "-_." for ch in code):
            problems.append(_l("mã chỉ gồm chữ, số và - _ . (tối đa 40 ký tự)"))
        if code in seen:
            problems.append(_l("mã %(code)s trùng với dòng %(line)s", code=code, line=seen[code]))
        seen.setdefault(code, line)
        other = None
        if code not in existing:
            other = db.session.scalar(select(Unit).where(Unit.code == code))
        if other is not None:
            problems.append(
                _l("mã %(code)s đã thuộc đơn vị khác (%(name)s)", code=code, name=other.name)
            )
        if (
            level == UnitLevel.CLUSTER
            and parent_code not in planned_codes
            and not (parent_code in existing and existing[parent_code].level == UnitLevel.VILLAGE)
        ):
            problems.append(
                _l("không tìm thấy thôn “%(parent)s” của cụm dân cư", parent=parent_code)
            )
        if problems:
            plan.errors.append(RowError(line, "; ".join(str(p) for p in problems)))
            continue
        planned = PlannedUnit(
            line, code, name, kind, level, parent_code or commune.code, existing.get(code)
        )
        if planned.existing is not None and planned.existing.level != level:
            plan.errors.append(
                RowError(line, str(_l("mã %(code)s đã là một đơn vị cấp khác", code=code)))
            )
            continue
        plan.rows.append(planned)
        if level == UnitLevel.VILLAGE:
            planned_codes[code] = planned
    if not plan.rows and not plan.errors:
        plan.errors.append(RowError(1, str(_l("Tệp không có dòng nào."))))
    return plan


def apply_villages(plan: VillagePlan) -> ImportReport:
    """Write a checked plan; refuses a plan with errors, so a bad file imports nothing."""
    if not plan.ok:
        raise ImportRefused("the file has errors; nothing was imported")
    report = ImportReport()
    units: dict[str, Unit] = {plan.commune.code: plan.commune}
    for row in sorted(plan.rows, key=lambda r: r.level != UnitLevel.VILLAGE):
        parent = units.get(row.parent_code) or db.session.scalar(
            select(Unit).where(Unit.code == row.parent_code)
        )
        units[row.code] = _upsert(
            Division(row.code, row.name, row.kind, row.level), parent, report, row.existing
        )
    db.session.flush()
    return report


def _kind_from_name(name: str) -> str:
    lowered = name.lower()
    for kind in sorted((*VILLAGE_KINDS, CLUSTER_KIND), key=len, reverse=True):
        if lowered.startswith(kind + " "):
            return kind
    return ""


def _next_village_number(commune: Unit, existing: dict[str, Unit]) -> int:
    prefix = f"{commune.code}-"
    numbers = [
        int(code[len(prefix) :])
        for code in existing
        if code.startswith(prefix) and code[len(prefix) :].isdigit()
    ]
    return max(numbers, default=0) + 1
