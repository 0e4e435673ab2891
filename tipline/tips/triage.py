"""Triage: defaults of a new tip, the inbox's filters and counts, duplicates, deadlines.

Every list here starts from `queries.visible_tips` (the one scoping query), so a filter,
a search or a count can only narrow what the staff member may read.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, or_, select

from tipline.accounts.models import RoleAssignment, User
from tipline.accounts.permissions import TIP_READERS, TRIAGERS, scope_key, units_with, within
from tipline.core import cache
from tipline.core.errors import TiplineError
from tipline.core.text import fold
from tipline.core.timeutil import utcnow
from tipline.extensions import db
from tipline.places.models import Unit, UnitLevel
from tipline.places.services import communes_of, unit_sort_key, villages_of
from tipline.tips import workflow
from tipline.tips.intake import search_text_of
from tipline.tips.models import (
    OPEN_STATUSES,
    Category,
    Handler,
    Priority,
    RejectReason,
    ResponseTemplate,
    Tip,
    TipEvent,
    TipRead,
    TipStatus,
)
from tipline.tips.queries import TipUnit, reading_clause, visible_tips
from tipline.tips.services import TipDraft, active_categories, normalize_reference, submit_tip

# --- the inbox ------------------------------------------------------------------------


class Sort:
    PRIORITY = "priority"
    NEWEST = "newest"
    OLDEST = "oldest"
    DUE = "due"
    ALL = (PRIORITY, NEWEST, OLDEST, DUE)


@dataclass
class InboxFilter:
    """What the inbox shows; every field narrows the staff member's scope."""

    status: TipStatus | None = None
    open_only: bool = False
    category_id: int | None = None
    unit: Unit | None = None
    priority: Priority | None = None
    mine: bool = False
    overdue: bool = False
    unread: bool = False
    unread_replies: bool = False
    query: str = ""
    sort: str = Sort.PRIORITY
    page: int = 1
    words: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.words = fold(self.query).split()[:8]


def overdue_clause(now: datetime):
    """Open tips past their first-response or settlement due date."""
    return and_(
        Tip.status.in_(OPEN_STATUSES),
        or_(
            and_(Tip.first_response_at.is_(None), Tip.response_due_at < now),
            Tip.settle_due_at < now,
        ),
    )


def _read_for(user: User):
    return select(TipRead).where(TipRead.user_id == user.id).subquery("my_reads")


def _unread(reads):
    return and_(
        Tip.status.in_(OPEN_STATUSES),
        or_(reads.c.seen_at.is_(None), reads.c.seen_at < Tip.activity_at),
    )


def _reply_pending(reads):
    # The tipster did something after submitting (a reply) that this user has not seen.
    return and_(_unread(reads), Tip.activity_at > Tip.submitted_at)


def search_clause(words: list[str]):
    """Every word somewhere in the folded description or place (case and marks ignored)."""
    return and_(*(Tip.search_text.contains(word, autoescape=True) for word in words))


def inbox_query(user: User, wanted: InboxFilter, *, now: datetime | None = None):
    now = now or utcnow()
    query = visible_tips(user).order_by(None)
    if wanted.unread or wanted.unread_replies:
        reads = _read_for(user)
        query = query.outerjoin(reads, reads.c.tip_id == Tip.id)
        query = query.where(_reply_pending(reads) if wanted.unread_replies else _unread(reads))
    if wanted.status is not None:
        query = query.where(Tip.status == wanted.status)
    elif wanted.open_only:
        query = query.where(Tip.status.in_(OPEN_STATUSES))
    if wanted.category_id is not None:
        query = query.where(Tip.category_id == wanted.category_id)
    if wanted.unit is not None:
        query = query.where(TipUnit.path.startswith(wanted.unit.path, autoescape=True))
    if wanted.priority is not None:
        query = query.where(Tip.priority == wanted.priority)
    if wanted.mine:
        query = query.where(Tip.assignee_id == user.id)
    if wanted.overdue:
        query = query.where(overdue_clause(now))
    if wanted.words:
        reference = normalize_reference(wanted.query)
        words = search_clause(wanted.words)
        query = query.where(or_(words, Tip.reference == reference) if reference else words)
    return query.order_by(*_order(wanted.sort))


def _order(sort: str):
    if sort == Sort.NEWEST:
        return (Tip.submitted_at.desc(), Tip.id.desc())
    if sort == Sort.OLDEST:
        return (Tip.submitted_at.asc(), Tip.id.asc())
    if sort == Sort.DUE:
        # Open tips by the nearer due date; closed ones last.
        closed = case((Tip.status.in_(OPEN_STATUSES), 0), else_=1)
        return (closed, Tip.settle_due_at.asc(), Tip.id.asc())
    # Priority values sort in reverse order of urgency: DESC puts urgent on top.
    return (Tip.priority.desc(), Tip.submitted_at.desc(), Tip.id.desc())


@dataclass(frozen=True)
class InboxPage:
    tips: list[Tip]
    page: int
    has_next: bool


def inbox_page(user: User, wanted: InboxFilter, size: int, *, now=None) -> InboxPage:
    """One page of the inbox: `size` tips and whether another page follows (no full count)."""
    page = max(1, wanted.page)
    query = inbox_query(user, wanted, now=now).limit(size + 1).offset((page - 1) * size)
    tips = list(db.session.scalars(query).unique())
    return InboxPage(tips[:size], page, len(tips) > size)


@dataclass(frozen=True)
class InboxCounts:
    """Counts of open tips (the work to do): closed ones are reached by filter, uncounted."""

    open: int
    by_status: dict[TipStatus, int]
    urgent: int
    mine: int
    overdue: int
    unread: int
    unread_replies: int


def inbox_counts(user: User, *, now: datetime | None = None) -> InboxCounts:
    """The counts beside each filter, in one pass over the open tips in the user's scope.

    Open tips only: they are what triage is about, and they stay few however many closed
    tips accumulate over the years, so the inbox costs the same in year five as in year one.
    """
    now = now or utcnow()
    reads = _read_for(user)

    def count_if(condition):
        return func.count().filter(condition)

    columns = [
        func.count(),
        count_if(Tip.priority == Priority.URGENT),
        count_if(Tip.assignee_id == user.id),
        count_if(overdue_clause(now)),
        count_if(_unread(reads)),
        count_if(_reply_pending(reads)),
    ] + [count_if(Tip.status == status) for status in OPEN_ORDER]
    query = (
        select(*columns)
        .select_from(Tip)
        .join(TipUnit, TipUnit.id == Tip.unit_id)
        .outerjoin(reads, reads.c.tip_id == Tip.id)
        .where(reading_clause(user), Tip.status.in_(OPEN_STATUSES))
    )
    row = db.session.execute(query).one()
    open_, urgent, mine, overdue, unread, replies = row[:6]
    by_status = {status: n for status, n in zip(OPEN_ORDER, row[6:], strict=True)}
    return InboxCounts(open_, by_status, urgent, mine, overdue, unread, replies)


OPEN_ORDER = [s for s in TipStatus if s in OPEN_STATUSES]


# The tables the inbox reads: a write to one of them in this process drops the cached
# counts and options at once; the newest event and the user's last read, in the key, show
# other processes' writes; the minute in the key decides what is overdue.
INBOX_TABLES = (
    Tip.__tablename__,
    TipEvent.__tablename__,
    TipRead.__tablename__,
    RoleAssignment.__tablename__,
    Unit.__tablename__,
    User.__tablename__,
    Category.__tablename__,
)


def cached_inbox_counts(user: User, *, now: datetime | None = None) -> InboxCounts:
    """`inbox_counts`, reused while nothing has happened to any tip or to the user's reads."""
    now = now or utcnow()
    last_event = db.session.scalar(select(func.max(TipEvent.id)))
    last_read = db.session.scalar(
        select(func.max(TipRead.seen_at)).where(TipRead.user_id == user.id)
    )
    key = (
        "inbox-counts",
        user.id,
        scope_key(user),
        last_event,
        last_read,
        now.replace(second=0, microsecond=0),
    )
    return cache.cached(
        key,
        lambda: inbox_counts(user, now=now),
        tables=INBOX_TABLES,
        ttl=cache.setting("TIPLINE_INBOX_CACHE_SECONDS"),
    )


def unread_count(user: User) -> int:
    """Open tips in scope this staff member has not opened since the tipster last acted."""
    reads = _read_for(user)
    query = (
        select(func.count())
        .select_from(Tip)
        .join(TipUnit, TipUnit.id == Tip.unit_id)
        .outerjoin(reads, reads.c.tip_id == Tip.id)
        .where(reading_clause(user), _unread(reads))
    )
    return db.session.scalar(query) or 0


def mark_read(tip: Tip, user: User, *, at: datetime | None = None) -> None:
    """`user` has seen the tip now. A tipster's activity is stamped at the end of its
    minute (no exact second is kept): having seen the tip, one has seen all of it."""
    at = at or utcnow()
    if tip.activity_at is not None and tip.activity_at > at:
        at = tip.activity_at
    read = db.session.get(TipRead, (user.id, tip.id))
    if read is None:
        db.session.add(TipRead(user_id=user.id, tip_id=tip.id, seen_at=at))
    elif read.seen_at < at:
        read.seen_at = at


def unread_tip_ids(user: User, tips: list[Tip]) -> set[int]:
    """Which of these (listed) tips are unread for `user`."""
    if not tips:
        return set()
    seen = dict(
        db.session.execute(
            select(TipRead.tip_id, TipRead.seen_at).where(
                TipRead.user_id == user.id, TipRead.tip_id.in_([t.id for t in tips])
            )
        ).all()
    )
    return {
        t.id
        for t in tips
        if t.is_open and (t.id not in seen or seen[t.id] < (t.activity_at or t.submitted_at))
    }


def is_overdue(tip: Tip, now: datetime | None = None) -> bool:
    now = now or utcnow()
    if not tip.is_open:
        return False
    late_response = (
        tip.first_response_at is None
        and tip.response_due_at is not None
        and tip.response_due_at < now
    )
    return late_response or (tip.settle_due_at is not None and tip.settle_due_at < now)


# --- duplicates -----------------------------------------------------------------------


@dataclass(frozen=True)
class DuplicateCandidate:
    tip: Tip
    score: float
    same_village: bool
    same_category: bool
    hours_apart: float


def duplicate_candidates(tip: Tip, user: User, *, limit: int = 5) -> list[DuplicateCandidate]:
    """Tips of the same commune, close in time, with similar text, that `user` may read."""
    window = timedelta(days=current_app.config["TIPLINE_DUPLICATE_WINDOW_DAYS"])
    area = tip.unit.commune or tip.unit
    query = (
        visible_tips(user)
        .where(
            TipUnit.path.startswith(area.path, autoescape=True),
            Tip.id != tip.id,
            Tip.status.notin_([TipStatus.DUPLICATE, TipStatus.REJECTED]),
            Tip.submitted_at.between(tip.submitted_at - window, tip.submitted_at + window),
        )
        .limit(300)
    )
    mine = tip.search_text or search_text_of(tip)
    found = []
    for other in db.session.scalars(query).unique():
        text = similarity(mine, other.search_text or search_text_of(other))
        hours = abs((other.submitted_at - tip.submitted_at).total_seconds()) / 3600
        closeness = 1 - min(hours / (window.total_seconds() / 3600), 1)
        same_village = other.unit_id == tip.unit_id
        same_category = other.category_id == tip.category_id
        score = 0.6 * text + 0.15 * closeness + 0.15 * same_category + 0.1 * same_village
        if text >= 0.3 and score >= 0.45:
            found.append(DuplicateCandidate(other, score, same_village, same_category, hours))
    found.sort(key=lambda c: (-c.score, c.tip.submitted_at))
    return found[:limit]


def similarity(a: str, b: str) -> float:
    """Between 0 and 1: shared words and shared word order of two folded texts."""
    words_a, words_b = set(a.split()), set(b.split())
    if not words_a or not words_b:
        return 0.0
    overlap = len(words_a & words_b) / len(words_a | words_b)
    sequence = difflib.SequenceMatcher(None, a.split(), b.split(), autojunk=False).ratio()
    return max(overlap, sequence)


# --- assignment -----------------------------------------------------------------------


# --- deadlines and escalation ---------------------------------------------------------


def stale_tips(now: datetime, hours: float):
    """Open tips still with the village team that nobody has acted on for `hours`."""
    return (
        select(Tip)
        .where(
            Tip.status.in_(OPEN_STATUSES),
            Tip.handler == Handler.VILLAGE_TEAM,
            Tip.first_response_at.is_(None),
            Tip.submitted_at <= now - timedelta(hours=hours),
        )
        .order_by(Tip.submitted_at, Tip.id)
    )


def escalate_stale(now: datetime | None = None, hours: float | None = None) -> list[Tip]:
    """Hand every unattended tip to the commune police (meant for cron); the caller commits."""

    now = now or utcnow()
    if hours is None:
        hours = current_app.config["TIPLINE_ESCALATE_AFTER_HOURS"]
    escalated = []
    for tip in db.session.scalars(stale_tips(now, hours)).unique().all():
        workflow.escalate_unattended(tip, hours=hours, at=now)
        escalated.append(tip)
    return escalated


# --- bulk actions ---------------------------------------------------------------------


@dataclass
class BulkResult:
    done: list[Tip] = field(default_factory=list)
    refused: list[tuple[Tip, str]] = field(default_factory=list)
    missing: int = 0


def bulk_apply(
    user: User,
    public_ids: list[str],
    operation: str,
    *,
    assignee: User | None = None,
    priority: Priority | None = None,
) -> BulkResult:
    """Apply one operation to each selected tip through the workflow; a refusal skips a tip.

    Tips are looked up through the scoping query: an id outside the user's scope is
    counted as missing and nothing else is said about it.
    """

    result = BulkResult()
    ids = list(dict.fromkeys(public_ids))[:200]
    found = {
        tip.public_id: tip
        for tip in db.session.scalars(visible_tips(user).where(Tip.public_id.in_(ids))).unique()
    }
    for public_id in ids:
        tip = found.get(public_id)
        if tip is None:
            result.missing += 1
            continue
        try:
            with db.session.begin_nested():
                if operation == "assign":
                    workflow.assign(tip, user, assignee)
                elif operation == "priority":
                    if priority is None:
                        raise workflow.WorkflowError(_no_priority())
                    workflow.set_priority(tip, user, priority)
                elif operation == "spam":
                    workflow.transition(tip, workflow.Action.REJECT, user, reason=RejectReason.SPAM)
                else:
                    raise ValueError(operation)
        except TiplineError as error:
            db.session.refresh(tip)
            result.refused.append((tip, str(error.message)))
            continue
        result.done.append(tip)
    return result


def _no_priority():

    return _l("Hãy chọn mức ưu tiên.")


# --- tips recorded on behalf of residents ---------------------------------------------


@dataclass(frozen=True)
class RecordedTip:
    category: Category
    unit: Unit
    description: str
    place: str | None = None
    occurred_on: object = None


def record_on_behalf(
    user: User, source, batch_key: str, rows: list[RecordedTip], *, now: datetime | None = None
):
    """Record tips heard from residents: same submission service, workflow and counters.

    `batch_key` (from the form) makes a re-sent form record nothing twice.
    """

    receipts = []
    for index, row in enumerate(rows):
        draft = TipDraft(
            submission_key=f"staff:{user.id}:{batch_key}:{index}",
            category=row.category,
            unit=row.unit,
            description=row.description,
            place=row.place,
            occurred_on=row.occurred_on,
            source=source,
            recorded_by_id=user.id,
        )
        receipts.append(submit_tip(draft, now=now))
    return receipts


def recordable_units(user: User) -> list[Unit]:
    """Villages and communes where `user` may record tips (where they may triage)."""

    units: dict[int, Unit] = {}
    for unit in units_with(user, TRIAGERS):
        if unit.level == UnitLevel.VILLAGE:
            units[unit.id] = unit
        elif unit.level == UnitLevel.COMMUNE:
            units[unit.id] = unit
            units.update((v.id, v) for v in villages_of(unit))
        else:
            for commune in communes_of(unit):
                units[commune.id] = commune
    return list(units.values())


# --- response templates ---------------------------------------------------------------


def templates_for(tip: Tip) -> list:

    commune = tip.unit.commune
    if commune is None:
        return []
    return list(
        db.session.scalars(
            select(ResponseTemplate)
            .where(ResponseTemplate.unit_id == commune.id)
            .order_by(ResponseTemplate.title)
        )
    )


# --- what the inbox's selects offer ---------------------------------------------------


@dataclass(frozen=True)
class Option:
    id: int
    code: str
    name: str


@dataclass(frozen=True)
class InboxOptions:
    categories: list[Option]
    units: list[Option]
    assignees: list[Option]


def inbox_options(user: User) -> InboxOptions:
    """Categories, the villages and communes of the user's scope, who can be assigned.

    Plain values, kept a minute per user and roles: the inbox needs them on every view.
    """
    return cache.cached(
        ("inbox-options", user.id, scope_key(user)),
        lambda: _inbox_options(user),
        tables=INBOX_TABLES,
        ttl=cache.setting("TIPLINE_INBOX_CACHE_SECONDS"),
    )


def _inbox_options(user: User) -> InboxOptions:
    readers = units_with(user, TIP_READERS)
    units: list[Unit] = []
    if readers:
        units = list(
            db.session.scalars(
                select(Unit)
                .where(
                    within(readers),
                    Unit.level.in_([UnitLevel.VILLAGE, UnitLevel.COMMUNE]),
                    Unit.active.is_(True),
                )
                .limit(2000)
            )
        )
        if len(units) > 400:  # a province: communes only
            units = [u for u in units if u.level == UnitLevel.COMMUNE]
    units.sort(key=unit_sort_key)
    return InboxOptions(
        [Option(c.id, c.code, c.name) for c in active_categories()],
        [Option(u.id, u.code, u.name) for u in units],
        assignable_people(units),
    )


def assignable_people(units: list[Unit]) -> list[Option]:
    """(id, "", name) of the staff who may work on tips of these units."""
    ancestor_ids: set[int] = set()
    for unit in units:
        ancestor_ids.update(unit.ancestor_ids)
    if not ancestor_ids:
        return []
    rows = db.session.execute(
        select(User.id, User.full_name)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(
            RoleAssignment.unit_id.in_(ancestor_ids),
            RoleAssignment.role.in_(TRIAGERS),
            User.active.is_(True),
        )
        .distinct()
        .order_by(User.full_name)
    )
    return [Option(user_id, "", name) for user_id, name in rows]
