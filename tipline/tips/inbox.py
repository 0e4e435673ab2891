"""The inbox: its filter (parsed from a query string), pages, counts, options and unread.

Every list here starts from `queries.visible_tips` (the one scoping query), so a filter,
a search or a count can only narrow what the staff member may read. The staff pages and
the staff API read the same query string through `InboxFilter.from_args`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, or_, select

from tipline.accounts.models import RoleAssignment, User
from tipline.accounts.permissions import TIP_READERS, TRIAGERS, scope_key, units_with, within
from tipline.core import cache
from tipline.core.errors import TiplineError
from tipline.core.text import clean_text, fold
from tipline.core.timeutil import utcnow
from tipline.extensions import db
from tipline.places.models import Unit, UnitLevel
from tipline.places.services import unit_by_code, unit_sort_key
from tipline.tips.models import (
    OPEN_STATUSES,
    Category,
    Priority,
    Tip,
    TipEvent,
    TipRead,
    TipStatus,
)
from tipline.tips.queries import TipUnit, reading_clause, visible_tips
from tipline.tips.services import active_categories, category_by_code, normalize_reference
from tipline.tips.triage import overdue_clause

# --- the filter -----------------------------------------------------------------------


class Sort:
    PRIORITY = "priority"
    NEWEST = "newest"
    OLDEST = "oldest"
    DUE = "due"
    ALL = (PRIORITY, NEWEST, OLDEST, DUE)


SORT_LABELS = {
    Sort.PRIORITY: _l("Khẩn trước, mới trước"),
    Sort.NEWEST: _l("Mới nhất"),
    Sort.OLDEST: _l("Cũ nhất"),
    Sort.DUE: _l("Sắp đến hạn"),
}

# Yes/no filters: query-string name -> InboxFilter field. "1" narrows; "0" or empty not.
FLAGS = {
    "mine": "mine",
    "overdue": "overdue",
    "unread": "unread",
    "replies": "unread_replies",
    "open": "open_only",
}
MAX_PAGE = 10_000
MAX_QUERY = 200
MAX_CODE = 40  # category and unit codes are String(40)


class BadFilter(TiplineError):
    """A query-string value the inbox does not know: a 400 with what is wrong."""


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

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> InboxFilter:
        """The inbox's query string (web page and API alike), validated; BadFilter if not."""
        status = _enum(TipStatus, args.get("status"), _l("Trạng thái không hợp lệ."))
        priority = _enum(Priority, args.get("priority"), _l("Mức ưu tiên không hợp lệ."))
        category_id = None
        if code := args.get("category") or "":
            found = category_by_code(code) if len(code) <= MAX_CODE else None
            if found is None:
                raise BadFilter(_l("Loại vụ việc không hợp lệ."))
            category_id = found.id
        unit = None
        if code := args.get("unit") or "":
            unit = unit_by_code(code) if len(code) <= MAX_CODE else None
            if unit is None:
                raise BadFilter(_l("Địa bàn không hợp lệ."))
        sort = args.get("sort") or Sort.PRIORITY
        if sort not in Sort.ALL:
            raise BadFilter(_l("Cách sắp xếp không hợp lệ."))
        flags = {}
        for name, attribute in FLAGS.items():
            value = args.get(name)
            if value not in (None, "", "0", "1"):
                raise BadFilter(_l("Bộ lọc không hợp lệ."))
            flags[attribute] = value == "1"
        page = args.get("page") or "1"
        if not (page.isascii() and page.isdigit()) or not 1 <= int(page) <= MAX_PAGE:
            raise BadFilter(_l("Số trang không hợp lệ."))
        return cls(
            status=status,
            priority=priority,
            category_id=category_id,
            unit=unit,
            sort=sort,
            page=int(page),
            query=(clean_text(args.get("q", "")) or "")[:MAX_QUERY],
            **flags,
        )

    def to_args(self) -> dict[str, str]:
        """The filter as query-string arguments (for links that keep it), without the page."""
        args = {
            "q": self.query or None,
            "status": self.status.value if self.status else None,
            "priority": self.priority.value if self.priority else None,
            "unit": self.unit.code if self.unit else None,
            "sort": self.sort if self.sort != Sort.PRIORITY else None,
            **{name: "1" if getattr(self, attr) else None for name, attr in FLAGS.items()},
        }
        if self.category_id is not None:
            category = db.session.get(Category, self.category_id)
            args["category"] = category.code if category else None
        return {k: v for k, v in args.items() if v is not None}


def _enum(enum_cls, value: str | None, message):
    if not value:
        return None
    try:
        return enum_cls(value)
    except ValueError:
        raise BadFilter(message) from None


# --- the list -------------------------------------------------------------------------


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


# --- the counts beside the filters ----------------------------------------------------


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


OPEN_ORDER = [s for s in TipStatus if s in OPEN_STATUSES]


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


@dataclass(frozen=True)
class QuickFilter:
    """A link above the inbox: its label, its count (None: not counted), its arguments."""

    label: str
    count: int | None
    args: dict[str, str]


def quick_filters(counts: InboxCounts, current: dict[str, str]) -> list[QuickFilter]:
    """The quick filters beside their counts (unread replies only when there are some)."""
    chips = [
        QuickFilter(_l("Tất cả"), None, {}),
        QuickFilter(_l("Đang mở"), counts.open, {"open": "1"}),
        QuickFilter(_l("Khẩn"), counts.urgent, {"priority": "urgent", "open": "1"}),
        QuickFilter(_l("Của tôi"), counts.mine, {"mine": "1", "open": "1"}),
        QuickFilter(_l("Quá hạn"), counts.overdue, {"overdue": "1"}),
        QuickFilter(_l("Chưa đọc"), counts.unread, {"unread": "1"}),
    ]
    if counts.unread_replies or current.get("replies"):
        chips.append(QuickFilter(_l("Trả lời chưa đọc"), counts.unread_replies, {"replies": "1"}))
    for status in TipStatus:
        chips.append(
            QuickFilter(status.label, counts.by_status.get(status), {"status": status.value})
        )
    return chips


# --- read and unread ------------------------------------------------------------------


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
