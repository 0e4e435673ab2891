"""Sums of the counters for a unit and a period, the medians, and the reports' cache.

Counters are kept per unit x category x local day x metric and read through their one
reader, `tipline.tips.counts`; everything here adds cells up the tree and over days,
months or years. Medians come from the tips' milestones (written by the workflow from
their events). `cached` keeps heavy sums for every report module. Nothing here writes.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from flask import g, has_request_context
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from tipline.core import cache
from tipline.core.timeutil import local_to_utc
from tipline.extensions import db
from tipline.places.models import Unit, UnitLevel
from tipline.reports.models import Indicator
from tipline.reports.periods import Period
from tipline.teams.models import Team
from tipline.tips import counts
from tipline.tips.counts import Figures
from tipline.tips.models import (
    SETTLED_STATUSES,
    UNCOUNTED_STATUSES,
    Category,
    Tip,
    TipCount,
    TipEvent,
    localized_name,
)

# --- the cache of heavy sums ----------------------------------------------------------

# What the reports read: a write to one of these in this process drops their entries.
REPORT_TABLES = (
    TipCount.__tablename__,
    Tip.__tablename__,
    TipEvent.__tablename__,
    Indicator.__tablename__,
    Team.__tablename__,
    Unit.__tablename__,
    Category.__tablename__,
)


def _data_version() -> tuple:
    """The newest event and indicator, read once per request: another process's writes."""
    if has_request_context() and "reports_version" in g:
        return g.reports_version
    version = (
        db.session.scalar(select(func.max(TipEvent.id))),
        db.session.scalar(select(func.max(Indicator.entered_at))),
    )
    if has_request_context():
        g.reports_version = version
    return version


def cached(key: Hashable, compute: Callable[[], object]) -> object:
    """Heavy sums, kept TIPLINE_REPORTS_CACHE_SECONDS: a write in this process drops them
    (core.cache), and the newest event and indicator in the key follow other processes."""
    return cache.cached(
        ("reports", key, *_data_version()),
        compute,
        tables=REPORT_TABLES,
        ttl=cache.setting("TIPLINE_REPORTS_CACHE_SECONDS"),
    )


@dataclass(frozen=True)
class Ref:
    """What a cached figure keeps of a unit or category (never a live ORM object)."""

    id: int
    code: str
    name: str
    name_en: str | None = None  # categories have one

    @classmethod
    def of(cls, thing) -> Ref:
        return cls(thing.id, thing.code, thing.name, getattr(thing, "name_en", None))

    @property
    def label(self) -> str:
        """The name in the reader's language."""
        return localized_name(self.name, self.name_en)


# --- sums of the counters ----------------------------------------------------------------


def child_level(unit: Unit) -> UnitLevel | None:
    """The level a unit's breakdown uses: communes under a province, villages under a commune."""
    if unit.level == UnitLevel.COUNTRY:
        return UnitLevel.PROVINCE
    if unit.level in (UnitLevel.PROVINCE, UnitLevel.DISTRICT):
        return UnitLevel.COMMUNE
    if unit.level == UnitLevel.COMMUNE:
        return UnitLevel.VILLAGE
    return None


def unit_figures(root: Unit, period: Period, by: UnitLevel | None = None) -> tuple[Figures, dict]:
    """Figures for `root`, and per unit at level `by` below it (commune, village...), with
    the medians of time to settle and to a first response."""
    total, per = counts.figures(root, period.start, period.end, by)
    settle, response = _durations(root, period)
    total.median_settle_days = _median(v for _, v in settle)
    total.median_first_response_hours = _median(v for _, v in response)
    if by is not None:
        mapping = counts.level_map(root, by)
        by_settle, by_response = defaultdict(list), defaultdict(list)
        for unit_id, value in settle:
            if unit_id in mapping:
                by_settle[mapping[unit_id]].append(value)
        for unit_id, value in response:
            if unit_id in mapping:
                by_response[mapping[unit_id]].append(value)
        for key, values in by_settle.items():
            per.setdefault(key, Figures()).median_settle_days = _median(values)
        for key, values in by_response.items():
            per.setdefault(key, Figures()).median_first_response_hours = _median(values)
    return total, per


def monthly(root: Unit, period: Period) -> list[tuple[date, Figures]]:
    """Month-by-month figures (received, verified, settled) inside the period."""
    months = {m: Figures() for m in period.months()}
    for day, metric, value in counts.sums(root, period.start, period.end, TipCount.day):
        months[day.replace(day=1)].add(metric, int(value))
    return sorted(months.items())


def daily(root: Unit, period: Period) -> dict[date, Figures]:
    days: dict[date, Figures] = defaultdict(Figures)
    for day, metric, value in counts.sums(root, period.start, period.end, TipCount.day):
        days[day].add(metric, int(value))
    return dict(days)


def yearly(root: Unit, period: Period) -> dict[int, Figures]:
    years: dict[int, Figures] = defaultdict(Figures)
    for day, metric, value in counts.sums(root, period.start, period.end, TipCount.day):
        years[day.year].add(metric, int(value))
    return dict(years)


def by_category(root: Unit, period: Period) -> list[tuple[Category, Figures]]:
    per: dict[int, Figures] = defaultdict(Figures)
    for category_id, metric, value in counts.sums(
        root, period.start, period.end, TipCount.category_id
    ):
        per[category_id].add(metric, int(value))
    categories = db.session.scalars(select(Category).order_by(Category.sort_order, Category.id))
    return [(c, per.get(c.id, Figures())) for c in categories if c.active or c.id in per]


def _durations(root: Unit, period: Period) -> tuple[list, list]:
    """(unit id, days to settle) of tips settled in the period, and (unit id, hours to
    first response) of tips received in it, from the tips' milestones."""
    start, end = local_to_utc(period.start), local_to_utc(period.end + timedelta(days=1))
    TipUnit = aliased(Unit)
    base = select(Tip.unit_id, Tip.submitted_at).join(TipUnit, TipUnit.id == Tip.unit_id)
    base = base.where(TipUnit.path.startswith(root.path, autoescape=True))
    settled = db.session.execute(
        base.add_columns(Tip.closed_at).where(
            Tip.status.in_(SETTLED_STATUSES), Tip.closed_at >= start, Tip.closed_at < end
        )
    ).all()
    responded = db.session.execute(
        base.add_columns(Tip.first_response_at).where(
            Tip.status.not_in(UNCOUNTED_STATUSES),
            Tip.submitted_at >= start,
            Tip.submitted_at < end,
            Tip.first_response_at.is_not(None),
        )
    ).all()
    return (
        [(u, (c - s).total_seconds() / 86400) for u, s, c in settled],
        [(u, (r - s).total_seconds() / 3600) for u, s, r in responded],
    )


def _median(values: Iterable[float]) -> float | None:
    values = list(values)
    return statistics.median(values) if values else None
