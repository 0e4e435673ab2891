"""The in-app side of alerts: my alerts, what is unread, and the administrators' dead letters.

An alert about a tip counts as read once marked read, or once its recipient has opened
the tip after it was written (the inbox's own read marks, TipRead), so opening the tip
from anywhere clears it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import url_for
from sqlalchemy import and_, exists, func, or_, select, update

from tipline.accounts.models import User
from tipline.accounts.permissions import admin_units, within
from tipline.alerts.channels import label
from tipline.alerts.channels.base import FLOOD
from tipline.alerts.compose import held_view_path, kind_label, staff_title
from tipline.alerts.delivery import retry_dead
from tipline.alerts.models import DEAD, Delivery, Notification
from tipline.core import cache
from tipline.core.timeutil import utcnow
from tipline.extensions import db
from tipline.places.models import Unit
from tipline.tips.inbox import _inbox_version as inbox_version
from tipline.tips.models import Tip, TipRead

PAGE = 50


def _opened_since():
    return exists().where(
        TipRead.user_id == Notification.user_id,
        TipRead.tip_id == Notification.tip_id,
        TipRead.seen_at >= Notification.created_at,
    )


def _unread():
    return and_(Notification.read_at.is_(None), ~_opened_since())


def unread_count(user: User) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user.id, _unread())
    )


# What the count is read from: a notification written or marked read in this process, or
# a tip opened (its read mark), drops the kept count at once.
UNREAD_TABLES = (Notification.__tablename__, TipRead.__tablename__)


def cached_unread_count(user: User) -> int:
    """`unread_count` for the staff menu, kept per user like the inbox's counts.

    The key carries the inbox's version (the newest tip event, the user's last read),
    which the menu's unread badge reads once per request anyway: a new tip or a tip opened
    in another process is seen at once. An alert written by the worker (an escalation, a
    deadline) or marked read in another process shows within TIPLINE_INBOX_CACHE_SECONDS.
    """
    return cache.cached(
        ("unread-alerts", *inbox_version(user)),
        lambda: unread_count(user),
        tables=UNREAD_TABLES,
        ttl=cache.setting("TIPLINE_INBOX_CACHE_SECONDS"),
    )


@dataclass(frozen=True)
class AlertRow:
    id: int
    title: str
    at: datetime
    unread: bool
    tip_public_id: str | None
    deliveries: list[tuple[str, str]]  # (channel label, state)
    # Where the alert leads: the tip, or (a flood) the commune's held tips.
    url: str | None = None


def my_alerts(user: User, limit: int = PAGE) -> list[AlertRow]:
    """The account's latest alerts, unread first, newest first within each."""
    unread = _unread().label("unread")
    rows = db.session.execute(
        select(Notification, Tip.reference, Tip.public_id, unread)
        .outerjoin(Tip, Tip.id == Notification.tip_id)
        .where(Notification.user_id == user.id)
        .order_by(unread.desc(), Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    ).all()
    ids = [n.id for n, *_ in rows]
    states: dict[int, list[tuple[str, str]]] = {}
    if ids:
        for notification_id, channel, state in db.session.execute(
            select(Delivery.notification_id, Delivery.channel, Delivery.state)
            .where(Delivery.notification_id.in_(ids))
            .order_by(Delivery.id)
        ):
            states.setdefault(notification_id, []).append((label(channel), state))
    return [
        _row(n, reference, public_id, bool(is_unread), states.get(n.id, []))
        for n, reference, public_id, is_unread in rows
    ]


def _row(n: Notification, reference, public_id, unread: bool, deliveries) -> AlertRow:
    title, url = staff_title(n.kind, reference), None
    if public_id:
        url = url_for("staff.tip_detail", public_id=public_id)
    if n.kind == FLOOD and n.tip_id is not None:
        # A flood names its commune and leads to its held tips, not to the tip that set
        # it off (likely spam itself).
        tip = db.session.get(Tip, n.tip_id)
        commune = tip.unit.commune or tip.unit
        title, url = staff_title(FLOOD, None, commune=commune.name), held_view_path(commune)
    return AlertRow(
        id=n.id,
        title=title,
        at=n.created_at,
        unread=unread,
        tip_public_id=public_id,
        deliveries=deliveries,
        url=url,
    )


def mark_all_read(user: User) -> int:
    """Every alert of the account read now; the caller commits."""
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


# --- dead letters -----------------------------------------------------------------------


@dataclass(frozen=True)
class DeadRow:
    id: int
    channel: str
    kind: str
    attempts: int
    last_error: str | None
    created_at: datetime
    resident: bool


def _admin_scope(user: User):
    """Dead deliveries an administrator sees: those about tips in their units, and the
    test alerts (they name no tip and no person)."""
    units = admin_units(user)
    in_units = Notification.tip_id.in_(
        select(Tip.id).join(Unit, Unit.id == Tip.unit_id).where(within(units))
    )
    return or_(Notification.tip_id.is_(None), in_units)


def dead_letters(user: User, limit: int = 200) -> list[DeadRow]:
    rows = db.session.execute(
        select(Delivery, Notification.kind, Notification.user_id)
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(Delivery.state == DEAD, _admin_scope(user))
        .order_by(Delivery.id.desc())
        .limit(limit)
    ).all()
    return [
        DeadRow(
            id=d.id,
            channel=label(d.channel),
            kind=kind_label(kind),
            attempts=d.attempts,
            last_error=d.last_error,
            created_at=d.created_at,
            resident=user_id is None,
        )
        for d, kind, user_id in rows
    ]


def dead_letter_for(user: User, delivery_id: int) -> Delivery | None:
    return db.session.scalar(
        select(Delivery)
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(Delivery.id == delivery_id, Delivery.state == DEAD, _admin_scope(user))
    )


def retry(deliveries: list[Delivery]) -> int:
    """Send these dead deliveries again; the caller commits."""
    for delivery in deliveries:
        retry_dead(delivery)
    return len(deliveries)


def all_dead_letters(user: User) -> list[Delivery]:
    return list(
        db.session.scalars(
            select(Delivery)
            .join(Notification, Notification.id == Delivery.notification_id)
            .where(Delivery.state == DEAD, _admin_scope(user))
        )
    )
