"""Staff users and the roles they hold in administrative units."""

from __future__ import annotations

from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint, event
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


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Part of the id in the session cookie: raising it ends every session of the user
    # (logout, password reset, deactivation), which a signed cookie alone cannot do.
    session_version: Mapped[int] = mapped_column(default=1)
    # Set by a password reset: the next login must choose a new password first.
    must_change_password: Mapped[bool] = mapped_column(default=False)
    # Base32 TOTP secret once two-factor sign-in is confirmed; None without it.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    # The last TOTP time step accepted: a code is good once, on every sign-in path.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)

    roles: Mapped[list[RoleAssignment]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    def __repr__(self) -> str:
        return f"<User {self.username}>"

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        """The session's user id: the row id and the session version, "12.3"."""
        return f"{self.id}.{self.session_version}"

    def end_sessions(self) -> None:
        """Every session cookie issued so far stops working at its next request."""
        self.session_version = (self.session_version or 1) + 1

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


class RecoveryCode(Base):
    """One-time codes that replace the authenticator app once; kept only as hashes."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None]


class AuditAction(LabelledEnum):
    USER_CREATED = "user_created"
    ROLE_GRANTED = "role_granted"
    ROLE_REVOKED = "role_revoked"
    USER_DEACTIVATED = "user_deactivated"
    USER_REACTIVATED = "user_reactivated"
    PASSWORD_RESET = "password_reset"  # an action name  # noqa: S105  # nosec B105
    PASSWORD_CHANGED = "password_changed"  # an action name  # noqa: S105  # nosec B105
    TWO_FACTOR_ENABLED = "two_factor_enabled"
    TWO_FACTOR_DISABLED = "two_factor_disabled"
    VILLAGES_IMPORTED = "villages_imported"
    UNIT_RETIRED = "unit_retired"
    API_KEY_CREATED = "api_key_created"
    API_KEY_REVOKED = "api_key_revoked"

    @classmethod
    def _labels(cls) -> dict:
        return {
            cls.USER_CREATED: _l("Tạo tài khoản"),
            cls.ROLE_GRANTED: _l("Giao vai trò"),
            cls.ROLE_REVOKED: _l("Thu hồi vai trò"),
            cls.USER_DEACTIVATED: _l("Khóa tài khoản"),
            cls.USER_REACTIVATED: _l("Mở khóa tài khoản"),
            cls.PASSWORD_RESET: _l("Đặt lại mật khẩu"),
            cls.PASSWORD_CHANGED: _l("Đổi mật khẩu"),
            cls.TWO_FACTOR_ENABLED: _l("Bật xác thực hai bước"),
            cls.TWO_FACTOR_DISABLED: _l("Tắt xác thực hai bước"),
            cls.VILLAGES_IMPORTED: _l("Nhập danh sách thôn"),
            cls.UNIT_RETIRED: _l("Sáp nhập đơn vị"),
            cls.API_KEY_CREATED: _l("Tạo khóa API cho đối tác"),
            cls.API_KEY_REVOKED: _l("Thu hồi khóa API của đối tác"),
        }


class AuditEntry(Base):
    """An administrative action: who, what, when, in which unit. Never edited or deleted."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[AuditAction] = mapped_column(enum_column(AuditAction, "audit_action"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    target_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    detail: Mapped[str] = mapped_column(String(300), default="")

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    target_user: Mapped[User | None] = relationship(foreign_keys=[target_user_id])
    unit: Mapped[Unit] = relationship()


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _append_only(_mapper, _connection, entry: AuditEntry) -> None:
    raise RuntimeError("the audit log is append-only")
