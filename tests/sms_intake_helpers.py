"""Helpers for SMS intake tests: a registered gateway, and webhooks as the app signs them."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path

from sqlalchemy import select

from tipline.extensions import db
from tipline.sms import gateways
from tipline.sms.models import SmsGateway

DATA = Path(__file__).parent / "data" / "sms_gateway"
KEY = "signing-key-from-the-app"  # noqa: S105 (a test's key)


def recorded(name: str = "sms_received") -> dict:
    return json.loads((DATA / f"{name}.json").read_text())


def register(unit, fake, number="0912 000 111") -> SmsGateway:
    gateway = gateways.register(
        unit,
        number=number,
        base_url=fake.url,
        username=fake.user,
        password=fake.password,
        signing_key=KEY,
    )
    db.session.commit()
    return gateway


def body_for(sender: str, message: str, *, event_id: str | None = None, name="sms_received"):
    event = copy.deepcopy(recorded(name))
    event["id"] = event_id or uuid.uuid4().hex[:21]
    payload = event["payload"]
    if "sender" in payload:
        payload["sender"] = sender
        payload["phoneNumber"] = sender
    else:
        payload["phoneNumber"] = sender
    payload["message"] = message
    return json.dumps(event, ensure_ascii=False).encode()


def sign(body: bytes, timestamp: str, key: str = KEY) -> str:
    return hmac.new(key.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()


def post(client, gateway, body: bytes, *, timestamp=None, key=KEY, signature=None, headers=None):
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    sent = {
        "Content-Type": "application/json",
        "X-Timestamp": stamp,
        "X-Signature": signature if signature is not None else sign(body, stamp, key),
        **(headers or {}),
    }
    return client.post(f"/sms/webhook/{gateway.public_id}", data=body, headers=sent)


def text(client, gateway, sender: str, message: str, **kwargs):
    """A resident's SMS arriving on the gateway; returns the webhook's JSON answer."""
    response = post(client, gateway, body_for(sender, message, **kwargs))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def gateway_of(unit) -> SmsGateway:
    return db.session.scalar(select(SmsGateway).where(SmsGateway.unit_id == unit.id))
