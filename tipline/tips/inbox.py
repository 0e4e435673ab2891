"""The inbox: its filter (parsed from a query string), pages, counts, options and unread.

Every list here starts from `queries.visible_tips` (the one scoping query), so a filter,
a search or a count can only narrow what the staff member may read. The staff pages and
the staff API read the same query string through `InboxFilter.from_args`.

The staff page opens on what needs action: the open tips on which the workflow allows the
staff member a move (`queries.acting_clause`), urgent and unread first, then by the next
due date; closed tips appear when asked for (a state, "all", or a search).

Held tips (possible spam during a flood, tips/held.py) are in none of these lists and
none of their counts: a flood must not fill the inbox. They have their own view (`held=1`,
the page /staff/giu-lai), and a search finds them too, marked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from flask import g, has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, or_, select, true

from tipline.accounts.models import RoleAssignment, User
from tipline.accounts.permissions import (
    TIP_READERS,
    TRIAGERS,
    holds_any,
    scope_key,
    units_with,
    within,
)
from tipline.core import cache
from tipline.core.errors import TiplineError
from tipline.core.text import clean_text, fold
from tipline.core.timeutil import local_date, utcnow
from tipline.extensions import db
from tipline.places.models import Unit, UnitLevel
from tipline.places.services import UnitRef, cached_unit, unit_sort_key
from tipline.tips import counts
from tipline.tips.models import (
    OPEN_STATUSES,
    Category,
    Priority,
    Tip,
    TipEvent,
    TipRead,
    TipStatus,
    localized_name,
)
from tipline.tips.queries import TipUnit, acting_clause, reading_clause, visible_tips
from tipline.tips.services import active_categories, category_by_code, normalize_reference
from tipline.tips.triage import overdue_clause
from tipline.tips.workflow import RULES

# --- the filter -----------------------------------------------------------------------


class Sort:
    TODO = "todo"
    PRIORITY = "priority"
    NEWEST = "newest"
    OLDEST = "oldest"
    DUE = "due"
    ALL = (TODO, PRIORITY, NEWEST, OLDEST, DUE)


SORT_LABELS = {
    Sort.TODO: _l("Cần xử lý trước"),
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
    "all": "everything",
    "held": "held",
}
# The held tips' view and mark (tips/held.py).
HELD_LABEL = _l("Giữ lại (có thể là tin rác)")
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
    # Closed tips too (and, for the web page, tips one may only read).
    everything: bool = False
    category_id: int | None = None
    unit: Unit | UnitRef | None = None
    priority: Priority | None = None
    mine: bool = False
    overdue: bool = False
    unread: bool = False
    unread_replies: bool = False
    query: str = ""
    sort: str = ""  # empty: the view's own order (`order`)
    page: int = 1
    # The held tips (possible spam, tips/held.py): open ones unless a state or "all" is
    # asked for. Without it no list shows a held tip, except a search.
    held: bool = False
    # The web page's default view: what needs action (the API lists everything in scope).
    todo_by_default: bool = False
    words: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.words = fold(self.query).split()[:8]

    @property
    def todo(self) -> bool:
        """Whether this is the "to do" view: no state asked for, no search, not everything."""
        return (
            self.todo_by_default
            and self.status is None
            and not (self.open_only or self.everything or self.words or self.held)
        )

    @property
    def order(self) -> str:
        """The order asked for; otherwise newest first for a search, the "to do" order on
        the web page, urgent then newest in the API (as it always was)."""
        if self.sort:
            return self.sort
        if self.words or self.held:
            return Sort.NEWEST
        return Sort.TODO if self.todo_by_default else Sort.PRIORITY

    @classmethod
    def from_args(cls, args: Mapping[str, str], *, todo_by_default: bool = False) -> InboxFilter:
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
            # From the reference cache: a filter's unit is read on every page of the inbox.
            unit = cached_unit(code) if len(code) <= MAX_CODE else None
            if unit is None:
                raise BadFilter(_l("Địa bàn không hợp lệ."))
        sort = args.get("sort") or ""
        if sort and sort not in Sort.ALL:
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
            todo_by_default=todo_by_default,
            **flags,
        )

    def to_args(self) -> dict[str, str]:
        """The filter as query-string arguments (for links that keep it), without the page."""
        args = {
            "q": self.query or None,
            "status": self.status.value if self.status else None,
            "priority": self.priority.value if self.priority else None,
            "unit": self.unit.code if self.unit else None,
            "sort": self.sort or None,
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


def search_clause(words: list[str], *, indexed: bool = True):
    """Every word somewhere in the folded description or place, or in the category's name
    (case and marks ignored: "trom cap" finds "Trộm cắp tài sản").

    `indexed=False` words the text test so that PostgreSQL cannot answer it from the
    trigram index (`search_text || ''`): for a search within one village, whose few open
    tips its own index finds at once, the planner otherwise ANDs that index with an OR of
    the trigram and category indexes over the whole province (measured: 2.1 of 2.9 ms)."""
    names = _folded_category_names()
    column = Tip.search_text if indexed else Tip.search_text.concat("")
    clauses = []
    for word in words:
        text = column.contains(word, autoescape=True)
        # A few category ids, not a join: the categories are a handful of rows.
        ids = [category_id for category_id, name in names if word in name]
        clauses.append(or_(text, Tip.category_id.in_(ids)) if ids else text)
    return and_(*clauses)


def _folded_category_names() -> tuple[tuple[int, str], ...]:
    """(id, folded Vietnamese and English name) of every category, retired ones too."""
    return cache.cached(
        "category-search-names",
        lambda: tuple(
            (category_id, fold(f"{name} {name_en or ''}"))
            for category_id, name, name_en in db.session.execute(
                select(Category.id, Category.name, Category.name_en)
            )
        ),
        tables=(Category.__tablename__,),
        ttl=cache.setting("TIPLINE_REFERENCE_CACHE_SECONDS"),
    )


# Roles that some move of the workflow names: the others (officers) only read tips.
ACTING_ROLES = frozenset().union(*(rule.roles for rule in RULES.values()))


def todo_clause(user: User):
    """The default view: open tips the user may act on; for a reader who acts on none
    (an officer), the open tips they may read."""
    if holds_any(user, ACTING_ROLES):
        return acting_clause(user)
    return Tip.status.in_(OPEN_STATUSES)


def inbox_query(user: User, wanted: InboxFilter, *, now: datetime | None = None):
    """The SELECT of the tips `wanted` names, in its order."""
    return _inbox_select(user, wanted, now=now)[0]


def _inbox_select(user: User, wanted: InboxFilter, *, now: datetime | None = None):
    """The inbox's SELECT, and the user's reads joined to it (whether a tip is unread)."""
    now = now or utcnow()
    query = visible_tips(user).order_by(None)
    order = wanted.order
    reads = _read_for(user)
    query = query.outerjoin(reads, reads.c.tip_id == Tip.id)
    if wanted.unread or wanted.unread_replies:
        query = query.where(_reply_pending(reads) if wanted.unread_replies else _unread(reads))
    if wanted.held:
        query = query.where(Tip.held.is_(True))
    elif not wanted.words:
        query = query.where(Tip.held.is_(False))
    if wanted.status is not None:
        query = query.where(Tip.status == wanted.status)
    elif wanted.open_only or (wanted.held and not wanted.everything):
        query = query.where(Tip.status.in_(OPEN_STATUSES))
    elif wanted.todo:
        query = query.where(todo_clause(user))
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
        # Within a village, start from its tips rather than from the words (search_clause).
        village = wanted.unit is not None and wanted.unit.level == UnitLevel.VILLAGE
        words = search_clause(wanted.words, indexed=not village)
        query = query.where(or_(words, Tip.reference == reference) if reference else words)
    return query.order_by(*_order(order, reads)), reads


def next_due():
    """The next deadline of an open tip: the first response's until someone responded,
    then the settling one."""
    return case(
        (Tip.first_response_at.is_(None), func.coalesce(Tip.response_due_at, Tip.settle_due_at)),
        else_=Tip.settle_due_at,
    )


def _order(sort: str, reads):
    if sort == Sort.TODO:
        # Open before closed; among open tips urgent, then unread, then the nearest
        # deadline; closed ones newest first.
        is_open = Tip.status.in_(OPEN_STATUSES)
        return (
            case((is_open, 0), else_=1),
            case((and_(is_open, Tip.priority == Priority.URGENT), 0), else_=1),
            case((_unread(reads), 0), else_=1),
            case((is_open, next_due())).asc().nulls_last(),
            Tip.submitted_at.desc(),
            Tip.id.desc(),
        )
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
    unread_ids: frozenset[int] = frozenset()  # which of `tips` the user has not read


def inbox_page(user: User, wanted: InboxFilter, size: int, *, now=None) -> InboxPage:
    """One page of the inbox: `size` tips and whether another page follows (no full count).

    The default view in two steps: the page's ids in the filter's order (a narrow query,
    however many open tips the "to do" order has to weigh), kept like the counts (until
    any tip event, or a read of this user's, or a change of their roles), then those tips
    with their category and unit. A search or a filter, kept nowhere, in one query.
    """
    now = now or utcnow()
    page = max(1, wanted.page)

    def page_ids() -> tuple[tuple[int, bool], ...]:
        query, reads = _inbox_select(user, wanted, now=now)
        query = (
            query.with_only_columns(Tip.id, _unread(reads))
            .limit(size + 1)
            .offset((page - 1) * size)
        )
        return tuple((tip_id, bool(unread)) for tip_id, unread in db.session.execute(query))

    if not (wanted.todo and not wanted.to_args()):
        # A search or a filter: nothing is kept, so the page's tips come in one query with
        # whether each is unread (no list of ids first, no second round trip).
        query, reads = _inbox_select(user, wanted, now=now)
        rows = db.session.execute(
            query.add_columns(_unread(reads)).limit(size + 1).offset((page - 1) * size)
        ).all()
        unread = frozenset(tip.id for tip, flag in rows[:size] if flag)
        return InboxPage([tip for tip, _flag in rows[:size]], page, len(rows) > size, unread)
    ids = cache.cached(
        ("inbox-ids", *_inbox_version(user), page, size),
        page_ids,
        tables=INBOX_TABLES,
        ttl=cache.setting("TIPLINE_INBOX_CACHE_SECONDS"),
    )
    shown = [tip_id for tip_id, _unread_flag in ids[:size]]
    found = {t.id: t for t in db.session.scalars(select(Tip).where(Tip.id.in_(shown))).unique()}
    tips = [found[i] for i in shown if i in found]
    unread = frozenset(tip_id for tip_id, flag in ids[:size] if flag)
    return InboxPage(tips, page, len(ids) > size, unread)


def _inbox_version(user: User) -> tuple:
    """What the inbox's kept answers depend on besides time: the user and their roles,
    the newest tip event (any change to a tip writes one) and the user's last read.
    Read once per request."""
    holder = g if has_request_context() else None
    remembered = getattr(holder, "tipline_inbox_version", None)
    if remembered is not None and remembered[0] == user.id:
        return remembered
    last_event, last_read = db.session.execute(
        select(
            select(func.max(TipEvent.id)).scalar_subquery(),
            select(func.max(TipRead.seen_at)).where(TipRead.user_id == user.id).scalar_subquery(),
        )
    ).one()
    version = (user.id, scope_key(user), last_event, last_read)
    if holder is not None:
        holder.tipline_inbox_version = version
    return version


# --- the counts beside the filters ----------------------------------------------------


@dataclass(frozen=True)
class InboxCounts:
    """Counts of open tips (the work to do): closed ones are reached by filter, uncounted.
    Held tips are counted apart (`held`), in none of the others."""

    open: int
    todo: int
    by_status: dict[TipStatus, int]
    urgent: int
    mine: int
    overdue: int
    unread: int
    unread_replies: int
    held: int = 0


OPEN_ORDER = [s for s in TipStatus if s in OPEN_STATUSES]


def inbox_counts(user: User, *, now: datetime | None = None) -> InboxCounts:
    """The counts beside each filter, in one pass over the open tips in the user's scope.

    Open tips only: they are what triage is about, and they stay few however many closed
    tips accumulate over the years, so the inbox costs the same in year five as in year one.
    """
    now = now or utcnow()
    reads = _read_for(user)

    def count_if(condition):
        return func.count().filter(and_(Tip.held.is_(False), condition))

    columns = [
        count_if(true()),
        count_if(todo_clause(user)),
        count_if(Tip.priority == Priority.URGENT),
        count_if(Tip.assignee_id == user.id),
        count_if(overdue_clause(now)),
        count_if(_unread(reads)),
        count_if(_reply_pending(reads)),
    ] + [count_if(Tip.status == status) for status in OPEN_ORDER]
    columns.append(func.count().filter(Tip.held.is_(True)))
    query = (
        select(*columns)
        .select_from(Tip)
        .join(TipUnit, TipUnit.id == Tip.unit_id)
        .outerjoin(reads, reads.c.tip_id == Tip.id)
        .where(reading_clause(user), Tip.status.in_(OPEN_STATUSES))
    )
    row = db.session.execute(query).one()
    open_, todo, urgent, mine, overdue, unread, replies = row[:7]
    by_status = {status: n for status, n in zip(OPEN_ORDER, row[7:-1], strict=True)}
    held = row[-1]
    return InboxCounts(open_, todo, by_status, urgent, mine, overdue, unread, replies, held)


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
    key = ("inbox-counts", *_inbox_version(user), now.replace(second=0, microsecond=0))
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
        QuickFilter(_l("Cần xử lý"), counts.todo, {}),
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
    chips.append(QuickFilter(_l("Tất cả, cả tin đã đóng"), None, {"all": "1"}))
    return chips


def active_filters(wanted: InboxFilter, options: InboxOptions) -> list[str]:
    """The filters in force, as short labels for the one-line summary above the list."""
    if wanted.status is not None:
        labels = [str(wanted.status.label)]
    elif wanted.open_only:
        labels = [str(_l("Đang mở"))]
    elif wanted.everything or wanted.words:
        labels = [str(_l("Tất cả, cả tin đã đóng"))]
    elif wanted.held:
        labels = [str(_l("Đang mở"))]
    elif wanted.todo_by_default:
        labels = [str(_l("Cần xử lý"))]
    else:
        labels = []
    if wanted.priority is not None:
        labels.append(str(wanted.priority.label))
    if wanted.category_id is not None:
        labels += [c.label for c in options.categories if c.id == wanted.category_id]
    if wanted.unit is not None:
        labels.append(wanted.unit.name)
    for flag, label in (
        (wanted.mine, _l("Của tôi")),
        (wanted.overdue, _l("Quá hạn")),
        (wanted.unread, _l("Chưa đọc")),
        (wanted.unread_replies, _l("Trả lời chưa đọc")),
        (wanted.held, HELD_LABEL),
    ):
        if flag:
            labels.append(str(label))
    if wanted.sort:
        labels.append(str(SORT_LABELS[wanted.sort]))
    return labels


# --- a village team's month -----------------------------------------------------------


@dataclass(frozen=True)
class VillageMonth:
    """A village team's page: this month's figures in its villages, and its work."""

    start: date
    end: date
    received: int  # new this month (the counters)
    in_progress: int  # open at the end of today (the counters)
    settled: int  # settled this month (the counters)
    overdue: int  # open and past a deadline now (the tips)
    waiting: list[Tip]  # the first tips of the "to do" view
    waiting_total: int
    held: int = 0  # held tips (possible spam) in the team's scope, waiting for a look


def village_month(user: User, villages: list[Unit], *, size: int, now=None) -> VillageMonth:
    """ "My village this month": counters from `counts.figures` (their one reader), the
    overdue tips and the work waiting from the inbox's own queries."""
    now = now or utcnow()
    today = local_date(now)
    start = today.replace(day=1)
    total = counts.Figures()
    for village in villages:
        figures = counts.figures_for(village, start, today)
        total.received += figures.received
        total.settled += figures.settled
        total.in_progress += figures.in_progress
    overdue = db.session.scalar(
        select(func.count())
        .select_from(Tip)
        .join(TipUnit, TipUnit.id == Tip.unit_id)
        .where(
            reading_clause(user),
            or_(*(TipUnit.path.startswith(v.path, autoescape=True) for v in villages)),
            overdue_clause(now),
            Tip.held.is_(False),
        )
    )
    todo = inbox_page(user, InboxFilter(todo_by_default=True), size, now=now)
    work = cached_inbox_counts(user, now=now)
    return VillageMonth(
        start=start,
        end=today,
        received=total.received,
        in_progress=total.in_progress,
        settled=total.settled,
        overdue=overdue or 0,
        waiting=todo.tips,
        waiting_total=work.todo,
        held=work.held,
    )


# --- read and unread ------------------------------------------------------------------


def unread_count(user: User) -> int:
    """Open tips in scope this staff member has not opened since the tipster last acted."""
    reads = _read_for(user)
    query = (
        select(func.count())
        .select_from(Tip)
        .join(TipUnit, TipUnit.id == Tip.unit_id)
        .outerjoin(reads, reads.c.tip_id == Tip.id)
        .where(reading_clause(user), _unread(reads), Tip.held.is_(False))
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


# --- what the inbox's selects offer ---------------------------------------------------


@dataclass(frozen=True)
class Option:
    id: int
    code: str
    name: str
    name_en: str | None = None  # categories have one

    @property
    def label(self) -> str:
        """The name in the reader's language (the options are cached for every language)."""
        return localized_name(self.name, self.name_en)


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
        [Option(c.id, c.code, c.name, c.name_en) for c in active_categories()],
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
