"""Figures that are not tips: the indicators a commune's steering committee enters for a
period, and their sums up the tree (organisation counts from the teams registry where a
commune keeps one)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from tipline.accounts.models import User
from tipline.accounts.permissions import indicator_communes
from tipline.core.errors import NotAllowed
from tipline.core.timeutil import local_today, utcnow
from tipline.extensions import db
from tipline.places.models import Unit, UnitLevel
from tipline.reports.errors import ReportError
from tipline.reports.models import INDICATOR_NAMES, Indicator
from tipline.reports.periods import Period
from tipline.teams.models import TeamKind
from tipline.teams.services import registry_counts


def save_indicator(user: User, commune: Unit, start: date, end: date, values: dict) -> Indicator:
    """Enter (or correct) a commune's indicators for one period."""
    if commune.id not in {u.id for u in indicator_communes(user)}:
        raise NotAllowed(_l("Chỉ Ban chỉ đạo ANTT của xã được nhập chỉ tiêu của xã."))
    if start > end:
        raise ReportError(_l("Ngày bắt đầu phải trước ngày kết thúc."))
    if end > local_today() + timedelta(days=366):
        raise ReportError(_l("Kỳ báo cáo quá xa trong tương lai."))
    for name in INDICATOR_NAMES:
        value = values.get(name)
        if value is not None and (not isinstance(value, int) or value < 0):
            raise ReportError(_l("Các chỉ tiêu phải là số nguyên không âm."))
    managed, improved = values.get("people_managed"), values.get("people_improved")
    if improved is not None and managed is not None and improved > managed:
        raise ReportError(_l("Số đối tượng tiến bộ không thể lớn hơn số đối tượng được quản lý."))
    return store_indicator(commune, start, end, values, entered_by=user)


def store_indicator(
    commune: Unit, start: date, end: date, values: dict, *, entered_by: User | None
) -> Indicator:
    """Write one commune's indicators for a period (checked by the caller)."""
    row = db.session.scalar(
        select(Indicator).where(
            Indicator.unit_id == commune.id,
            Indicator.period_start == start,
            Indicator.period_end == end,
        )
    )
    if row is None:
        row = Indicator(unit=commune, period_start=start, period_end=end)
        db.session.add(row)
    for name in INDICATOR_NAMES:
        setattr(row, name, values.get(name))
    row.entered_by = entered_by
    row.entered_at = utcnow()
    db.session.flush()
    return row


def indicators_for(commune: Unit) -> list[Indicator]:
    return list(
        db.session.scalars(
            select(Indicator)
            .where(Indicator.unit_id == commune.id)
            .order_by(Indicator.period_end.desc(), Indicator.period_start.desc())
        )
    )


# Counts the teams registry keeps, where a commune keeps one (tipline/teams/).
REGISTRY_NAMES = [kind.value for kind in TeamKind]


@dataclass
class IndicatorSums:
    values: dict[str, int]
    communes_entered: int
    communes_total: int
    # Communes whose organisation counts come from the teams registry instead.
    communes_registry: int = 0
    # Communes whose organisation counts come from their indicators (no registry).
    communes_entered_only: int = 0


def indicator_sums(root: Unit, period: Period) -> IndicatorSums:
    """Figures that are not tips for the communes below `root`, added up: indicators whose
    periods lie inside `period`, except organisation counts where a commune keeps the
    teams registry (counted on the period's last day)."""
    rows = db.session.scalars(
        select(Indicator)
        .join(Unit, Unit.id == Indicator.unit_id)
        .where(
            root.subtree_clause(),
            Indicator.period_start >= period.start,
            Indicator.period_end <= period.end,
        )
    ).all()
    registry = registry_counts(root, period.end)
    values = {name: 0 for name in INDICATOR_NAMES}
    for row in rows:
        for name in INDICATOR_NAMES:
            if name in REGISTRY_NAMES and row.unit_id in registry:
                continue
            values[name] += getattr(row, name) or 0
    for tally in registry.values():
        for name in REGISTRY_NAMES:
            values[name] += tally.get(name, 0)
    communes_total = db.session.scalar(
        select(func.count(Unit.id)).where(root.subtree_clause(), Unit.level == UnitLevel.COMMUNE)
    )
    entered = {r.unit_id for r in rows}
    return IndicatorSums(
        values, len(entered), communes_total or 0, len(registry), len(entered - registry.keys())
    )


def latest_indicator_period(root: Unit) -> Period | None:
    """The period of the most recent indicators entered below `root` (the latest review)."""
    row = db.session.execute(
        select(Indicator.period_start, Indicator.period_end)
        .join(Unit, Unit.id == Indicator.unit_id)
        .where(root.subtree_clause())
        .order_by(Indicator.period_end.desc(), Indicator.period_start)
        .limit(1)
    ).first()
    if row is None:
        return None
    return Period(row[0], row[1], f"{row[0]:%Y-%m-%d}_{row[1]:%Y-%m-%d}")
