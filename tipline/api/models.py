"""Partner API keys, staff API tokens, and the log of every use of either.

Only a hash of each secret is kept: the secret is shown once, when it is made. A
credential reads "<kind>_<prefix>_<secret>"; the prefix finds the row, the hash of
the whole credential proves it. The use log names the key or token, the time, the
method, the endpoint, the answer and the tip: never an IP address or a user agent.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tipline.accounts.models import User
from tipline.core.db import Base
from tipline.core.timeutil import utcnow
from tipline.places.models import Unit


class PartnerKey(Base):
    """A province or commune system (smart-city app, hotline) that hands tips to Tipline."""

    __tablename__ = "partner_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    # Tips it sends go to this subtree; it reads more than the public fields only here.
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    # Permissions: send tips; read description, place and coordinates of tips in scope;
    # send tips with the resident's name and phone (they are then confidential).
    may_submit: Mapped[bool] = mapped_column(default=True)
    may_read: Mapped[bool] = mapped_column(default=False)
    may_name: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    unit: Mapped[Unit] = relationship(lazy="joined")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    revoked_by: Mapped[User | None] = relationship(foreign_keys=[revoked_by_id])

    def __repr__(self) -> str:
        return f"<PartnerKey {self.prefix} {self.name}>"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class StaffToken(Base):
    """A bearer token of a staff app, bound to the session version of its user."""

    __tablename__ = "staff_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    # A password change, reset or deactivation raises the user's session version: the
    # token dies with the web sessions.
    session_version: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class ApiUse(Base):
    """One request made with a partner key or a staff token. Never edited or deleted."""

    __tablename__ = "api_uses"
    __table_args__ = (
        CheckConstraint(
            "(partner_key_id IS NULL) <> (staff_token_id IS NULL)", name="one_credential"
        ),
        Index("ix_api_uses_key_at", "partner_key_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    partner_key_id: Mapped[int | None] = mapped_column(ForeignKey("partner_keys.id"))
    staff_token_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_tokens.id", ondelete="CASCADE"), index=True
    )
    method: Mapped[str] = mapped_column(String(8))
    endpoint: Mapped[str] = mapped_column(String(80))
    status: Mapped[int]
    tip_reference: Mapped[str | None] = mapped_column(String(16))

    partner_key: Mapped[PartnerKey | None] = relationship()
    staff_token: Mapped[StaffToken | None] = relationship()
