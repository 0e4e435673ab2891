"""The staff dashboard and the filtered lists of tips behind its count and the exports.

A dashboard shows a unit in the user's scope (`scope_unit`) and its breakdown one level
down; lists of tips start from the one scoping query, `tipline.tips.queries.visible_tips`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from tipline.accounts.models import User
from tipline.accounts.permissions import dashboard_units, scope_key
from tipline.core.errors import NotAllowed
from tipline.core.timeutil import local_to_utc, utcnow
from tipline.extensions import db
from tipline.places.models import Unit, UnitLevel
from tipline.places.services import unit_sort_key
from tipline.reports.disclosure import satisfaction
from tipline.reports.errors import OutOfScope, ReportError
from tipline.reports.figures import (
    Figures,
    Ref,
    by_category,
    cached,
    child_level,
    monthly,
    unit_figures,
    yearly,
)
from tipline.reports.periods import Period, parse_period
from tipline.tips.models import (
    UNCOUNTED_STATUSES,
    Category,
    EventKind,
    Outcome,
    RejectReason,
    Tip,
    TipEvent,
    TipSource,
    TipStatus,
)
from tipline.tips.queries import TipUnit, visible_tips
from tipline.tips.triage import overdue_clause

# --- the dashboard -------------------------------------------------------------------------


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
        overall, per_row = satisfaction(total, dict(enumerate(f for _, f in rows)))
        return {
            "total": total,
            "rows": rows,
            "level": level,
            "months": monthly(unit, period),
            "categories": [(Ref.of(c), f) for c, f in by_category(unit, period)],
            "years": sorted(yearly(unit, period).items()),
            "satisfaction": overall,
            "row_satisfaction": [per_row[i] for i in range(len(rows))],
            "rejections": rejections(unit, period),
            "sources": by_source(unit, period),
        }

    return cached(("dashboard", unit.id, period), compute)


def by_source(unit: Unit, period: Period) -> list[tuple[TipSource, int]]:
    """Tips received in the period (submission date) by how they came: web form, SMS, or
    recorded by staff on a resident's behalf. Read from the tips, counted as "received" is
    (the tips the counters leave out are left out here too)."""
    start, end = local_to_utc(period.start), local_to_utc(period.end + timedelta(days=1))
    rows = db.session.execute(
        select(Tip.source, func.count())
        .join(TipUnit, TipUnit.id == Tip.unit_id)
        .where(
            TipUnit.path.startswith(unit.path, autoescape=True),
            Tip.status.not_in(UNCOUNTED_STATUSES),
            Tip.submitted_at >= start,
            Tip.submitted_at < end,
        )
        .group_by(Tip.source)
    ).all()
    found = {source: n for source, n in rows}
    return [(source, found.get(source, 0)) for source in TipSource]


@dataclass(frozen=True)
class Rejections:
    """Tips rejected in the period (closing date) by reason, and rejections undone in it."""

    by_reason: tuple[tuple[RejectReason, int], ...]
    undone: int

    @property
    def total(self) -> int:
        return sum(n for _, n in self.by_reason)


def rejections(unit: Unit, period: Period) -> Rejections:
    """Read from the tips and their events (no counter: rejected tips count nowhere)."""
    start, end = local_to_utc(period.start), local_to_utc(period.end + timedelta(days=1))
    in_unit = TipUnit.path.startswith(unit.path, autoescape=True)
    rows = db.session.execute(
        select(Tip.reject_reason, func.count())
        .join(TipUnit, TipUnit.id == Tip.unit_id)
        .where(
            in_unit,
            Tip.status == TipStatus.REJECTED,
            Tip.closed_at >= start,
            Tip.closed_at < end,
        )
        .group_by(Tip.reject_reason)
    ).all()
    found = {reason: n for reason, n in rows}
    undone = db.session.scalar(
        select(func.count())
        .select_from(TipEvent)
        .join(Tip, Tip.id == TipEvent.tip_id)
        .join(TipUnit, TipUnit.id == Tip.unit_id)
        .where(
            in_unit,
            TipEvent.kind == EventKind.REJECTION_UNDONE,
            TipEvent.at >= start,
            TipEvent.at < end,
        )
    )
    return Rejections(tuple((r, found.get(r, 0)) for r in RejectReason), undone or 0)


def total_minus(total: Figures, parts: list[Figures]) -> Figures:
    rest = Figures()
    for name in ("received", "verified", "settled", "in_progress"):
        setattr(rest, name, getattr(total, name) - sum(getattr(p, name) for p in parts))
    rest.outcomes = Counter(total.outcomes)
    rest.answers = Counter(total.answers)
    for part in parts:
        rest.outcomes.subtract(part.outcomes)
        rest.answers.subtract(part.answers)
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


def outcome_rows(figures: Figures) -> list[tuple[Outcome, int]]:
    return [(o, figures.outcomes.get(o.value, 0)) for o in Outcome]
