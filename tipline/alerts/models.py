"""The alerts' tables: notifications (the outbox), their deliveries, preferences, schedules.

A notification is written in the same transaction as the change it reports: it says
which tip, why (its kind) and to whom (a staff account, or, with no account, the tip's
resident subscriptions). The worker fans it out into one delivery per channel and target,
each with its own state, attempts and last error. Nothing here holds what a tip says.
"""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Time, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tipline.accounts.models import User
from tipline.core.db import Base
from tipline.core.timeutil import utcnow

# Delivery states. "failed" waits for its next attempt; "dead" gave up (the admin page).
PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
DEAD = "dead"
DELIVERY_STATES = (PENDING, SENDING, SENT, FAILED, DEAD)


class Notification(Base):
    """One alert to one recipient: a staff account, or (user_id None) a tip's residents.

    Or, with `for_staff`, an alert for the staff who can act on the tip, whoever they are
    when the worker fans it out: it becomes one notification per person then. A resident's
    submission or reply writes this one row, so its transaction reads no staff at all.
    """

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))  # channels.base: NEW_TIP, URGENT_TIP, …
    tip_id: Mapped[int | None] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    for_staff: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set once the worker has written its deliveries (None: waiting for the fan-out).
    fanned_out_at: Mapped[datetime | None]
    # The in-app channel: the alerts page marks it read.
    read_at: Mapped[datetime | None]

    user: Mapped[User | None] = relationship()
    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="notification", cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (
        # An SMS reply (tipline/sms/) may concern no tip yet ("which commune?").
        CheckConstraint(
            "user_id IS NOT NULL OR tip_id IS NOT NULL OR kind = 'sms_text'", name="recipient"
        ),
        Index("ix_notifications_user_id_read_at", "user_id", "read_at"),
        Index("ix_notifications_fanned_out_at", "fanned_out_at"),
        Index("ix_notifications_tip_id_kind", "tip_id", "kind"),
    )


class Delivery(Base):
    """One notification on one channel to one target, with its own attempts."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(20))
    # Opaque to everyone but the channel (a device's row id, an account id): never an
    # address or a number itself.
    target: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # While "sending": the worker that claimed it holds it until then; later, another
    # worker takes it over (the first one died mid-send).
    lease_until: Mapped[datetime | None]
    # The channel's words or an exception's class name: never personal data.
    last_error: Mapped[str | None] = mapped_column(String(200))
    # Sends of an alert that may have gone out already (a non-idempotent channel, after a
    # worker died mid-send).
    repeats: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    notification: Mapped[Notification] = relationship(back_populates="deliveries")

    __table_args__ = (
        CheckConstraint(
            "state IN ('pending', 'sending', 'sent', 'failed', 'dead')", name="delivery_state"
        ),
        Index("ix_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
    )


class AlertPreference(Base):
    """What one account wants on one channel (no row: the defaults of its roles)."""

    __tablename__ = "alert_preferences"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    new_tips: Mapped[bool] = mapped_column(default=False)  # every new tip where I can act
    urgent_tips: Mapped[bool] = mapped_column(default=True)  # urgent ones only
    tipster_replies: Mapped[bool] = mapped_column(default=True)
    escalations: Mapped[bool] = mapped_column(default=True)  # escalations to me
    # Quiet hours, local time (both set: on); urgent alerts ignore them.
    quiet_from: Mapped[time | None] = mapped_column(Time)
    quiet_to: Mapped[time | None] = mapped_column(Time)
    # A lock screen shows the category to anyone holding the phone: off unless asked.
    show_category: Mapped[bool] = mapped_column(default=False)


class StaffEmail(Base):
    """The address where a staff member takes e-mail alerts (none: no e-mail channel)."""

    __tablename__ = "staff_emails"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    email: Mapped[str] = mapped_column(String(254))

    user: Mapped[User] = relationship()


class AlertMark(Base):
    """An alert that goes once per tip (unacknowledged urgent tip, deadline near) went."""

    __tablename__ = "alert_marks"

    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class JobRun(Base):
    """A periodic job's schedule: one worker claims a due run with a lease, all see it."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    last_result: Mapped[str | None] = mapped_column(String(200))
