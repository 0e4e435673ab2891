"""The SMS channel: a text per delivery, through the commune's gateway (tipline/alerts/sms.py).

Targets are row ids, never numbers: "staff:<id>" is a staff member's checked number,
"tip:<id>" a tipster's wish for updates on one tip. A staff text carries the alert's
title (reference and why), its urgency and the link; a tipster's text only says the tip
has news, with its reference and the address of /tra-cuu. Both fit one SMS.

Idempotent when the driver is (SMS Gateway for Android drops a repeated message id);
a generic HTTP provider may send a repeat, which the worker counts.
"""

from __future__ import annotations

from typing import ClassVar

from flask import current_app

from tipline.alerts import sms
from tipline.alerts.channels import register
from tipline.alerts.channels.base import (
    Alert,
    DeliveryError,
)
from tipline.alerts.sms_models import StaffSmsNumber, TipSmsSubscription
from tipline.alerts.sms_numbers import subscription_ids, verified_number_ids
from tipline.core.sealed import SealError, unseal
from tipline.extensions import db
from tipline.tips.models import Tip

STAFF = "staff"
TIP = "tip"


class SmsChannel:
    name: ClassVar[str] = "sms"

    @property
    def idempotent(self) -> bool:  # the driver's: known only from the settings
        try:
            gateway = sms.driver()
        except sms.SmsSettingsError:
            return False
        return bool(gateway is not None and gateway.idempotent)

    def available(self) -> bool:
        try:
            return sms.driver() is not None
        except sms.SmsSettingsError as error:
            # Once per process and reason: the worker asks before every notification.
            said = current_app.extensions.setdefault("tipline.sms_warned", set())
            if str(error) not in said:
                said.add(str(error))
                current_app.logger.warning("SMS is off: %s", error)
            return False

    def staff_targets(self, user_id: int) -> list[str]:
        return [f"{STAFF}:{row_id}" for row_id in verified_number_ids(user_id)]

    def resident_targets(self, tip_id: int) -> list[str]:
        return [f"{TIP}:{row_id}" for row_id in subscription_ids(tip_id)]

    def send(self, target: str, alert: Alert, *, timeout: float) -> None:
        phone, text = self._prepare(target, alert)
        sms.send_sms(phone, text, key=alert.key, timeout=timeout)

    def _prepare(self, target: str, alert: Alert) -> tuple[str, str]:
        """The number and the text of one delivery (DeliveryError(gone) if the number went)."""
        kind, _, ident = target.partition(":")
        row_id = int(ident) if ident.isdigit() else 0
        if kind == STAFF:
            number = db.session.get(StaffSmsNumber, row_id)
            if number is None or number.verified_at is None:
                raise DeliveryError("the staff SMS number was removed", gone=True)
            text = sms.staff_text(alert)
        elif kind == TIP:
            number = db.session.get(TipSmsSubscription, row_id)
            tip = db.session.get(Tip, number.tip_id) if number is not None else None
            if number is None or tip is None:
                raise DeliveryError("the tipster's SMS number was removed", gone=True)
            text = sms.resident_text(tip.reference)
        else:
            raise DeliveryError("not an SMS target", gone=True)
        try:
            return unseal(number.phone_sealed), text
        except SealError:
            raise DeliveryError(
                "the SMS number cannot be opened with this deployment's TIPLINE_DATA_KEY",
                retry=False,
            ) from None

    def forget(self, target: str) -> None:
        return None  # a number that went is already gone; a person removes their own


register(SmsChannel())
