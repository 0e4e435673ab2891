"""What a channel is: one module per way an alert leaves the app.

A channel module (tipline/alerts/channels/<name>.py) defines one object that satisfies
:class:`Channel` and registers it in `tipline.alerts.channels.CHANNELS`. A further channel
(Zalo ZNS, say) is one more module: nothing else in the app names a channel.

The worker asks a channel for the targets of a recipient (opaque strings it alone
understands: a device's row id, an e-mail address's owner), then calls `send` once per
delivery. `send` raises :class:`DeliveryError` when the far end did not take the alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

# Kinds of alert (a notification's `kind`).
NEW_TIP = "new_tip"
URGENT_TIP = "urgent_tip"
TIPSTER_REPLY = "tipster_reply"
ESCALATED = "escalated"
DEADLINE_NEAR = "deadline_near"
UNACKNOWLEDGED = "unacknowledged"  # an urgent tip nobody in the village team opened in time
STAFF_REPLY = "staff_reply"  # staff wrote to the tipster (resident side)
STATUS_CHANGE = "status_change"  # the tip's public state changed (resident side)
TEST = "test"  # "send me a test alert"
# A commune got more than TIPLINE_FLOOD_PER_HOUR tips in an hour (its commune police).
FLOOD = "flood"

STAFF_KINDS = (
    NEW_TIP,
    URGENT_TIP,
    TIPSTER_REPLY,
    ESCALATED,
    DEADLINE_NEAR,
    UNACKNOWLEDGED,
    FLOOD,
    TEST,
)
RESIDENT_KINDS = (STAFF_REPLY, STATUS_CHANGE)


class DeliveryError(Exception):
    """The far end did not take the alert.

    retry: trying again later may help (timeouts, 429, 5xx, a gateway offline).
    gone: the target no longer exists (Web Push 404/410): the worker deletes it.
    retry_after: seconds the far end asked us to wait, if it said.
    maybe_sent: the request may have reached the far end (no answer in time after it left).
    """

    def __init__(
        self,
        message: str,
        *,
        retry: bool = True,
        gone: bool = False,
        retry_after: float | None = None,
        maybe_sent: bool = False,
    ) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent
        self.retry = retry and not gone
        self.gone = gone
        self.retry_after = retry_after


@dataclass(frozen=True)
class Alert:
    """What a channel is asked to deliver: content-free by construction.

    Never the description, the place, a name or a phone (DOMAIN.md, Privacy). For staff:
    the reference and urgency, the category only where the person turned it on. For a
    resident: "Tin báo của bạn có cập nhật mới" and the link to /tra-cuu.
    """

    kind: str
    title: str  # already translated, one line
    body: str  # already translated, short
    url: str  # absolute link: the staff tip page, or /tra-cuu for a resident
    urgent: bool
    topic: str  # collapses repeats on the device (Web Push `Topic`: ≤ 32 URL-safe chars)
    key: str  # idempotency key, one per delivery: a channel that has keys sends it
    reference: str | None = None  # the tip's TL-XXXX-XXXX (staff alerts only)


class Channel(Protocol):
    """One way an alert leaves the app."""

    # "inapp", "email", "webpush", "sms", …: the name in settings, preferences and rows.
    name: ClassVar[str]
    # True when the far end drops a second send with the same key: a repeat after a
    # crash is then harmless. False: a repeat is possible, and the worker counts it.
    idempotent: ClassVar[bool]

    def available(self) -> bool:
        """Configured on this deployment (an SMTP host, a VAPID key, an SMS driver)."""
        ...

    def staff_targets(self, user_id: int) -> list[str]:
        """Where this staff account receives alerts on this channel (may be several)."""
        ...

    def resident_targets(self, tip_id: int) -> list[str]:
        """The resident subscriptions of one tip on this channel (none for most)."""
        ...

    def send(self, target: str, alert: Alert, *, timeout: float) -> None:
        """Deliver now, within `timeout` seconds, or raise DeliveryError."""
        ...

    def forget(self, target: str) -> None:
        """Delete a target the far end said is gone (DeliveryError.gone)."""
        ...
