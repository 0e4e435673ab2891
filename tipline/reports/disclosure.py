"""Public figures with small numbers protected (DOMAIN.md: fewer than 3 is "< 3").

`protect` hides the small cells of a table and, when its sum is published, withholds the
next smallest until no hidden one can be worked out; the transparency page's overview and
detail are built from it. The threshold is `tipline.core.privacy.SMALL_NUMBER`, the same
the templates' `public_number` uses.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from sqlalchemy import select

from tipline.core.numbers import number
from tipline.core.privacy import SMALL_NUMBER
from tipline.extensions import db
from tipline.places.models import Unit, UnitLevel
from tipline.places.services import unit_sort_key
from tipline.reports.figures import (
    Figures,
    Ref,
    by_category,
    cached,
    child_level,
    monthly,
    unit_figures,
)
from tipline.reports.periods import Period

SMALL = SMALL_NUMBER


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
        return number(self.value)


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
class Satisfaction:
    """The share of "Đã xong" among the tipsters' answers, as anyone may see it: the number
    of answers protected like every figure, the share only behind 3 answers or more."""

    answers: Shown
    share: float | None


def satisfaction(
    total: Figures, parts: dict[Hashable, Figures] | None = None
) -> tuple[Satisfaction, dict[Hashable, Satisfaction]]:
    """The total's satisfaction and each part's, the parts' answer counts protected as a
    column whose sum is published (a hidden one cannot be worked out from the others)."""

    def of(figures: Figures, shown: Shown) -> Satisfaction:
        share = figures.satisfaction if shown.exact and figures.answered >= SMALL else None
        return Satisfaction(shown, share)

    parts = parts or {}
    column = protect({key: f.answered for key, f in parts.items()})
    return (
        of(total, protect_one(total.answered)),
        {key: of(f, column[key]) for key, f in parts.items()},
    )


@dataclass
class PublicRow:
    unit: Ref | None
    received: Shown
    verified: Shown
    settled: Shown
    share: float | None
    median_days: float | None
    satisfaction: Satisfaction | None = None


def _public_row(
    unit: Ref | None,
    figures: Figures,
    shown: dict[str, Shown],
    satisfied: Satisfaction | None = None,
) -> PublicRow:
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
        satisfied,
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
        overall, satisfied = satisfaction(total, {c.id: per.get(c.id, Figures()) for c in communes})
        rows = [
            _public_row(
                Ref.of(c),
                per.get(c.id, Figures()),
                {m: column[m][c.id] for m in metrics},
                satisfied[c.id],
            )
            for c in communes
            if c.active or c.id in per
        ]
        headline = _public_row(
            Ref.of(root), total, {m: protect_one(getattr(total, m)) for m in metrics}, overall
        )
        return {"total": total, "headline": headline, "rows": rows}

    return cached(("public_overview", root.id, period), compute)


METRICS = ("received", "verified", "settled")


def public_parts(unit: Unit, period: Period, headline: PublicRow) -> dict | None:
    """A unit's parts one level down (a commune's villages, a province's communes), small
    numbers hidden. The unit's own line is published, so each column is protected with its
    margin; a figure the unit's line does not show exactly (small, or withheld to protect
    another unit) is withheld in every part too, since the parts would add up to it.

    Tips sent to the unit itself (a commune's "không rõ thôn") are a row of their own
    (`rest`): without it, the parts and the published total would reveal it by subtraction.
    """
    level = child_level(unit)
    if level is None:
        return None
    exact = tuple(getattr(headline, m).exact for m in METRICS)

    def compute():
        total, per = unit_figures(unit, period, by=level)
        parts = sorted(
            db.session.scalars(select(Unit).where(unit.subtree_clause(), Unit.level == level)),
            key=unit_sort_key,
        )
        listed = [p for p in parts if p.active or p.id in per]
        figures = {p.id: per.get(p.id, Figures()) for p in listed}
        rest = Figures()
        for m in METRICS:
            setattr(rest, m, getattr(total, m) - sum(getattr(f, m) for f in per.values()))
        keys = [*figures, REST]
        column = {}
        for m, shown_exactly in zip(METRICS, exact, strict=True):
            values = {k: getattr(figures.get(k, rest), m) for k in keys}
            if shown_exactly:
                column[m] = protect(values)
            else:
                column[m] = {k: Shown(None, withheld=True) for k in keys}
        rows = [
            _public_row(Ref.of(p), figures[p.id], {m: column[m][p.id] for m in METRICS})
            for p in listed
        ]
        has_rest = any(getattr(rest, m) for m in METRICS)
        rest_row = (
            _public_row(None, rest, {m: column[m][REST] for m in METRICS}) if has_rest else None
        )
        return {"level": level, "rows": rows, "rest": rest_row}

    return cached(("public_parts", unit.id, period, exact), compute)


REST = "rest"  # the key of what was sent to the unit itself, in `public_parts`


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
