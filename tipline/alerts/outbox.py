"""Writing the outbox: the workflow calls these in the transaction of the change.

A notification names a kind, a tip and a recipient; nothing of what the tip says. Which
staff receive it: those who may act on the tip (the permissions module decides) and want
that kind on at least one channel. The change's transaction writes one row for all of them
(`for_staff`) and reads nobody: a resident's submission pays for one INSERT, not for the
roles, accounts and preferences of everyone above the village. The worker
(tipline/alerts/worker.py) finds the recipients as it fans that row out into one
notification per person (the in-app alert), then each of those into deliveries, one per
channel and target.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select

from tipline.accounts.models import Role, User
from tipline.accounts.permissions import POLICE, TRIAGERS, acting_staff
from tipline.alerts import preferences
from tipline.alerts.channels import CHANNELS
from tipline.alerts.channels.base import (
    DEADLINE_NEAR,
    ESCALATED,
    FLOOD,
    NEW_TIP,
    RESIDENT_KINDS,
    STATUS_CHANGE,
    TEST,
    TIPSTER_REPLY,
    UNACKNOWLEDGED,
    URGENT_TIP,
)
from tipline.alerts.models import FAILED, PENDING, SENDING, Delivery, Notification
from tipline.alerts.preferences import IN_APP
from tipline.core.timeutil import to_minute, utcnow
from tipline.extensions import db
from tipline.tips.models import Tip

# The roles whose holders an alert of each kind goes to (among those who can act).
AUDIENCE = {
    NEW_TIP: TRIAGERS,
    URGENT_TIP: TRIAGERS,
    TIPSTER_REPLY: TRIAGERS,
    ESCALATED: POLICE,
    UNACKNOWLEDGED: POLICE,
    # A commune's flood (issue 21): its commune police decide what the held tips are.
    FLOOD: POLICE,
}
# A deadline near goes to whoever handles the tip: the village's leader (the commune
# police when there is none), or the commune police once the tip is theirs.
LEADERS = frozenset({Role.VILLAGE_LEADER})


def staff_recipients(tip: Tip, kind: str) -> list[User]:
    """Staff who can act on `tip` and want `kind` on some channel (in-app included).

    Nobody for a held tip (possible spam, tips/held.py), until it is released, but for the
    flood alarm it may carry: a flood must not become hundreds of alerts (and an alert
    queued before a tip was held, or by a scan, is dropped here at the fan-out).
    """
    if tip.held and kind != FLOOD:
        return []
    if kind == DEADLINE_NEAR:
        candidates = acting_staff(tip, LEADERS) or acting_staff(tip, POLICE)
    else:
        candidates = acting_staff(tip, AUDIENCE[kind])
    stored = preferences.load(candidates)
    channels = {
        IN_APP,
        *(
            name
            for name, channel in CHANNELS.items()
            if not getattr(channel, "residents_only", False) and channel.available()
        ),
    }
    return [
        user
        for user in candidates
        if any(preferences.for_user(user, name, stored).wants(kind) for name in channels)
    ]


# A tip is new once: its alert needs no look for an earlier one still waiting.
_ONCE_PER_TIP = frozenset({NEW_TIP, URGENT_TIP})


def notify_staff(tip: Tip, kind: str, *, at: datetime | None = None) -> Notification | None:
    """Queue `kind` about `tip` for every staff member who should hear of it.

    One row, resolved into its recipients by the worker's fan-out (`expand`). The same
    kind about the same tip, queued again before the worker runs (two replies in a row),
    is the one alert. Adds to the session without flushing, and reads without autoflush:
    the workflow's own flush turns a concurrent change of the tip into its 409, as for
    any move.
    """
    if kind not in _ONCE_PER_TIP:
        with db.session.no_autoflush:
            waiting = db.session.scalar(
                select(Notification.id).where(
                    Notification.tip_id == tip.id,
                    Notification.kind == kind,
                    Notification.for_staff.is_(True),
                    Notification.fanned_out_at.is_(None),
                )
            )
        if waiting is not None:
            return None
    notification = Notification(
        kind=kind, tip_id=tip.id, user_id=None, for_staff=True, created_at=at or utcnow()
    )
    _add([notification])
    return notification


def expand(notification: Notification, tip: Tip | None) -> list[Notification]:
    """The per-person notifications of a `for_staff` one, added to the session."""
    if tip is None:
        return []
    return _add(
        Notification(
            kind=notification.kind,
            tip_id=tip.id,
            user_id=user.id,
            created_at=notification.created_at,
        )
        for user in staff_recipients(tip, notification.kind)
    )


def notify_residents(tip: Tip, kind: str, *, at: datetime | None = None) -> Notification | None:
    """Queue a content-free alert for the tip's resident subscriptions (any channel).

    One waiting alert per tip is enough: a reply and a status change made before the
    worker runs say the same thing ("your tip has news").
    """
    if kind not in RESIDENT_KINDS:
        raise ValueError(kind)
    with db.session.no_autoflush:
        waiting = db.session.scalar(
            select(Notification).where(
                Notification.tip_id == tip.id,
                Notification.user_id.is_(None),
                Notification.for_staff.is_(False),
                Notification.fanned_out_at.is_(None),
            )
        )
    if waiting is not None:
        # A status change made while a reply waits: the waiting alert says both (an SMS
        # tipster's text then gives the new state and every staff word, tipline/sms/channel).
        if kind == STATUS_CHANGE:
            waiting.kind = STATUS_CHANGE
        return None
    # To the minute, like every time a tip's rows keep that a resident's side may see.
    minute = to_minute(at or utcnow())
    notification = Notification(kind=kind, tip_id=tip.id, user_id=None, created_at=minute)
    _add([notification])
    return notification


def notify_test(user: User) -> Notification:
    """ "Send me a test alert": to this account, on every channel it has."""
    notification = Notification(kind=TEST, tip_id=None, user_id=user.id, created_at=utcnow())
    _add([notification])
    return notification


def _add(notifications: Iterable[Notification]) -> list[Notification]:
    added = list(notifications)
    db.session.add_all(added)
    return added


def prune(days: int, *, now: datetime | None = None) -> int:
    """Delete alerts older than `days` (0: none) with their deliveries, except those
    still on their way (not fanned out, or a delivery waiting, sending or to retry);
    commits. Returns how many alerts went."""
    if days <= 0:
        return 0
    cutoff = (now or utcnow()) - timedelta(days=days)
    waiting = exists().where(
        Delivery.notification_id == Notification.id,
        Delivery.state.in_((PENDING, SENDING, FAILED)),
    )
    old = select(Notification.id).where(
        Notification.created_at < cutoff, Notification.fanned_out_at.is_not(None), ~waiting
    )
    ids = list(db.session.scalars(old))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        # Deliveries first: SQLite may run without its foreign keys' cascade.
        db.session.execute(
            delete(Delivery)
            .where(Delivery.notification_id.in_(chunk))
            .execution_options(synchronize_session=False)
        )
        db.session.execute(
            delete(Notification)
            .where(Notification.id.in_(chunk))
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return len(ids)
