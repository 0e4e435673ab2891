"""The counters the workflow keeps, and the sums the pages read.

A tip contributes a few (unit, category, day, metric) cells, derived from what it is
now (`contributions`). The workflow takes the cells before and after a change and
applies the difference, so a tip later marked duplicate drops out of past figures
too and a moved tip takes its figures along. Counts live at village x day; readers
add them up the tree, so no writer ever contends for a province-wide row.

A reopened tip (its tipster said "not settled") no longer counts its earlier closing as
settled; it was not open between that closing and the reopening, so "in progress" reads
two more cells: the earlier closing (it stops counting there) and the reopening (it counts
again from there). The tipsters' answers are cells too, on the day of the answer.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import delete, event, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from tipline.core.timeutil import local_date
from tipline.extensions import db
from tipline.places.models import Unit, UnitLevel, path_ids
from tipline.tips.models import (
    SETTLED_STATUSES,
    UNCOUNTED_STATUSES,
    Tip,
    TipCount,
    TipStatus,
)

RECEIVED = "received"
VERIFIED = "verified"
SETTLED = "settled"
OUTCOME_PREFIX = "outcome:"
# A reopened tip: its earlier closing (out of "in progress" from then), its reopening (back in).
PAUSED = "paused"
RESUMED = "resumed"
ANSWER_PREFIX = "answer:"

Cell = tuple[int, int, date, str]  # unit_id, category_id, day, metric


def contributions(tip: Tip) -> Counter[Cell]:
    """The counter cells this tip adds one to, as it stands now."""
    cells: Counter[Cell] = Counter()
    if tip.status in UNCOUNTED_STATUSES:
        return cells
    where = (tip.unit_id, tip.category_id)
    cells[(*where, local_date(tip.submitted_at), RECEIVED)] += 1
    if tip.verified_at is not None:
        cells[(*where, local_date(tip.verified_at), VERIFIED)] += 1
    if tip.status in SETTLED_STATUSES and tip.closed_at is not None:
        closed = local_date(tip.closed_at)
        cells[(*where, closed, SETTLED)] += 1
        if tip.status == TipStatus.RESOLVED and tip.outcome is not None:
            cells[(*where, closed, OUTCOME_PREFIX + tip.outcome.value)] += 1
    if tip.reopened_at is not None and tip.earlier_closed_at is not None:
        cells[(*where, local_date(tip.earlier_closed_at), PAUSED)] += 1
        cells[(*where, local_date(tip.reopened_at), RESUMED)] += 1
    if tip.tipster_answer is not None and tip.tipster_answer_at is not None:
        answered = local_date(tip.tipster_answer_at)
        cells[(*where, answered, ANSWER_PREFIX + tip.tipster_answer.value)] += 1
    return cells


def apply_difference(before: Counter[Cell], after: Counter[Cell]) -> None:
    """Queue `after - before` for the counters; written with the session's next flush."""
    pending: Counter[Cell] = db.session.info.setdefault(_PENDING, Counter())
    pending.update(after)
    pending.subtract(before)


_PENDING = "tipline_count_deltas"


@event.listens_for(Session, "after_flush")
def _write_pending(session: Session, _context) -> None:
    """One batched upsert per flush, in the same transaction as the events it counts."""
    pending: Counter[Cell] | None = session.info.pop(_PENDING, None)
    rows = [
        dict(unit_id=u, category_id=c, day=d, metric=m, count=n)
        for (u, c, d, m), n in sorted((pending or {}).items())
        if n
    ]
    if not rows:
        return
    connection = session.connection()
    connection.execute(_upsert(connection.dialect.name), rows)


_UPSERTS: dict = {}


def _upsert(dialect: str):
    """The counters' upsert for a dialect, built once (building `excluded` is not cheap)."""
    stmt = _UPSERTS.get(dialect)
    if stmt is None:
        insert = {"postgresql": pg_insert, "sqlite": sqlite_insert}.get(dialect)
        if insert is None:
            raise RuntimeError(f"counters need PostgreSQL or SQLite, not {dialect}")
        stmt = insert(TipCount)
        stmt = _UPSERTS[dialect] = stmt.on_conflict_do_update(
            index_elements=["unit_id", "category_id", "day", "metric"],
            set_={"count": TipCount.count + stmt.excluded.count},
        )
    return stmt


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, _previous) -> None:
    session.info.pop(_PENDING, None)


# --- reading: the one reader of the counters ------------------------------------------


@dataclass
class Figures:
    """One unit's figures for one period (the dashboards add the medians)."""

    received: int = 0
    verified: int = 0
    settled: int = 0
    in_progress: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    # The tipsters' answers after closing, by value ("done", "not_done", "unknown").
    answers: Counter[str] = field(default_factory=Counter)
    median_settle_days: float | None = None
    median_first_response_hours: float | None = None

    @property
    def settled_share(self) -> float | None:
        return self.settled / self.received if self.received else None

    @property
    def answered(self) -> int:
        return sum(self.answers.values())

    @property
    def satisfied(self) -> int:
        return self.answers.get("done", 0)

    @property
    def satisfaction(self) -> float | None:
        """The share of "settled" (Đã xong) among the tipsters' answers."""
        return self.satisfied / self.answered if self.answered else None

    def add(self, metric: str, value: int) -> None:
        """Count a cell of the period."""
        if metric == RECEIVED:
            self.received += value
        elif metric == VERIFIED:
            self.verified += value
        elif metric == SETTLED:
            self.settled += value
        elif metric.startswith(OUTCOME_PREFIX):
            self.outcomes[metric.removeprefix(OUTCOME_PREFIX)] += value
        elif metric.startswith(ANSWER_PREFIX):
            self.answers[metric.removeprefix(ANSWER_PREFIX)] += value

    def add_to_date(self, metric: str, value: int) -> None:
        """Count a cell up to the period's end: in progress is received minus settled."""
        if metric in (RECEIVED, RESUMED):
            self.in_progress += value
        elif metric in (SETTLED, PAUSED):
            self.in_progress -= value


def sums(root: Unit, start: date | None, end: date, *group) -> list:
    """(*group, metric, total) of the counts in `root`'s subtree for days in [start, end]."""
    query = (
        select(*group, TipCount.metric, func.sum(TipCount.count))
        .join(Unit, Unit.id == TipCount.unit_id)
        .where(root.subtree_clause(), TipCount.day <= end)
        .group_by(*group, TipCount.metric)
    )
    if start is not None:
        query = query.where(TipCount.day >= start)
    return db.session.execute(query).all()


def level_map(root: Unit, level: UnitLevel) -> dict[int, int]:
    """unit id -> id of its ancestor (or itself) at `level`, for `root`'s subtree."""
    units = db.session.execute(
        select(Unit.id, Unit.path, Unit.level).where(root.subtree_clause())
    ).all()
    at_level = {unit_id for unit_id, _, unit_level in units if unit_level == level}
    mapping = {}
    for unit_id, path, _ in units:
        ancestor = next((i for i in path_ids(path) if i in at_level), None)
        if ancestor is not None:
            mapping[unit_id] = ancestor
    return mapping


def figures(
    root: Unit, start: date, end: date, by: UnitLevel | None = None
) -> tuple[Figures, dict[int, Figures]]:
    """Figures for `root`, and (with `by`) for each unit at that level below it, keyed by id
    (units with no count are absent)."""
    mapping = level_map(root, by) if by is not None else {}
    total = Figures()
    per: dict[int, Figures] = {}
    for to_date, rows in (
        (False, sums(root, start, end, TipCount.unit_id)),
        (True, sums(root, None, end, TipCount.unit_id)),
    ):
        for unit_id, metric, value in rows:
            targets = [total]
            if unit_id in mapping:
                targets.append(per.setdefault(mapping[unit_id], Figures()))
            for target in targets:
                if to_date:
                    target.add_to_date(metric, int(value))
                else:
                    target.add(metric, int(value))
    return total, per


def figures_for(unit: Unit, start: date, end: date) -> Figures:
    return figures(unit, start, end)[0]


def figures_by_commune(root: Unit, start: date, end: date) -> tuple[Figures, dict[int, Figures]]:
    """Figures for `root` and for each commune below it (keyed by commune id)."""
    return figures(root, start, end, UnitLevel.COMMUNE)


# --- checking ------------------------------------------------------------------------


def expected_counts() -> Counter[Cell]:
    """Recount every cell from the tips as they stand now."""
    expected: Counter[Cell] = Counter()
    for tip in db.session.scalars(select(Tip).execution_options(yield_per=500)):
        expected.update(contributions(tip))
    return expected


def stored_counts() -> Counter[Cell]:
    stored: Counter[Cell] = Counter()
    for row in db.session.scalars(select(TipCount)):
        if row.count:
            stored[(row.unit_id, row.category_id, row.day, row.metric)] = row.count
    return stored


def differences() -> dict[Cell, tuple[int, int]]:
    """Cells where the stored counters differ from a recount: cell -> (stored, expected)."""
    expected, stored = expected_counts(), stored_counts()
    return {
        cell: (stored.get(cell, 0), expected.get(cell, 0))
        for cell in set(expected) | set(stored)
        if stored.get(cell, 0) != expected.get(cell, 0)
    }


def rebuild() -> int:
    """Replace every counter by a recount; returns the number of cells written."""
    expected = expected_counts()
    db.session.execute(delete(TipCount))
    rows = [
        dict(unit_id=u, category_id=c, day=d, metric=m, count=n)
        for (u, c, d, m), n in sorted(expected.items())
        if n
    ]
    if rows:
        db.session.execute(insert(TipCount), rows)
    db.session.expire_all()
    return len(rows)
