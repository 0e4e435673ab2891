"""What each account wants on each channel: kinds, quiet hours, the category on a lock screen.

An account without a row for a channel has the defaults of its roles: village leaders
and commune police get every new tip and every reply (a commune gets about one tip a
day); other staff get urgent tips, replies and escalations.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from tipline.accounts.models import User
from tipline.accounts.permissions import ALERT_EVERYTHING_ROLES, holds_any
from tipline.alerts.channels.base import (
    DEADLINE_NEAR,
    ESCALATED,
    FLOOD,
    NEW_TIP,
    TEST,
    TIPSTER_REPLY,
    UNACKNOWLEDGED,
    URGENT_TIP,
)
from tipline.alerts.models import AlertPreference
from tipline.core.timeutil import LOCAL_TZ
from tipline.extensions import db

IN_APP = "inapp"
# The kinds that go whatever the preferences say: the person is the one to act, now. A
# flood (issue 21) too: only its commune police can clear the held tips, and the alarm
# goes once an hour at most (TIPLINE_FLOOD_PER_HOUR).
ALWAYS = frozenset({DEADLINE_NEAR, UNACKNOWLEDGED, FLOOD, TEST})
# Kinds that ignore quiet hours. Not a flood: its tips are held, not lost, and kept out
# of the inbox, so honest tips still reach the village teams; nothing in it needs a
# person woken at night (an emergency is 113, not a tip). It waits for the morning.
URGENT_KINDS = frozenset({URGENT_TIP, UNACKNOWLEDGED, TEST})


@dataclass(frozen=True)
class Preferences:
    new_tips: bool
    urgent_tips: bool
    tipster_replies: bool
    escalations: bool
    quiet_from: time | None = None
    quiet_to: time | None = None
    show_category: bool = False

    def wants(self, kind: str) -> bool:
        """Whether this kind of alert goes out on the channel."""
        if kind in ALWAYS:
            return True
        if kind == NEW_TIP:
            return self.new_tips
        if kind == URGENT_TIP:
            return self.new_tips or self.urgent_tips
        if kind == TIPSTER_REPLY:
            return self.tipster_replies
        if kind == ESCALATED:
            return self.escalations
        return False

    @property
    def quiet_hours(self) -> bool:
        return (
            self.quiet_from is not None
            and self.quiet_to is not None
            and self.quiet_from != self.quiet_to
        )

    def quiet_until(self, now: datetime) -> datetime | None:
        """When the quiet hours around naive-UTC `now` end (None: not quiet now)."""
        if not self.quiet_hours:
            return None
        local = now.replace(tzinfo=UTC).astimezone(LOCAL_TZ)
        clock = local.time()
        start, end = self.quiet_from, self.quiet_to
        # 13:00-15:00 within a day; 22:00-06:00 across midnight.
        quiet = start <= clock < end if start < end else clock >= start or clock < end
        if not quiet:
            return None
        until = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
        if until <= local:
            until += timedelta(days=1)
        return until.astimezone(UTC).replace(tzinfo=None)


# Channels that cost money and reach any phone (SMS): by default urgent tips and
# escalations only, whatever the roles; a person may ask for more.
URGENT_ONLY_CHANNELS = frozenset({"sms"})


def defaults(user: User, channel: str | None = None) -> Preferences:
    if channel in URGENT_ONLY_CHANNELS:
        return Preferences(
            new_tips=False, urgent_tips=True, tipster_replies=False, escalations=True
        )
    everything = holds_any(user, ALERT_EVERYTHING_ROLES)
    return Preferences(
        new_tips=everything, urgent_tips=True, tipster_replies=True, escalations=True
    )


def of_row(row: AlertPreference) -> Preferences:
    return Preferences(
        new_tips=row.new_tips,
        urgent_tips=row.urgent_tips,
        tipster_replies=row.tipster_replies,
        escalations=row.escalations,
        quiet_from=row.quiet_from,
        quiet_to=row.quiet_to,
        show_category=row.show_category,
    )


def load(users: Iterable[User]) -> dict[tuple[int, str], Preferences]:
    """The stored preferences of these accounts, by (user id, channel): one query."""
    return load_ids({user.id for user in users})


def load_ids(ids: Iterable[int]) -> dict[tuple[int, str], Preferences]:
    ids = list(ids)
    if not ids:
        return {}
    rows = db.session.scalars(select(AlertPreference).where(AlertPreference.user_id.in_(ids)))
    return {(row.user_id, row.channel): of_row(row) for row in rows}


def for_user(user: User, channel: str, stored: dict | None = None) -> Preferences:
    """One account's preferences on one channel: as stored; for a channel never set, its
    own defaults (SMS), else as set for the app (in-app), else its roles' defaults."""
    if stored is None:
        stored = load([user])
    found = stored.get((user.id, channel))
    if found is not None:
        return found
    if channel in URGENT_ONLY_CHANNELS:
        return defaults(user, channel)
    return stored.get((user.id, IN_APP)) or defaults(user, channel)


def shows_category(stored: dict, user_id: int, channel: str) -> bool:
    """ "Show the category on the lock screen" (off unless the person turned it on)."""
    found = stored.get((user_id, channel)) or stored.get((user_id, IN_APP))
    return found is not None and found.show_category


def save(user: User, channel: str, preferences: Preferences) -> None:
    """Store one account's preferences on one channel; the caller commits."""
    row = db.session.get(AlertPreference, (user.id, channel))
    if row is None:
        row = AlertPreference(user_id=user.id, channel=channel)
        db.session.add(row)
    quiet = preferences if preferences.quiet_hours else replace(preferences, quiet_from=None)
    row.new_tips = preferences.new_tips
    row.urgent_tips = preferences.urgent_tips
    row.tipster_replies = preferences.tipster_replies
    row.escalations = preferences.escalations
    row.quiet_from = quiet.quiet_from
    row.quiet_to = quiet.quiet_to if quiet.quiet_from is not None else None
    row.show_category = preferences.show_category
