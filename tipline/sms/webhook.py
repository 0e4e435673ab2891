"""SMS Gateway for Android's webhook, checked before anything is believed.

The app (docs: docs/features/webhooks.md of android-sms-gateway/docs-web) POSTs JSON:

    {"deviceId": "...", "event": "sms:received", "id": "<event id>",
     "payload": {"messageId": "...", "message": "...", "sender": "+84...",
                 "recipient": "...", "phoneNumber": "+84...", "simNumber": 1,
                 "receivedAt": "2024-06-22T15:46:11.000+07:00"},
     "webhookId": "..."}

(`sender` and `recipient` came in 2026; older versions send the sender as `phoneNumber`
only.) It signs each request: X-Timestamp is Unix seconds, X-Signature the hex
HMAC-SHA256, keyed with the signing key set in the app, of the raw body followed by the
timestamp. A request is taken only with a valid signature and a timestamp within
TIPLINE_SMS_WEBHOOK_WINDOW_SECONDS; an event id already taken from this gateway (kept
for twice that window, beyond which its timestamp is refused anyway) is answered 200 and
ignored. `messageId` is content-based in the app and not unique: never a key here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass

RECEIVED = "sms:received"


class WebhookRefused(Exception):
    """A request that is refused; `status` and a message that names no number."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Event:
    event: str
    id: str
    sender: str | None = None
    message: str | None = None


def signature(key: bytes, body: bytes, timestamp: str) -> str:
    return hmac.new(key, body + timestamp.encode(), hashlib.sha256).hexdigest()


def verify(key: bytes, body: bytes, headers, window: int, now: float | None = None) -> None:
    """Raise WebhookRefused unless the signature and the timestamp are right."""
    timestamp = (headers.get("X-Timestamp") or "").strip()
    given = (headers.get("X-Signature") or "").strip().lower()
    if not timestamp or not given:
        raise WebhookRefused(401, "missing X-Signature or X-Timestamp")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise WebhookRefused(400, "X-Timestamp must be Unix seconds")
    if len(given) != 64 or not all(c in "0123456789abcdef" for c in given):
        raise WebhookRefused(401, "wrong signature")  # a hex SHA-256, or nothing to compare
    if not hmac.compare_digest(signature(key, body, timestamp), given):
        raise WebhookRefused(401, "wrong signature")
    if abs((now if now is not None else time.time()) - int(timestamp)) > window:
        raise WebhookRefused(401, "timestamp outside the allowed window")


def parse(body: bytes) -> Event:
    """The event of a verified body, or WebhookRefused(400/422)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRefused(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise WebhookRefused(400, "the body is not a JSON object")
    kind, ident = data.get("event"), data.get("id")
    if not isinstance(kind, str) or not isinstance(ident, str) or not ident or len(ident) > 100:
        raise WebhookRefused(422, "an event needs its event and id")
    if kind != RECEIVED:
        return Event(kind, ident)
    payload = data.get("payload")
    if not isinstance(payload, dict):
        raise WebhookRefused(422, "sms:received needs its payload")
    sender = payload.get("sender") or payload.get("phoneNumber")
    message = payload.get("message")
    if not isinstance(sender, str) or not isinstance(message, str):
        raise WebhookRefused(422, "sms:received needs the sender and the message")
    return Event(kind, ident, sender, message)


def event_hash(event_id: str) -> str:
    return hashlib.sha256(f"sms-event:{event_id}".encode()).hexdigest()
