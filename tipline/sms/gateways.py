"""The gateways' registry: an administrator registers a phone to a commune or the province.

A gateway is SMS Gateway for Android in its local mode (the phone's own server on the
LAN) or behind the deployment's private server, never the public cloud relay (the driver
refuses it). Replies to what came in on a gateway go out through that same gateway, with
a budget of its own (tipline/alerts/sms.py: Android's 30 parts per 30 minutes).
"""

from __future__ import annotations

from sqlalchemy import select

from tipline.alerts.sms import BadNumber, e164
from tipline.alerts.sms_drivers import AndroidGateway, SmsSettingsError
from tipline.core.sealed import seal, unseal
from tipline.extensions import db
from tipline.places.models import Unit, UnitLevel
from tipline.sms.models import SmsGateway


class GatewayError(ValueError):
    """The gateway's settings cannot work; the message says why (Vietnamese first)."""


def display_number(number: str) -> str:
    """A number as posters print it: "0912 345 678"."""
    local = "0" + e164(number)[3:]
    return f"{local[:4]} {local[4:7]} {local[7:]}"


def register(
    unit: Unit,
    *,
    number: str,
    base_url: str,
    username: str,
    password: str,
    signing_key: str,
    sim: int | None = None,
) -> SmsGateway:
    """A new active gateway for `unit` (a commune or the province); raises GatewayError."""
    if unit.level not in (UnitLevel.COMMUNE, UnitLevel.PROVINCE):
        raise GatewayError("unit")
    try:
        shown = display_number(number)
    except BadNumber:
        raise GatewayError("number") from None
    try:
        AndroidGateway(base_url.strip(), username.strip(), password, sim)
    except SmsSettingsError:
        raise GatewayError("url") from None
    if len(signing_key.strip()) < 8:
        raise GatewayError("key")
    gateway = SmsGateway(
        unit_id=unit.id,
        number=shown,
        base_url=base_url.strip(),
        username=username.strip(),
        password_sealed=seal(password),
        signing_key_sealed=seal(signing_key.strip()),
        sim=sim,
        active=True,
    )
    db.session.add(gateway)
    db.session.flush()
    return gateway


def by_public_id(public_id: str) -> SmsGateway | None:
    if not public_id or len(public_id) > 32:
        return None
    return db.session.scalar(
        select(SmsGateway).where(SmsGateway.public_id == public_id, SmsGateway.active.is_(True))
    )


def signing_key(gateway: SmsGateway) -> bytes:
    return unseal(gateway.signing_key_sealed).encode()


def driver_for(gateway: SmsGateway) -> AndroidGateway:
    """The driver that sends through this gateway (its own budget: a hash of its URL)."""
    return AndroidGateway(
        gateway.base_url, gateway.username, unseal(gateway.password_sealed), gateway.sim
    )


def serving(commune: Unit) -> SmsGateway | None:
    """The gateway a commune's residents text: the commune's own, else its province's."""
    units = [commune]
    province = commune.ancestor_at(UnitLevel.PROVINCE)
    if province is not None:
        units.append(province)
    rows = db.session.scalars(
        select(SmsGateway)
        .where(SmsGateway.unit_id.in_([u.id for u in units]), SmsGateway.active.is_(True))
        .order_by(SmsGateway.id)
    ).all()
    for unit in units:
        for gateway in rows:
            if gateway.unit_id == unit.id:
                return gateway
    return None
