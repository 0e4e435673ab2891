"""The SMS channel's tables: staff numbers for alerts, and tipsters' SMS updates for one tip.

A number is sealed at rest (tipline/core/sealed.py) beside a keyed hash to find it by
(a "stop" from that number, later); the clear number lives only in memory while a text
is sent. Neither table holds anything a tip says.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tipline.core.db import Base
from tipline.core.timeutil import to_minute, utcnow


class StaffSmsNumber(Base):
    """Where one staff account takes SMS alerts: used once checked with a code sent to it."""

    __tablename__ = "staff_sms_numbers"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    phone_sealed: Mapped[str] = mapped_column(Text)
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    # None until the code sent to the number came back: no alert goes to it before.
    verified_at: Mapped[datetime | None]
    # The one-time code waiting to be typed (its keyed hash), until when, tries so far.
    code_hash: Mapped[str | None] = mapped_column(String(64))
    code_expires_at: Mapped[datetime | None]
    code_tries: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TipSmsSubscription(Base):
    """A confidential or named tipster's wish for content-free SMS updates on one tip."""

    __tablename__ = "tip_sms_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), unique=True)
    phone_sealed: Mapped[str] = mapped_column(Text)
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=lambda: to_minute(utcnow()))
