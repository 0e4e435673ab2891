"""Time: stored as naive UTC, counted in Asia/Ho_Chi_Minh days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def utcnow() -> datetime:
    """Now, as naive UTC (what every DateTime column holds)."""
    return datetime.now(UTC).replace(tzinfo=None)


def to_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def local_date(moment: datetime) -> date:
    """The Vietnamese calendar day of a naive-UTC moment."""
    return moment.replace(tzinfo=UTC).astimezone(LOCAL_TZ).date()


def local_today() -> date:
    return local_date(utcnow())


def local_to_utc(day: date, at: time | None = None) -> datetime:
    """A local day (and time) as naive UTC."""
    local = datetime.combine(day, at or time(0, 0), tzinfo=LOCAL_TZ)
    return local.astimezone(UTC).replace(tzinfo=None)


def to_local(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC).astimezone(LOCAL_TZ)


def months_back(end: date, months: int) -> date:
    """The first day of the month `months - 1` months before `end`'s month."""
    index = end.year * 12 + (end.month - 1) - (months - 1)
    return date(index // 12, index % 12 + 1, 1)
