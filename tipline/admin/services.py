"""Administration's reads and changes: accounts found, roles to give, the audit and identity
logs, villages imported, categories. The views parse input, call one of these, render.

Who may do what stays in `accounts.permissions`; the account changes themselves (and the
audit entries they write) in `accounts.services`.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from tipline.accounts.models import AuditAction, Role, RoleAssignment, User
from tipline.accounts.permissions import can_give, check_role_level, is_admin_over, within
from tipline.accounts.services import (
    AccountError,
    audit,
    audit_entries_query,
    manageable_users_query,
)
from tipline.core.errors import TiplineError
from tipline.extensions import db
from tipline.places.importer import ImportReport, VillagePlan, apply_villages
from tipline.places.models import Unit
from tipline.places.services import root_unit
from tipline.tips.models import Category, IdentityAccess, Priority, Tip

PAGE_SIZE = 50
MAX_PAGE = 10_000  # a huge page number would overflow the OFFSET


def bounded_page(page: int | None) -> int:
    """A page number within 1 … MAX_PAGE (anything else asked for becomes the nearest)."""
    return min(max(page or 1, 1), MAX_PAGE)


def _offset(page: int) -> int:
    return (bounded_page(page) - 1) * PAGE_SIZE


# --- accounts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class UsersPage:
    users: list[User]
    total: int
    page: int
    pages: int


def find_users(manager: User, search: str, page: int) -> UsersPage:
    """The accounts `manager` manages whose username or name contains `search`."""
    query = manageable_users_query(manager)
    if search:
        wanted = search.lower()
        query = query.where(
            or_(
                func.lower(User.username).contains(wanted, autoescape=True),
                func.lower(User.full_name).contains(wanted, autoescape=True),
            )
        )
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    found = db.session.scalars(query.limit(PAGE_SIZE).offset(_offset(page))).all()
    return UsersPage(list(found), total, bounded_page(page), max(1, -(-total // PAGE_SIZE)))


def role_to_give(manager: User, role_value: str, unit_code: str) -> tuple[Role, Unit]:
    """The role and unit chosen in a form, if `manager` may give that role there.

    RoleLevelError says at which level the role belongs; AccountError that it is out of reach.
    """
    role = Role(role_value)
    unit = db.session.scalar(select(Unit).where(Unit.code == unit_code))
    if unit is not None:
        check_role_level(role, unit)
    if unit is None or not can_give(manager, role, unit):
        raise AccountError(_l("Việc này nằm ngoài phạm vi quản lý của bạn."))
    return role, unit


def held_role(target: User, role_value: str, unit_code: str) -> RoleAssignment | None:
    """One of `target`'s roles, named by role and unit code."""
    return next(
        (a for a in target.roles if a.role.value == role_value and a.unit.code == unit_code),
        None,
    )


# --- logs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogPage:
    """One page of a log, newest first, and whether an older page follows (no full count)."""

    rows: list
    page: int
    more: bool


def _log_page(rows: list, page: int) -> LogPage:
    return LogPage(rows[:PAGE_SIZE], bounded_page(page), len(rows) > PAGE_SIZE)


def audit_page(admin: User, page: int) -> LogPage:
    """The audit entries about units in `admin`'s subtrees."""
    query = audit_entries_query(admin).limit(PAGE_SIZE + 1).offset(_offset(page))
    return _log_page(list(db.session.scalars(query)), page)


def identity_log_page(communes: list[Unit], page: int) -> LogPage:
    """Every view, print and export of a tipster's identity in these communes: (access, tip)."""
    query = (
        select(IdentityAccess, Tip)
        .join(Tip, Tip.id == IdentityAccess.tip_id)
        .join(Unit, Unit.id == Tip.unit_id)
        .where(within(communes))
        .order_by(IdentityAccess.at.desc(), IdentityAccess.id.desc())
        .limit(PAGE_SIZE + 1)
        .offset(_offset(page))
    )
    return _log_page(list(db.session.execute(query).all()), page)


# --- villages ------------------------------------------------------------------------------


def import_villages(actor: User, commune: Unit, plan: VillagePlan) -> ImportReport:
    """Apply a checked villages plan and write it in the audit log."""
    report = apply_villages(plan)
    audit(
        actor,
        AuditAction.VILLAGES_IMPORTED,
        commune,
        detail=f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}",
    )
    return report


# --- categories ----------------------------------------------------------------------------


class CodeTaken(TiplineError):
    status_code = 422


@dataclass(frozen=True)
class CategoryFields:
    """What an administrator sets on a category (the code is set once, at creation)."""

    name: str
    name_en: str | None
    sort_order: int
    default_priority: Priority | None
    response_days: int | None
    settle_days: int | None


def manages_categories(user: User) -> bool:
    """Categories are the deployment's: administrators of its root unit manage them."""
    root = root_unit()
    return root is not None and is_admin_over(user, root)


def all_categories() -> list[Category]:
    """Every category, those in use first, in their order."""
    return list(
        db.session.scalars(
            select(Category).order_by(Category.active.desc(), Category.sort_order, Category.name)
        )
    )


def category_named(code: str) -> Category | None:
    """A category by its code, in use or not."""
    return db.session.scalar(select(Category).where(Category.code == code))


def add_category(code: str, fields: CategoryFields) -> Category:
    if category_named(code) is not None:
        raise CodeTaken(_l("Mã này đã có."))
    category = Category(code=code)
    save_category(category, fields)
    db.session.add(category)
    return category


def save_category(category: Category, fields: CategoryFields) -> None:
    category.name = fields.name
    category.name_en = fields.name_en
    category.sort_order = fields.sort_order
    category.default_priority = fields.default_priority
    category.response_days = fields.response_days
    category.settle_days = fields.settle_days


def toggle_category(category: Category) -> None:
    """In use or set aside (a category is never deleted: tips keep it)."""
    category.active = not category.active
