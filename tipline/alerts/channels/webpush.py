"""Web Push (RFC 8030), payloads encrypted per RFC 8291 (aes128gcm), VAPID per RFC 8292.

Targets are rows of `tipline.alerts.push.PushSubscription` (their ids). A push carries a
short JSON the service worker (static/push-sw.js) shows: a title, a body, a link. For a
resident it is always "Tin báo của bạn có cập nhật mới" and the link to /tra-cuu, whatever
the alert says; for staff the alert's own words (reference, urgency, maybe the category).
Never a description, place, name or phone (the Alert holds none).

Headers: `Topic` collapses repeats of one alert on the device (Web Push has no
idempotency key, so a send repeated after a crash shows once), `TTL` how long the push
service keeps it for a phone that is off, `Urgency: high` for urgent tips.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
from flask import current_app
from flask_babel import gettext
from pywebpush import WebPushException, webpush
from sqlalchemy import select

from tipline.accounts.models import User
from tipline.alerts import push
from tipline.alerts.channels import register
from tipline.alerts.channels.base import Alert, DeliveryError
from tipline.core.sealed import SealError
from tipline.core.timeutil import utcnow
from tipline.extensions import db

TOPIC = re.compile(r"[A-Za-z0-9_-]{1,32}")


class _NoRedirects(requests.Session):
    """A push service never redirects: a redirect would take the request elsewhere."""

    def post(self, url, **kwargs):  # type: ignore[override]
        kwargs["allow_redirects"] = False
        return super().post(url, **kwargs)


def _topic(alert: Alert) -> str:
    if TOPIC.fullmatch(alert.topic or ""):
        return alert.topic
    return hashlib.sha256((alert.topic or alert.key).encode()).hexdigest()[:32]


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class WebPushChannel:
    name = "webpush"
    idempotent = False  # no key in the protocol; the Topic header collapses repeats

    def __init__(self) -> None:
        self._session: requests.Session | None = None

    def _http(self) -> requests.Session:
        if self._session is None:
            self._session = _NoRedirects()
        return self._session

    def available(self) -> bool:
        return push.vapid() is not None

    def staff_targets(self, user_id: int) -> list[str]:
        rows = db.session.scalars(
            select(push.PushSubscription.id)
            .join(User, User.id == push.PushSubscription.user_id)
            .where(push.PushSubscription.user_id == user_id, User.active.is_(True))
            .order_by(push.PushSubscription.id)
        )
        return [str(row) for row in rows]

    def resident_targets(self, tip_id: int) -> list[str]:
        rows = db.session.scalars(
            select(push.PushSubscription.id)
            .where(
                push.PushSubscription.tip_id == tip_id,
                push.PushSubscription.tip_id.not_in(push.expired_tips(utcnow())),
            )
            .order_by(push.PushSubscription.id)
        )
        return [str(row) for row in rows]

    def _row(self, target: str) -> push.PushSubscription:
        row = db.session.get(push.PushSubscription, int(target)) if target.isdigit() else None
        if row is None:
            raise DeliveryError("subscription removed", gone=True)
        return row

    def payload(self, row: push.PushSubscription, alert: Alert) -> dict:
        """What the service worker shows: content-free for residents, whatever the alert."""
        if row.tip_id is not None:
            base = current_app.config["TIPLINE_BASE_URL"].rstrip("/")
            return {
                "title": gettext("Tin báo của bạn có cập nhật mới"),
                "body": gettext("Mở trang Tra cứu và nhập mã để xem."),
                "url": f"{base}/tra-cuu",
                "tag": "tipline-tip",
                "urgent": False,
            }
        return {
            "title": alert.title,
            "body": alert.body,
            "url": alert.url,
            "tag": _topic(alert),
            "urgent": alert.urgent,
        }

    def send(self, target: str, alert: Alert, *, timeout: float) -> None:
        row = self._row(target)
        if row.tip_id is not None and row.tip_id in set(
            db.session.scalars(push.expired_tips(utcnow()).where(push.Tip.id == row.tip_id))
        ):
            raise DeliveryError("the tip's reply window is over", gone=True)
        key = push.vapid()
        if key is None:
            raise DeliveryError("Web Push is not configured (no VAPID key)", retry=False)
        try:
            subscription = push.subscription_of(row)
        except (SealError, ValueError, KeyError):
            raise DeliveryError("stored subscription cannot be opened", gone=True) from None
        origin = push.endpoint_origin(subscription.endpoint)
        if origin is None:
            raise DeliveryError("push service not in TIPLINE_PUSH_SERVICE_HOSTS", retry=False)
        if origin.wildcard:
            parts = urlsplit(subscription.endpoint)
            if not push.public_host(parts.hostname or "", origin.port):
                raise DeliveryError("push service host is not a public address", retry=True)
        data = json.dumps(self.payload(row, alert), ensure_ascii=False, separators=(",", ":"))
        ttl = int(current_app.config["TIPLINE_PUSH_TTL_SECONDS"])
        headers = {"Topic": _topic(alert), "Urgency": "high" if alert.urgent else "normal"}
        try:
            webpush(
                subscription.info(),
                data=data,
                vapid_private_key=key,
                vapid_claims={"sub": push.vapid_subject()},
                content_encoding="aes128gcm",
                timeout=(timeout, timeout),
                ttl=ttl,
                headers=headers,
                requests_session=self._http(),
            )
        except WebPushException as refused:
            raise _delivery_error(refused.response) from None
        except requests.Timeout as late:
            # A read timeout comes after the request left: the phone may have the alert.
            raise DeliveryError(
                "push service did not answer in time",
                retry=True,
                maybe_sent=not isinstance(late, requests.ConnectTimeout),
            ) from None
        except requests.RequestException as failed:
            raise DeliveryError(
                f"push service unreachable ({type(failed).__name__})", retry=True
            ) from None

    def forget(self, target: str) -> None:
        """Delete the subscription the push service said is gone (flushed, not committed)."""
        if not target.isdigit():
            return
        row = db.session.get(push.PushSubscription, int(target))
        if row is not None:
            db.session.delete(row)
            db.session.flush()


def _delivery_error(response) -> DeliveryError:
    """A push service's refusal as the worker understands it (no endpoint in the words)."""
    status = getattr(response, "status_code", None)
    if status in (404, 410):
        return DeliveryError(f"push service answered {status}: subscription gone", gone=True)
    if status == 429 or (status is not None and status >= 500):
        retry_after = _retry_after(response.headers.get("Retry-After"))
        return DeliveryError(f"push service answered {status}", retry=True, retry_after=retry_after)
    if status is not None and 300 <= status < 400:
        return DeliveryError(
            f"push service answered {status} (redirects are not followed)", retry=False
        )
    # 400, 401, 403 (a VAPID key other than the one subscribed with), 413: no retry helps.
    return DeliveryError(f"push service refused the push ({status})", retry=False)


channel = register(WebPushChannel())
