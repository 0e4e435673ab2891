"""The in-app channel: the notification row itself is the alert (the alerts page lists it).

It has no targets, so the worker writes no delivery for it; the unread count in the
staff menu (`unread_alerts()`) reads the notifications directly.
"""

from __future__ import annotations

from typing import ClassVar

from tipline.alerts.channels import register
from tipline.alerts.channels.base import Alert


class InAppChannel:
    name: ClassVar[str] = "inapp"
    idempotent: ClassVar[bool] = True

    def available(self) -> bool:
        return True

    def staff_targets(self, user_id: int) -> list[str]:
        return []

    def resident_targets(self, tip_id: int) -> list[str]:
        return []

    def send(self, target: str, alert: Alert, *, timeout: float) -> None:
        return None

    def forget(self, target: str) -> None:
        return None


register(InAppChannel())
