"""Numbers the SMS channel sends to: a staff member's own (checked by a one-time code) and a
tipster's, for content-free updates on one tip.

Numbers are sealed at rest and opened only to send; the owner sees theirs masked. A
staff number takes no alert before the code sent to it comes back, so a typo never sends
alerts to a stranger. A tipster's number is taken only for a confidential or named tip
(the anonymous tier keeps no number at all), and goes with the tip's other personal data
(tipline/tips/retention.py).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from tipline.accounts.models import User
from tipline.alerts import sms
from tipline.alerts.channels.base import DeliveryError
from tipline.alerts.sms_models import StaffSmsNumber, TipSmsSubscription
from tipline.core import throttle
from tipline.core.errors import TiplineError
from tipline.core.sealed import lookup_hash, seal, unseal
from tipline.core.timeutil import to_minute, utcnow
from tipline.extensions import db
from tipline.tips import retention
from tipline.tips.models import OPEN_STATUSES, IdentityTier, Tip

# Wrong codes allowed for one code; then a new one must be sent.
CODE_TRIES = 5
CODE_DIGITS = 6
_NUMBER_PURPOSE = "sms-number"


class SmsNumberError(TiplineError):
    status_code = 422


class SmsUnavailable(TiplineError):
    status_code = 503


@dataclass(frozen=True)
class StaffNumberState:
    """What the settings page shows: the number masked, whether it is checked, a code waiting."""

    masked: str
    verified: bool
    code_waiting: bool
    code_expires_at: datetime | None


def _number_hash(phone: str) -> str:
    return lookup_hash(phone, _NUMBER_PURPOSE)


def _code_hash(row: StaffSmsNumber, code: str) -> str:
    return lookup_hash(code, f"sms-code:{row.id}:{row.phone_hash}")


def _check_available() -> None:
    if not sms.available():
        raise SmsUnavailable(_l("Tin nhắn SMS chưa được bật trên hệ thống này."))


def staff_number(user: User) -> StaffSmsNumber | None:
    return db.session.scalar(select(StaffSmsNumber).where(StaffSmsNumber.user_id == user.id))


def staff_number_state(user: User) -> StaffNumberState | None:
    row = staff_number(user)
    if row is None:
        return None
    waiting = row.code_hash is not None and (row.code_expires_at or utcnow()) > utcnow()
    return StaffNumberState(
        masked=sms.masked(unseal(row.phone_sealed)),
        verified=row.verified_at is not None,
        code_waiting=waiting and row.verified_at is None,
        code_expires_at=row.code_expires_at if waiting else None,
    )


def set_staff_number(user: User, phone: str) -> StaffSmsNumber:
    """Take a new number for `user` (replacing any) and send it a code; the caller commits.

    The number is not used for alerts until `verify_staff_number` gets that code back.
    """
    try:
        number = sms.e164(phone)
    except sms.BadNumber:
        raise SmsNumberError(_l("Số điện thoại không đúng (ví dụ: 0912 345 678).")) from None
    _check_available()
    row = staff_number(user)
    if row is None:
        row = StaffSmsNumber(user_id=user.id)
        db.session.add(row)
    row.phone_sealed = seal(number)
    row.phone_hash = _number_hash(number)
    row.verified_at = None
    row.code_hash = None
    row.code_expires_at = None
    row.code_tries = 0
    db.session.flush()
    send_code(user, row)
    return row


def send_code(
    user: User, row: StaffSmsNumber | None = None, *, now: datetime | None = None
) -> None:
    """Send a fresh one-time code to the account's unchecked number (the last one stops working)."""
    row = row or staff_number(user)
    if row is None or row.verified_at is not None:
        raise SmsNumberError(_l("Không có số nào đang chờ xác nhận."))
    _check_available()
    key = lookup_hash(str(user.id), "sms-code-sender")
    if not throttle.take("sms-code", key, current_app.config["TIPLINE_SMS_CODE_LIMIT"]):
        raise SmsNumberError(_l("Đã gửi nhiều mã trong một giờ qua. Hãy đợi rồi thử lại."))
    minutes = int(current_app.config["TIPLINE_SMS_CODE_MINUTES"])
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    row.code_hash = _code_hash(row, code)
    row.code_expires_at = (now or utcnow()) + timedelta(minutes=minutes)
    row.code_tries = 0
    try:
        sms.send_sms(
            unseal(row.phone_sealed),
            sms.code_text(code, minutes),
            key=f"sms-code:{row.id}:{secrets.token_hex(8)}",
            ttl=minutes * 60,
        )
    except DeliveryError as error:
        # The administrator's words stay in the log (no number in them); the person is
        # told what to do.
        current_app.logger.warning("SMS code not sent: %s", error)
        row.code_hash = None
        row.code_expires_at = None
        if error.retry:
            raise SmsUnavailable(
                _l("Chưa gửi được mã: cổng SMS bận hoặc không trả lời. Hãy thử lại sau ít phút.")
            ) from None
        raise SmsUnavailable(
            _l("Không gửi được mã tới số này. Hãy kiểm tra số, hoặc báo quản trị viên.")
        ) from None


def verify_staff_number(user: User, code: str, *, now: datetime | None = None) -> None:
    """Check the one-time code; right: the number takes alerts from now on."""
    row = staff_number(user)
    now = now or utcnow()
    if row is None or row.verified_at is not None or row.code_hash is None:
        raise SmsNumberError(_l("Không có mã nào đang chờ. Hãy gửi mã mới."))
    if row.code_expires_at is None or row.code_expires_at <= now:
        raise SmsNumberError(_l("Mã đã hết hạn. Hãy gửi mã mới."))
    if row.code_tries >= CODE_TRIES:
        raise SmsNumberError(_l("Đã nhập sai quá nhiều lần. Hãy gửi mã mới."))
    typed = "".join(ch for ch in code or "" if not ch.isspace())
    if not (typed.isascii() and typed.isdigit() and len(typed) == CODE_DIGITS):
        raise SmsNumberError(_l("Mã gồm 6 chữ số."))
    row.code_tries += 1
    if not hmac.compare_digest(row.code_hash, _code_hash(row, typed)):
        raise SmsNumberError(_l("Mã không đúng."))
    row.verified_at = now
    row.code_hash = None
    row.code_expires_at = None
    row.code_tries = 0


def remove_staff_number(user: User) -> bool:
    row = staff_number(user)
    if row is None:
        return False
    db.session.delete(row)
    return True


# --- tipsters ------------------------------------------------------------------------


def subscribe_tip(tip: Tip, phone: str | None) -> TipSmsSubscription | None:
    """Keep a tipster's number for SMS updates on this tip (confidential or named only)."""
    if tip.identity_tier == IdentityTier.ANONYMOUS or not phone:
        return None
    try:
        number = sms.e164(phone)
    except sms.BadNumber:
        return None
    row = db.session.scalar(select(TipSmsSubscription).where(TipSmsSubscription.tip_id == tip.id))
    if row is None:
        # To the minute, like every time a resident's action writes.
        row = TipSmsSubscription(tip_id=tip.id, created_at=to_minute(utcnow()))
        db.session.add(row)
    row.phone_sealed = seal(number)
    # Per tip: equal numbers on two tips, or a tipster's and a staff member's, do not match.
    row.phone_hash = tip_number_hash(number, tip.id)
    return row


def tip_number_hash(number: str, tip_id: int) -> str:
    """The tip-form opt-in's keyed hash: its purpose names the tip, so it links nothing."""
    return lookup_hash(number, f"tip-sms:{tip_id}")


def unsubscribe_tip(tip: Tip) -> bool:
    """The tipster stops SMS updates on this tip: the number kept for them goes."""
    result = db.session.execute(
        delete(TipSmsSubscription).where(TipSmsSubscription.tip_id == tip.id)
    )
    return bool(result.rowcount)


@dataclass(frozen=True)
class TipSmsState:
    on: bool


def tip_sms_state(tip: Tip) -> TipSmsState | None:
    """Whether the status page offers SMS updates (None: it cannot: anonymous, no phone,
    the identity purged, or no gateway), and whether they are on."""
    contact = tip.contact
    if tip.identity_tier == IdentityTier.ANONYMOUS or contact is None or not contact.phone:
        return None
    if not sms.available():
        return None
    return TipSmsState(on=bool(subscription_ids(tip.id)))


def sweep_tip_numbers(now: datetime, cutoff: datetime) -> int:
    """Retention: the numbers of tips closed before `cutoff` go with their identity."""
    purged = select(Tip.id).where(
        Tip.status.not_in(OPEN_STATUSES), Tip.closed_at.is_not(None), Tip.closed_at <= cutoff
    )
    result = db.session.execute(
        delete(TipSmsSubscription).where(TipSmsSubscription.tip_id.in_(purged))
    )
    return result.rowcount or 0


retention.also_sweep("sms_numbers", sweep_tip_numbers)


# --- what the channel reads ----------------------------------------------------------


def verified_number_ids(user_id: int) -> list[int]:
    return list(
        db.session.scalars(
            select(StaffSmsNumber.id).where(
                StaffSmsNumber.user_id == user_id, StaffSmsNumber.verified_at.is_not(None)
            )
        )
    )


def subscription_ids(tip_id: int) -> list[int]:
    return list(
        db.session.scalars(select(TipSmsSubscription.id).where(TipSmsSubscription.tip_id == tip_id))
    )
