"""The two SMS drivers: an Android phone running SMS Gateway for Android, or an HTTP provider.

SMS Gateway for Android (capcom6/android-sms-gateway, https://docs.sms-gate.app), as its
OpenAPI document (app/src/main/assets/api/swagger.json) and its local server's routes
(modules/localserver/routes/MessagesRoutes.kt) define it:

    POST {base}/messages          basic auth (the user and password the app shows)
    {"id": "...", "textMessage": {"text": "..."}, "phoneNumbers": ["+84..."],
     "withDeliveryReport": false, "ttl": 86400}
    202 Accepted  {"id": "...", "state": "Pending", "recipients": [...], ...}
    409 Conflict  "Message with such ID already exists"   (the id is the table's key)
    400 Bad Request {"message": "..."}   401 Unauthorized   500 / 503 {"message": "..."}

`{base}` is the phone's own server on the LAN (local mode: http://<phone's address>:8080)
or the deployment's own private server (https://<host>/api/3rdparty/v1). The public cloud
relay (api.sms-gate.app) is refused: alerts never pass through a third party's server.

The message id makes sending idempotent: a repeat after a crash gets 409 and nothing is
sent twice, so this driver counts as idempotent. The number is checked by the phone when
it sends, after the 202: a bad number then fails on the phone, not here.

The generic HTTP provider gets {"to", "text", "id", "sender"} as JSON with its key in a
header (and the id again as Idempotency-Key); it may or may not drop repeats, so it does
not count as idempotent.

Error texts are for administrators: they name the status and the setting to check, never
the number or the text (the gateway's own answer may quote the number: it is not kept).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from tipline.alerts.channels.base import DeliveryError

# The most of a gateway's answer that is read (its JSON is a few hundred bytes).
MAX_ANSWER_BYTES = 64 * 1024
# Hosts of the public cloud relay of SMS Gateway for Android: never used.
CLOUD_RELAY = "sms-gate.app"


class SmsSettingsError(ValueError):
    """The SMS settings cannot work (a missing URL, the public cloud relay)."""


class SmsDriver(Protocol):
    name: str
    # True when the gateway drops a second message with the same id (a repeat is harmless).
    idempotent: bool
    # Names the gateway for its budget (a hash of its address: no secret, no number).
    gateway: str

    def post(self, to: str, text: str, *, key: str, timeout: float, ttl: int) -> None:
        """Hand one text to the gateway, or raise DeliveryError."""
        ...


def gateway_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def message_id(key: str) -> str:
    """The gateway's message id for an idempotency key: the same key, the same id.

    Hashed so that any key fits the gateway's 36 characters and says nothing.
    """
    return "tl-" + hashlib.sha256(key.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes


def post_json(url: str, payload: dict, headers: dict[str, str], timeout: float) -> Answer:
    """POST JSON, within `timeout` seconds in all (connect, send, answer, body).

    Raises OSError (timeouts included) or http.client.HTTPException when the far end
    cannot be reached or answers nonsense.
    """
    deadline = time.monotonic() + timeout
    parts = urlsplit(url)
    if parts.scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    body = json.dumps(payload, ensure_ascii=False).encode()
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(
            "POST",
            path,
            body=body,
            headers={"Content-Type": "application/json; charset=utf-8", **headers},
        )
        _remaining(connection, deadline)
        response = connection.getresponse()
        _remaining(connection, deadline)
        data = response.read(MAX_ANSWER_BYTES)
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        connection.close()


def _remaining(connection: http.client.HTTPConnection, deadline: float) -> None:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("time limit reached")
    if connection.sock is not None:
        connection.sock.settimeout(left)


def _retry_after(answer: Answer) -> float | None:
    value = answer.headers.get("retry-after", "")
    return float(value) if value.strip().isdigit() else None


def _unreachable(error: BaseException) -> DeliveryError:
    if isinstance(error, TimeoutError | socket.timeout):
        # The text may have left before the answer was due: on a driver without an
        # idempotency key, a later success is then counted as a possible repeat.
        return DeliveryError("the SMS gateway did not answer in time", retry=True, maybe_sent=True)
    if isinstance(error, ssl.SSLError):
        return DeliveryError("the SMS gateway's TLS certificate was refused", retry=True)
    return DeliveryError("the SMS gateway cannot be reached (offline?)", retry=True)


class AndroidGateway:
    """SMS Gateway for Android, local server on the phone or the deployment's private server."""

    name = "android"
    idempotent = True

    def __init__(self, url: str, user: str, password: str, sim: int | None = None) -> None:
        parts = urlsplit(url or "")
        host = (parts.hostname or "").lower().rstrip(".")
        if parts.scheme not in ("http", "https") or not host:
            raise SmsSettingsError(
                "TIPLINE_SMS_ANDROID_URL must be the gateway's http(s) address, e.g. "
                "http://192.168.1.20:8080 (the phone) or https://sms.example.vn/api/3rdparty/v1"
            )
        if host == CLOUD_RELAY or host.endswith("." + CLOUD_RELAY):
            raise SmsSettingsError(
                "TIPLINE_SMS_ANDROID_URL points at the public cloud relay (sms-gate.app): "
                "use the phone's local server or your own private server"
            )
        if not user or not password:
            raise SmsSettingsError(
                "TIPLINE_SMS_ANDROID_USER and TIPLINE_SMS_ANDROID_PASSWORD are needed"
            )
        self.endpoint = url.rstrip("/") + "/messages"
        self.gateway = gateway_key(self.endpoint)
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}"}
        self.sim = sim

    def payload(self, to: str, text: str, *, key: str, ttl: int) -> dict:
        body: dict = {
            "id": message_id(key),
            "textMessage": {"text": text},
            "phoneNumbers": [to],
            "withDeliveryReport": False,
            "ttl": max(5, int(ttl)),  # the app's minimum; a text the phone could not send
            # by then is dropped there rather than arriving hours late
        }
        if self.sim:
            body["simNumber"] = self.sim
        return body

    def post(self, to: str, text: str, *, key: str, timeout: float, ttl: int) -> None:
        payload = self.payload(to, text, key=key, ttl=ttl)
        try:
            answer = post_json(self.endpoint, payload, self._headers, timeout)
        except (OSError, http.client.HTTPException) as error:
            raise _unreachable(error) from None
        status = answer.status
        if 200 <= status < 300 or status == 409:  # 409: this id was taken already
            return
        if status in (401, 403):
            raise DeliveryError(
                f"the SMS gateway refused the user name and password (HTTP {status}): "
                "check TIPLINE_SMS_ANDROID_USER and TIPLINE_SMS_ANDROID_PASSWORD",
                retry=False,
            )
        if status == 404:
            raise DeliveryError(
                "no SMS gateway API at this address (HTTP 404): check TIPLINE_SMS_ANDROID_URL",
                retry=False,
            )
        if status in (400, 422):
            raise DeliveryError(f"the SMS gateway refused the message (HTTP {status})", retry=False)
        if status in (408, 425, 429) or status >= 500:
            raise DeliveryError(
                f"the SMS gateway is busy or failing (HTTP {status})",
                retry=True,
                retry_after=_retry_after(answer),
            )
        raise DeliveryError(f"the SMS gateway answered HTTP {status}", retry=False)


class HttpProvider:
    """A generic HTTP SMS provider: one JSON POST per text."""

    name = "http"
    idempotent = False

    def __init__(self, url: str, key: str | None, key_header: str, sender: str | None) -> None:
        parts = urlsplit(url or "")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SmsSettingsError("TIPLINE_SMS_HTTP_URL must be the provider's http(s) address")
        self.endpoint = url
        self.gateway = gateway_key(url)
        self._headers = {key_header: key} if key else {}
        self.sender = sender or None

    def payload(self, to: str, text: str, *, key: str) -> dict:
        body = {"to": to, "text": text, "id": message_id(key)}
        if self.sender:
            body["sender"] = self.sender
        return body

    def post(self, to: str, text: str, *, key: str, timeout: float, ttl: int) -> None:
        payload = self.payload(to, text, key=key)
        headers = {**self._headers, "Idempotency-Key": payload["id"]}
        try:
            answer = post_json(self.endpoint, payload, headers, timeout)
        except (OSError, http.client.HTTPException) as error:
            raise _unreachable(error) from None
        status = answer.status
        if 200 <= status < 300:
            return
        if status in (401, 403):
            raise DeliveryError(
                f"the SMS provider refused the key (HTTP {status}): check TIPLINE_SMS_HTTP_KEY",
                retry=False,
            )
        if status in (408, 425, 429) or status >= 500:
            raise DeliveryError(
                f"the SMS provider is busy or failing (HTTP {status})",
                retry=True,
                retry_after=_retry_after(answer),
            )
        raise DeliveryError(f"the SMS provider refused the message (HTTP {status})", retry=False)


def build(config: Mapping) -> SmsDriver | None:
    """The driver the settings name (TIPLINE_SMS_DRIVER), or None for "none"."""
    kind = (config.get("TIPLINE_SMS_DRIVER") or "none").strip().lower()
    if kind == "none":
        return None
    if kind == "android":
        sim = config.get("TIPLINE_SMS_ANDROID_SIM")
        return AndroidGateway(
            config.get("TIPLINE_SMS_ANDROID_URL") or "",
            config.get("TIPLINE_SMS_ANDROID_USER") or "",
            config.get("TIPLINE_SMS_ANDROID_PASSWORD") or "",
            int(sim) if sim else None,
        )
    if kind == "http":
        return HttpProvider(
            config.get("TIPLINE_SMS_HTTP_URL") or "",
            config.get("TIPLINE_SMS_HTTP_KEY"),
            config.get("TIPLINE_SMS_HTTP_KEY_HEADER") or "X-Api-Key",
            config.get("TIPLINE_SMS_SENDER"),
        )
    raise SmsSettingsError("TIPLINE_SMS_DRIVER must be none, android or http")
