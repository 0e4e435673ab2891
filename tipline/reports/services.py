"""Figures for the public page, the dashboards and the annual review, read from the counters.

Counters are kept per unit x category x local day x metric (tipline/tips/counts.py);
everything here adds cells up the tree and over days, months or years. Medians come
from the tips' milestones (written by the workflow from their events). Nothing here
writes a tip.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from tipline.accounts.models import User
from tipline.accounts.permissions import dashboard_units, indicator_communes, scope_key
from tipline.core import cache
from tipline.core.errors import NotAllowed, TiplineError
from tipline.core.privacy import SMALL_NUMBER
from tipline.core.timeutil import local_to_utc, local_today, months_back, to_local, utcnow
from tipline.extensions import db
from tipline.places.models import Unit, UnitLevel
from tipline.places.services import unit_sort_key
from tipline.reports.fmt import fig
from tipline.reports.models import INDICATOR_NAMES, Indicator
from tipline.teams.models import Team, TeamKind
from tipline.teams.services import registry_counts
from tipline.tips import counts
from tipline.tips.models import (
    SETTLED_STATUSES,
    UNCOUNTED_STATUSES,
    Category,
    Outcome,
    Tip,
    TipCount,
    TipEvent,
    TipStatus,
)
from tipline.tips.queries import TipUnit, visible_tips
from tipline.tips.triage import overdue_clause

SMALL = SMALL_NUMBER  # DOMAIN.md: fewer than 3 is shown as "< 3" in public.

# Roles that see dashboards and reports (village teams work from the inbox).


class ReportError(TiplineError):
    """Bad report input (period, unit, filter), explained to the person."""


class OutOfScope(TiplineError):
    """A unit that does not exist or lies outside one's scope: the same 404 for both."""

    status_code = 404


# --- periods ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    key: str

    @property
    def label(self) -> str:
        return f"{self.start:%d/%m/%Y} – {self.end:%d/%m/%Y}"

    def months(self) -> list[date]:
        """First days of the months the period touches."""
        first = self.start.replace(day=1)
        out = []
        while first <= self.end:
            out.append(first)
            first = (first + timedelta(days=32)).replace(day=1)
        return out


_YEAR = re.compile(r"^(\d{4})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})_(\d{4}-\d{2}-\d{2})$")
LAST_12 = "12t"


def parse_period(value: str | None, today: date | None = None) -> Period:
    """'12t' (the last twelve months, the default), 'YYYY', 'YYYY-MM' or 'YYYY-MM-DD_YYYY-MM-DD'."""
    today = today or local_today()
    value = (value or LAST_12).strip()
    try:
        if value == LAST_12:
            return Period(months_back(today, 12), today, LAST_12)
        if match := _YEAR.match(value):
            year = int(match[1])
            _check_year(year)
            return Period(date(year, 1, 1), date(year, 12, 31), value)
        if match := _MONTH.match(value):
            year, month = int(match[1]), int(match[2])
            _check_year(year)
            start = date(year, month, 1)
            end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
            return Period(start, end, value)
        if match := _RANGE.match(value):
            start, end = date.fromisoformat(match[1]), date.fromisoformat(match[2])
            _check_year(start.year)
            _check_year(end.year)
            if start > end:
                raise ReportError(_l("Ngày bắt đầu phải trước ngày kết thúc."))
            if (end - start).days > 366 * 20:
                raise ReportError(_l("Kỳ báo cáo dài tối đa 20 năm."))
            return Period(start, end, value)
    except ValueError as error:
        raise ReportError(_l("Kỳ báo cáo không hợp lệ.")) from error
    raise ReportError(
        _l(
            "Kỳ báo cáo không hợp lệ. Hãy chọn 12 tháng qua, "
            "một năm (2026) hoặc một tháng (2026-03)."
        )
    )


def _check_year(year: int) -> None:
    if not 2000 <= year <= 2100:
        raise ReportError(_l("Năm phải trong khoảng 2000–2100."))


def period_choices(today: date | None = None, years: int = 5) -> list[tuple[str, str]]:
    today = today or local_today()
    choices = [(LAST_12, str(_l("12 tháng qua")))]
    for year in range(today.year, today.year - years, -1):
        choices.append((str(year), str(_l("Năm %(year)s", year=year))))
    for month in Period(months_back(today, 12), today, "").months()[::-1]:
        choices.append((f"{month:%Y-%m}", f"{month:%m/%Y}"))
    return choices


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
    from flask import g, has_request_context

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


# --- sums of the counters ----------------------------------------------------------------


Figures = counts.Figures


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


# --- public figures: small numbers hidden -----------------------------------------------


@dataclass(frozen=True)
class Shown:
    """A figure as the public sees it: exact, "< 3", or hidden so that "< 3" stays hidden."""

    value: int | None
    small: bool = False
    withheld: bool = False

    @property
    def exact(self) -> bool:
        return self.value is not None

    def __str__(self) -> str:

        if self.small:
            return f"< {SMALL}"
        if self.withheld:
            return "•"
        return fig(self.value)


def _determined(values: list[int]) -> bool:
    """Whether one of these hidden cells could be worked out from their sum (the margin is
    published): each small cell is 1 or 2, each other hidden cell 3 or more."""
    small = [v for v in values if 0 < v < SMALL]
    if not small:
        return False
    n_small, n_big, total = len(small), len(values) - len(small), sum(values)
    rest_low = (n_small - 1) + SMALL * n_big
    rest_high = 2 * (n_small - 1) + (10**12 if n_big else 0)
    feasible = [rest_low <= total - x <= rest_high for x in (1, 2)]
    return not all(feasible)


def protect(values: dict[Hashable, int], margin_published: bool = True) -> dict[Hashable, Shown]:
    """Hide small numbers; when the sum is published, also withhold the next smallest
    cells until no hidden small number can be worked out from the others."""
    shown = {
        k: Shown(v) if not 0 < v < SMALL else Shown(None, small=True) for k, v in values.items()
    }
    hidden = [k for k, v in values.items() if 0 < v < SMALL]
    if not margin_published or not hidden:
        return shown
    candidates = sorted((v, str(k), k) for k, v in values.items() if v >= SMALL)
    while _determined([values[k] for k in hidden]) and candidates:
        _, _, key = candidates.pop(0)
        hidden.append(key)
        shown[key] = Shown(None, withheld=True)
    return shown


def protect_one(value: int) -> Shown:
    return Shown(None, small=True) if 0 < value < SMALL else Shown(value)


@dataclass(frozen=True)
class Ref:
    """What a cached figure keeps of a unit or category (never a live ORM object)."""

    id: int
    code: str
    name: str

    @classmethod
    def of(cls, thing) -> Ref:
        return cls(thing.id, thing.code, thing.name)


@dataclass
class PublicRow:
    unit: Ref | None
    received: Shown
    verified: Shown
    settled: Shown
    share: float | None
    median_days: float | None


def _public_row(unit: Unit | None, figures: Figures, shown: dict[str, Shown]) -> PublicRow:
    received, settled = shown["received"], shown["settled"]
    exact = received.exact and settled.exact
    return PublicRow(
        unit,
        received,
        shown["verified"],
        settled,
        figures.settled_share if exact else None,
        # A median of one or two closings would be someone's own case.
        figures.median_settle_days if exact and figures.settled >= SMALL else None,
    )


def public_overview(root: Unit, period: Period) -> dict:
    """The transparency page's figures for the root and each commune."""

    def compute():
        # Communes under a province; provinces under the whole country.
        level = child_level(root) or UnitLevel.COMMUNE
        total, per = unit_figures(root, period, by=level)
        communes = sorted(
            db.session.scalars(select(Unit).where(root.subtree_clause(), Unit.level == level)),
            key=unit_sort_key,
        )
        metrics = ("received", "verified", "settled")
        column = {
            m: protect({c.id: getattr(per.get(c.id, Figures()), m) for c in communes})
            for m in metrics
        }
        rows = [
            _public_row(Ref.of(c), per.get(c.id, Figures()), {m: column[m][c.id] for m in metrics})
            for c in communes
            if c.active or c.id in per
        ]
        headline = _public_row(
            Ref.of(root), total, {m: protect_one(getattr(total, m)) for m in metrics}
        )
        return {"total": total, "headline": headline, "rows": rows}

    return cached(("public_overview", root.id, period), compute)


def public_detail(unit: Unit, period: Period, headline: PublicRow) -> dict | None:
    """Trend by month and breakdown by category, small numbers hidden; None when the
    unit's own total is not shown exactly (its parts would reveal it)."""
    if not headline.received.exact:
        return None

    def compute():
        months = monthly(unit, period)
        categories = by_category(unit, period)
        trend = {
            m: protect({month: getattr(f, m) for month, f in months})
            for m in ("received", "settled")
        }
        cats = protect({c.id: f.received for c, f in categories})
        return {
            "months": [
                (month, trend["received"][month], trend["settled"][month], f) for month, f in months
            ],
            "categories": [(Ref.of(c), cats[c.id], f) for c, f in categories],
        }

    return cached(("public_detail", unit.id, period), compute)


# --- scope -------------------------------------------------------------------------------


def scope_unit(user: User, code: str | None) -> Unit:
    """The unit a dashboard shows: one of the user's, or any unit below one of them."""
    tops = dashboard_units(user)
    if not tops:
        raise NotAllowed(_l("Bảng số liệu dành cho Công an xã, Ban chỉ đạo xã và cán bộ cấp trên."))
    if not code:
        return tops[0]
    unit = db.session.scalar(select(Unit).where(Unit.code == code))
    if unit is None or not any(top.contains(unit) for top in tops):
        # Same answer for missing and out of scope.
        raise OutOfScope(_l("Không tìm thấy địa bàn này trong phạm vi của bạn."))
    return unit


def units_below(unit: Unit, level: UnitLevel) -> list[Unit]:
    units = db.session.scalars(select(Unit).where(unit.subtree_clause(), Unit.level == level))
    return sorted(units, key=unit_sort_key)


def child_level(unit: Unit) -> UnitLevel | None:
    """The level a unit's breakdown uses: communes under a province, villages under a commune."""
    if unit.level == UnitLevel.COUNTRY:
        return UnitLevel.PROVINCE
    if unit.level in (UnitLevel.PROVINCE, UnitLevel.DISTRICT):
        return UnitLevel.COMMUNE
    if unit.level == UnitLevel.COMMUNE:
        return UnitLevel.VILLAGE
    return None


def dashboard(user: User, unit: Unit, period: Period) -> dict:
    """Everything the staff dashboard shows for `unit` (already checked to be in scope)."""

    def compute():
        level = child_level(unit)
        total, per = unit_figures(unit, period, by=level)
        children = units_below(unit, level) if level else []
        rows = [(Ref.of(c), per.get(c.id, Figures())) for c in children]
        if level == UnitLevel.VILLAGE:
            # Tips sent to the commune without a village ("không rõ thôn").
            direct = total_minus(total, [f for _, f in rows])
            rows.append((None, direct))
        return {
            "total": total,
            "rows": rows,
            "level": level,
            "months": monthly(unit, period),
            "categories": [(Ref.of(c), f) for c, f in by_category(unit, period)],
            "years": sorted(yearly(unit, period).items()),
        }

    return cached(("dashboard", unit.id, period), compute)


def total_minus(total: Figures, parts: list[Figures]) -> Figures:
    rest = Figures()
    for name in ("received", "verified", "settled", "in_progress"):
        setattr(rest, name, getattr(total, name) - sum(getattr(p, name) for p in parts))
    rest.outcomes = Counter(total.outcomes)
    for part in parts:
        rest.outcomes.subtract(part.outcomes)
    return rest


def overdue_query(user: User, unit: Unit):
    """Open tips in scope past their due dates, as the inbox counts them (oldest first)."""

    query = visible_tips(user).where(overdue_clause(utcnow()))
    return _in_unit(query, unit).order_by(None).order_by(Tip.submitted_at, Tip.id)


def _in_unit(query, unit: Unit):

    return query.where(TipUnit.path.startswith(unit.path, autoescape=True))


# --- filtered tip lists (the dashboard's count and the exports) -------------------------


@dataclass(frozen=True)
class TipFilter:
    unit: Unit
    period: Period
    status: TipStatus | None = None
    category: Category | None = None

    def describe(self) -> str:
        parts = [f"unit={self.unit.code}", f"period={self.period.key}"]
        if self.status:
            parts.append(f"status={self.status.value}")
        if self.category:
            parts.append(f"category={self.category.code}")
        return " ".join(parts)[:300]


def parse_filter(user: User, args) -> TipFilter:
    unit = scope_unit(user, args.get("don-vi"))
    period = parse_period(args.get("ky"))
    status = None
    if args.get("trang-thai"):
        try:
            status = TipStatus(args["trang-thai"])
        except ValueError as error:
            raise ReportError(_l("Trạng thái không hợp lệ.")) from error
    category = None
    if args.get("linh-vuc"):
        category = db.session.scalar(select(Category).where(Category.code == args["linh-vuc"]))
        if category is None:
            raise ReportError(_l("Lĩnh vực không hợp lệ."))
    return TipFilter(unit, period, status, category)


def filtered_tips(user: User, flt: TipFilter):
    """Tips in the user's scope (the one scoping query), in the unit, submitted in the period."""

    query = visible_tips(user, status=flt.status)
    query = _in_unit(query, flt.unit).where(
        Tip.submitted_at >= local_to_utc(flt.period.start),
        Tip.submitted_at < local_to_utc(flt.period.end + timedelta(days=1)),
    )
    if flt.category is not None:
        query = query.where(Tip.category_id == flt.category.id)
    return query


def matching_count(user: User, flt: TipFilter) -> int:
    """How many tips the filter lists (the figure an export's rows must equal)."""
    key = ("matching", user.id, scope_key(user), flt.describe())
    return cached(key, lambda: count_of(filtered_tips(user, flt)))


def overdue(user: User, unit: Unit, limit: int = 20) -> tuple[int, list[Tip]]:
    """How many tips in scope are overdue, and the oldest `limit` of them."""

    def compute():
        query = overdue_query(user, unit)
        ids = db.session.scalars(query.with_only_columns(Tip.id).limit(limit)).all()
        return count_of(query), list(ids)

    total, ids = cached(("overdue", user.id, scope_key(user), unit.id), compute)
    tips = db.session.scalars(select(Tip).where(Tip.id.in_(ids))).unique().all() if ids else []
    order = {tip_id: i for i, tip_id in enumerate(ids)}
    return total, sorted(tips, key=lambda t: order[t.id])


def count_of(query) -> int:
    return db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))


# --- indicators --------------------------------------------------------------------------


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


# --- the annual review report ("Báo cáo sơ kết") -----------------------------------------

TIPS = "tips"
INDICATOR = "indicator"
BOTH = "both"
NOT_TRACKED = "not_tracked"

REGISTRY = "registry"
REGISTRY_AND_INDICATOR = "registry_indicator"

SOURCE_LABELS = {
    TIPS: _l("Tính từ tin báo trên Tipline"),
    INDICATOR: _l("Chỉ tiêu do Ban chỉ đạo xã nhập"),
    REGISTRY: _l("Sổ theo dõi tổ, đội của các xã"),
    REGISTRY_AND_INDICATOR: _l(
        "Sổ theo dõi tổ, đội ở xã có sổ; chỉ tiêu do xã nhập ở các xã còn lại"
    ),
    BOTH: _l("Chỉ tiêu do xã nhập, cộng tin báo có kết quả tương ứng"),
    NOT_TRACKED: _l("Tipline không theo dõi"),
}


@dataclass
class ReviewLine:
    number: str
    label: str
    value: int | None
    source: str
    entered: int | None = None
    from_tips: int | None = None

    @property
    def source_label(self) -> str:
        return str(SOURCE_LABELS[self.source])


@dataclass
class Review:
    unit: Ref
    period: Period
    lines: list[ReviewLine]
    indicators: IndicatorSums
    figures: Figures


def annual_review(unit: Unit, period: Period) -> Review:
    """The review's figures in the seed's order (DOMAIN.md): tips computed, others entered."""

    def compute():
        figures, _ = unit_figures(unit, period)
        ind = indicator_sums(unit, period)
        v = ind.values
        mediated = figures.outcomes.get(Outcome.MEDIATED.value, 0)
        surrendered = figures.outcomes.get(Outcome.SURRENDERED.value, 0)

        def entered(name, number, label):
            source = INDICATOR
            if name in REGISTRY_NAMES and ind.communes_registry:
                mixed = ind.communes_entered_only
                source = REGISTRY_AND_INDICATOR if mixed else REGISTRY
            return ReviewLine(number, str(label), v[name], source, entered=v[name])

        lines = [
            entered("steering_committees", "1", _l("Ban chỉ đạo ANTT ở xã, phường, thị trấn")),
            entered("protection_teams", "2", _l("Tổ bảo vệ ANTT ở thôn, bản, khu phố")),
            entered("social_security_teams", "3", _l("Tổ an ninh xã hội (cụm dân cư)")),
            ReviewLine(
                "4",
                str(_l("Tin nhân dân cung cấp cho lực lượng Công an liên quan đến ANTT")),
                figures.received,
                TIPS,
                from_tips=figures.received,
            ),
            entered("patrol_teams", "5", _l("Tổ tuần tra nhân dân")),
            entered("mediation_teams", "6", _l("Tổ hòa giải")),
            entered("self_managed_areas", "7", _l("Khu dân cư tự quản về ANTT")),
            ReviewLine(
                "8",
                str(_l("Trường hợp mâu thuẫn, tranh chấp được hòa giải")),
                v["disputes_mediated"] + mediated,
                BOTH,
                entered=v["disputes_mediated"],
                from_tips=mediated,
            ),
            entered(
                "people_managed", "9", _l("Đối tượng vi phạm pháp luật được quản lý, giáo dục")
            ),
            entered("people_improved", "9a", _l("Trong đó: số đối tượng đã tiến bộ")),
            ReviewLine(
                "10",
                str(
                    _l(
                        "Tin được tổ bảo vệ ANTT và Ban chỉ đạo ANTT xã "
                        "trực tiếp xác minh, giải quyết"
                    )
                ),
                figures.settled,
                TIPS,
                from_tips=figures.settled,
            ),
            ReviewLine(
                "11",
                str(_l("Đối tượng bị truy nã được vận động ra đầu thú")),
                v["wanted_surrendered"] + surrendered,
                BOTH,
                entered=v["wanted_surrendered"],
                from_tips=surrendered,
            ),
            ReviewLine(
                "12", str(_l("Lượt cán bộ, chiến sĩ Công an xuống cơ sở")), None, NOT_TRACKED
            ),
        ]
        return Review(Ref.of(unit), period, lines, ind, figures)

    return cached(("review", unit.id, period), compute)


def public_review(root: Unit) -> Review | None:
    period = latest_indicator_period(root)
    return annual_review(root, period) if period else None


def now_local_label() -> str:

    return to_local(utcnow()).strftime("%H:%M %d/%m/%Y")


def outcome_rows(figures: Figures) -> list[tuple[Outcome, int]]:
    return [(o, figures.outcomes.get(o.value, 0)) for o in Outcome]
