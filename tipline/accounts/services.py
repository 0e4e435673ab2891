"""Account operations: authenticate, create staff, give roles."""

from __future__ import annotations

from contextlib import suppress
from functools import cache

from argon2.exceptions import VerificationError
from flask_babel import lazy_gettext as _l
from sqlalchemy import false, select

from tipline.accounts.models import (
    AuditAction,
    AuditEntry,
    Role,
    RoleAssignment,
    User,
    password_hasher,
)
from tipline.accounts.passwords import password_problems, temporary_password
from tipline.accounts.permissions import (
    admin_units,
    can_give,
    can_manage_user,
    check_role_level,
    managed_units,
    within,
)
from tipline.core.errors import TiplineError
from tipline.core.text import row_id
from tipline.extensions import db
from tipline.places.models import Unit


@cache
def _dummy_hash(hasher) -> str:
    """Verified against when the username is unknown, so both paths cost the same."""
    return hasher.hash("tipline-timing-equaliser")


def normalize_username(username: str) -> str:
    return username.strip().lower()


def user_by_username(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == normalize_username(username)))


def authenticate(username: str, password: str) -> User | None:
    user = user_by_username(username)
    if user is None:
        with suppress(VerificationError):  # only the time spent matters here
            hasher = password_hasher()
            hasher.verify(_dummy_hash(hasher), password)
        return None
    if not user.active or not user.check_password(password):
        return None
    return user


def create_user(username: str, full_name: str, password: str) -> User:
    user = User(username=normalize_username(username), full_name=full_name)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def grant(user: User, role: Role, unit: Unit) -> RoleAssignment:
    """Give `role` in `unit`: every path that gives a role comes here (web, CLI, demo).

    A role belongs to one level of the tree (`permissions.ROLE_LEVELS`); any other is
    refused, so a "commune police" at province level cannot exist.
    """
    check_role_level(role, unit)
    for assignment in user.roles:
        if assignment.role == role and assignment.unit_id == unit.id:
            return assignment
    assignment = RoleAssignment(user=user, role=role, unit=unit)
    db.session.add(assignment)
    db.session.flush()
    return assignment


def load_session_user(session_id: str) -> User | None:
    """The user of a session cookie's id ("12.3"), if that session has not been ended."""
    user_id, _, version = session_id.partition(".")
    row = row_id(user_id)
    if row is None or not (version.isascii() and version.isdigit()):
        return None
    user = db.session.get(User, row)
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user


# --- managing accounts in one's scope -------------------------------------------------------


class AccountError(TiplineError):
    """An account change that the rules refuse; the message says why."""

    def __init__(self, message, status_code: int = 403) -> None:
        super().__init__(message)
        self.status_code = status_code


def manageable_users_query(actor: User):
    """Users holding at least one role inside the actor's managed subtrees."""
    units = managed_units(actor)
    if not units:
        return select(User).where(false())
    inside = within(root for root, _ in units)
    holders = select(RoleAssignment.user_id).join(Unit).where(inside)
    return select(User).where(User.id.in_(holders), User.id != actor.id).order_by(User.username)


def audit(
    actor: User | None,
    action: AuditAction,
    unit: Unit,
    *,
    target: User | None = None,
    detail: str = "",
) -> AuditEntry:
    entry = AuditEntry(
        actor=actor, action=action, unit=unit, target_user=target, detail=detail[:300]
    )
    db.session.add(entry)
    return entry


def _require(allowed: bool) -> None:
    if not allowed:
        raise AccountError(_l("Việc này nằm ngoài phạm vi quản lý của bạn."))


def home_unit(user: User) -> Unit:
    """Where an entry about a user belongs in the log: the unit of their first role."""
    return min(user.roles, key=lambda a: a.id).unit


def add_staff(
    actor: User, *, username: str, full_name: str, role: Role, unit: Unit
) -> tuple[User, str]:
    """Create an account with one role in the actor's scope; returns it and its first password.

    The first password is temporary: it must be changed at the first sign-in.
    """
    _require(can_give(actor, role, unit))
    if user_by_username(username) is not None:
        raise AccountError(_l("Tên đăng nhập này đã có người dùng."), status_code=409)
    password = temporary_password()
    user = create_user(username, full_name.strip(), password)
    user.must_change_password = True
    grant(user, role, unit)
    audit(actor, AuditAction.USER_CREATED, unit, target=user, detail=f"{role.value}")
    db.session.flush()
    return user, password


def give_role(actor: User, user: User, role: Role, unit: Unit) -> RoleAssignment:
    _require(can_manage_user(actor, user) and can_give(actor, role, unit))
    assignment = grant(user, role, unit)
    audit(actor, AuditAction.ROLE_GRANTED, unit, target=user, detail=role.value)
    db.session.flush()
    return assignment


def take_role(actor: User, assignment: RoleAssignment) -> None:
    user = assignment.user
    _require(can_manage_user(actor, user))
    if len(user.roles) == 1:
        raise AccountError(
            _l("Đây là vai trò cuối cùng của tài khoản. Hãy khóa tài khoản thay vì thu hồi."),
            status_code=409,
        )
    unit, role = assignment.unit, assignment.role
    user.roles.remove(assignment)
    audit(actor, AuditAction.ROLE_REVOKED, unit, target=user, detail=role.value)
    db.session.flush()


def set_active(actor: User, user: User, active: bool) -> None:
    _require(can_manage_user(actor, user))
    if user.active == active:
        return
    user.active = active
    if not active:
        user.end_sessions()
    action = AuditAction.USER_REACTIVATED if active else AuditAction.USER_DEACTIVATED
    audit(actor, action, home_unit(user), target=user)
    db.session.flush()


def reset_password(actor: User, user: User) -> str:
    """Give the user a temporary password (shown once to the actor) and end their sessions."""
    _require(can_manage_user(actor, user))
    password = temporary_password()
    user.set_password(password)
    user.must_change_password = True
    user.end_sessions()
    audit(actor, AuditAction.PASSWORD_RESET, home_unit(user), target=user)
    db.session.flush()
    return password


def change_password(user: User, current: str, new: str) -> list[str]:
    """The user's own change; returns the problems, empty when the password was changed."""
    if not user.check_password(current):
        return [str(_l("Mật khẩu hiện tại không đúng."))]
    if new == current:
        return [str(_l("Mật khẩu mới phải khác mật khẩu hiện tại."))]
    problems = password_problems(new, username=user.username, full_name=user.full_name)
    if problems:
        return problems
    user.set_password(new)
    user.must_change_password = False
    user.end_sessions()
    if user.roles:
        audit(user, AuditAction.PASSWORD_CHANGED, home_unit(user), target=user)
    db.session.flush()
    return []


def audit_entries_query(actor: User):
    """The audit log an administrator may read: entries about units in their subtrees."""
    roots = admin_units(actor)
    if not roots:
        return select(AuditEntry).where(false())
    inside = within(roots)
    return (
        select(AuditEntry)
        .join(Unit, Unit.id == AuditEntry.unit_id)
        .where(inside)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    )
