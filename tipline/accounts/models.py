"""Staff users and the roles they hold in administrative units."""

from __future__ import annotations

from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tipline.core.db import Base
from tipline.core.enums import LabelledEnum, enum_column
from tipline.core.timeutil import utcnow
from tipline.places.models import Unit

_hasher = PasswordHasher()


def password_hasher() -> PasswordHasher:
    return _hasher


class Role(LabelledEnum):
    TEAM_MEMBER = "team_member"
    VILLAGE_LEADER = "village_leader"
    COMMUNE_POLICE = "commune_police"
    COMMUNE_COMMITTEE = "commune_committee"
    OFFICER = "officer"
    ADMIN = "admin"

    @classmethod
    def _labels(cls) -> dict:
        return {
            cls.TEAM_MEMBER: _l("Tổ viên tổ bảo vệ ANTT"),
            cls.VILLAGE_LEADER: _l("Tổ trưởng tổ bảo vệ ANTT"),
            cls.COMMUNE_POLICE: _l("Công an xã"),
            cls.COMMUNE_COMMITTEE: _l("Ban chỉ đạo ANTT xã"),
            cls.OFFICER: _l("Công an huyện / tỉnh"),
            cls.ADMIN: _l("Quản trị"),
        }


VILLAGE_TEAM = frozenset({Role.TEAM_MEMBER, Role.VILLAGE_LEADER})
# Roles that may read tips in their subtree (administrators manage units and accounts only).
TIP_READERS = frozenset(
    {
        Role.TEAM_MEMBER,
        Role.VILLAGE_LEADER,
        Role.COMMUNE_POLICE,
        Role.COMMUNE_COMMITTEE,
        Role.OFFICER,
    }
)


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    roles: Mapped[list[RoleAssignment]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    def __repr__(self) -> str:
        return f"<User {self.username}>"

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def set_password(self, password: str) -> None:
        self.password_hash = password_hasher().hash(password)

    def check_password(self, password: str) -> bool:
        try:
            password_hasher().verify(self.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        if password_hasher().check_needs_rehash(self.password_hash):
            self.set_password(password)
        return True

    def roles_over(self, unit: Unit) -> set[Role]:
        """The roles this user holds on `unit` or on one of its ancestors."""
        return {a.role for a in self.roles if a.unit.contains(unit)}


class RoleAssignment(Base):
    __tablename__ = "role_assignments"
    __table_args__ = (UniqueConstraint("user_id", "unit_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))

    user: Mapped[User] = relationship(back_populates="roles")
    unit: Mapped[Unit] = relationship(lazy="joined")
