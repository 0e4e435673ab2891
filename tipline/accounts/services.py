"""Account operations: authenticate, create staff, give roles."""

from __future__ import annotations

from contextlib import suppress
from functools import cache

from argon2.exceptions import VerificationError
from sqlalchemy import select

from tipline.accounts.models import Role, RoleAssignment, User, password_hasher
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
    for assignment in user.roles:
        if assignment.role == role and assignment.unit_id == unit.id:
            return assignment
    assignment = RoleAssignment(user=user, role=role, unit=unit)
    db.session.add(assignment)
    db.session.flush()
    return assignment
