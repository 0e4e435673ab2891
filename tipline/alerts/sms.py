"""SMS out: the texts, their parts, the numbers, the gateway's budget and its driver.

Two drivers speak to a gateway (tipline/alerts/sms_drivers.py): an Android phone at the
commune running "SMS Gateway for Android" in its local-server or private-server mode, or
a generic HTTP SMS provider. `send_sms` is the one way a text leaves: it checks the number,
counts the parts, takes them from the gateway's budget, then hands the text to the driver.

Android itself refuses (or asks the phone's user about) more than 30 SMS per 30 minutes
from one app (SMS_OUTGOING_CHECK_MAX_COUNT, every part of a long text counting), so the
budget defaults to 30 parts per 30 minutes, counted in a moving window shared by every
worker (the limiter's store: Redis when REDIS_URL is set). Over budget, a send is put
off (DeliveryError with retry and retry_after), never dropped.

Numbers never reach a log or an error text: errors name the HTTP status, not the number.
"""

from __future__ import annotations

import math
import time
import unicodedata
from dataclasses import dataclass

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from tipline.alerts.channels.base import UNACKNOWLEDGED, URGENT_TIP, Alert, DeliveryError
from tipline.alerts.sms_drivers import SmsDriver, SmsSettingsError, build
from tipline.core import throttle
from tipline.core.text import is_phone, normalize_phone

# --- parts ---------------------------------------------------------------------------

# GSM 03.38: the basic character set (one septet each; 0x1B is the escape, left out) and
# the extension table (escape + one septet: two each).
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = "\f^{}\\[~]|€"
_GSM_COST = {ch: 1 for ch in GSM_BASIC if ch != "\x1b"} | {ch: 2 for ch in GSM_EXTENDED}

# Units per part: one part alone, or each part of a concatenated text (its header takes
# the rest: 7 septets or 3 UCS-2 characters).
GSM_SINGLE, GSM_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67


@dataclass(frozen=True)
class Parts:
    encoding: str  # "gsm7" or "ucs2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    count: int  # SMS parts the network carries, each one counted by Android


def sms_parts(text: str) -> Parts:
    """How many SMS a text takes: GSM-7 when every character has a septet, else UCS-2.

    An escaped GSM character or a UTF-16 surrogate pair is never split between parts,
    so a part may carry one unit less than its size.
    """
    if all(ch in _GSM_COST for ch in text):
        costs = [_GSM_COST[ch] for ch in text]
        encoding, single, multi = "gsm7", GSM_SINGLE, GSM_MULTI
    else:
        costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
        encoding, single, multi = "ucs2", UCS2_SINGLE, UCS2_MULTI
    units = sum(costs)
    if units <= single:
        return Parts(encoding, units, 1)
    count, used = 1, 0
    for cost in costs:
        if used + cost > multi:
            count, used = count + 1, 0
        used += cost
    return Parts(encoding, units, count)


# Typography that has no GSM septet, as the plain characters a basic phone shows.
_PLAIN = str.maketrans(
    {
        "đ": "d",
        "Đ": "D",
        "“": '"',
        "”": '"',
        "‘": "'",
        "’": "'",
        "–": "-",
        "—": "-",
        "…": "...",
        "\u00a0": " ",
    }
)


def without_marks(text: str) -> str:
    """Vietnamese without tone or letter marks ("Tin báo khẩn" → "Tin bao khan"), case kept."""
    decomposed = unicodedata.normalize("NFD", text.translate(_PLAIN))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def fit_one(text: str) -> str:
    """The text as sent: without marks (160 GSM characters a part) unless TIPLINE_SMS_MARKS
    is on and the marked text still fits one part (70 UCS-2 characters)."""
    if current_app.config.get("TIPLINE_SMS_MARKS") and sms_parts(text).count == 1:
        return text
    return without_marks(text)


# --- texts ---------------------------------------------------------------------------


def staff_text(alert: Alert) -> str:
    """A staff SMS: the alert's title (which tip, why), how urgent, and the link.

    The title is the one every channel shows (tipline/alerts/compose.py): the reference
    and the kind, never what the tip says; the body, which may name the category for a
    person who asked, is left out.
    """
    with force_locale("vi"):
        head = str(alert.title).rstrip(".")
        if alert.urgent and alert.kind not in (URGENT_TIP, UNACKNOWLEDGED):
            head = _("[KHẨN]") + " " + head
        text = head + ". " + _("Xem: %(url)s", url=alert.url)
    return fit_one(" ".join(text.split()))


def resident_text(reference: str) -> str:
    """A tipster's SMS: content-free, the tip's reference and where to follow it up."""
    url = current_app.config["TIPLINE_BASE_URL"].rstrip("/") + "/tra-cuu"
    with force_locale("vi"):
        text = _(
            "Tin báo %(reference)s của bạn có cập nhật mới. Xem: %(url)s",
            reference=reference,
            url=url,
        )
    return fit_one(text)


def code_text(code: str, minutes: int) -> str:
    with force_locale("vi"):
        text = _(
            "Mã xác nhận số nhận cảnh báo Tipline: %(code)s (hết hạn sau %(minutes)d phút).",
            code=code,
            minutes=minutes,
        )
    return fit_one(text)


# --- numbers -------------------------------------------------------------------------


class BadNumber(ValueError):
    """Not a Vietnamese phone number (the message says so without repeating it)."""


def e164(phone: str) -> str:
    """A Vietnamese number as the gateway wants it: +84 and nine digits."""
    value = normalize_phone(phone)
    if not is_phone(value):
        raise BadNumber("not a Vietnamese phone number")
    digits = value.lstrip("+")
    if digits.startswith("84"):
        digits = digits[2:]
    elif digits.startswith("0"):
        digits = digits[1:]
    return "+84" + digits


def masked(phone: str) -> str:
    """A number as its owner sees it on a screen others may glance at: 0912 *** 678."""
    local = "0" + e164(phone)[3:]
    return f"{local[:4]} *** {local[-3:]}"


# --- drivers and the budget ----------------------------------------------------------


def driver() -> SmsDriver | None:
    """The configured driver (TIPLINE_SMS_DRIVER), or None when SMS is off.

    Raises SmsSettingsError when the settings cannot work.
    """
    return build(current_app.config)


def available() -> bool:
    try:
        return driver() is not None
    except SmsSettingsError:
        return False


_BUDGET_NAME = "sms-budget"


def _budget_item():
    config = current_app.config
    return RateLimitItemPerMinute(
        int(config["TIPLINE_SMS_BUDGET_PARTS"]), int(config["TIPLINE_SMS_BUDGET_MINUTES"])
    )


def _budget_store():
    """The limiter's store (shared by every worker), or this process's own without one."""
    limiter = current_app.extensions.get("tipline_throttle", {}).get("limiter")
    # A limiter turned off (RATELIMIT_ENABLED=0) has no store: the budget still counts.
    storage = limiter.storage if limiter is not None and limiter.enabled else None
    if storage is None:
        storage = current_app.extensions.setdefault("tipline.sms_budget", MemoryStorage())
    return storage


def take_budget(gateway: str, parts: int) -> None:
    """Count `parts` against the gateway's budget, or raise DeliveryError(retry) if full."""
    item = _budget_item()
    if parts > item.amount:
        raise DeliveryError(
            f"an SMS of {parts} parts is over the whole budget of {item.amount}", retry=False
        )
    ids = (current_app.config["RATELIMIT_KEY_PREFIX"], _BUDGET_NAME, gateway)

    def hit(storage):
        return MovingWindowRateLimiter(storage).hit(item, *ids, cost=parts)

    if throttle.call(hit, shared=_budget_store, label="SMS budget"):
        return

    def stats(storage):
        return MovingWindowRateLimiter(storage).get_window_stats(item, *ids)

    reset = throttle.call(stats, shared=_budget_store, label="SMS budget").reset_time
    wait = max(1, math.ceil(reset - time.time()))
    raise DeliveryError(
        f"the SMS gateway's budget ({item.amount} parts per {item.multiples} minutes) is used up",
        retry=True,
        retry_after=wait,
    )


def send_sms(
    phone: str,
    text: str,
    *,
    key: str,
    timeout: float | None = None,
    ttl: int | None = None,
    through: SmsDriver | None = None,
) -> Parts:
    """Send one text to one number through the configured gateway; returns its parts.

    Raises DeliveryError: retry=True when trying later may help (gateway offline, slow,
    busy, over budget), retry=False when it cannot (a bad number, wrong credentials).
    """
    try:
        gateway = through or driver()
    except SmsSettingsError as error:
        raise DeliveryError(str(error), retry=False) from None
    if gateway is None:
        raise DeliveryError("SMS is turned off (TIPLINE_SMS_DRIVER=none)", retry=False)
    try:
        to = e164(phone)
    except BadNumber:
        raise DeliveryError("not a Vietnamese phone number", retry=False) from None
    parts = sms_parts(text)
    take_budget(gateway.gateway, parts.count)
    config = current_app.config
    gateway.post(
        to,
        text,
        key=key,
        timeout=float(timeout if timeout is not None else config["TIPLINE_SMS_TIMEOUT"]),
        ttl=int(ttl if ttl is not None else config["TIPLINE_SMS_TTL_MINUTES"] * 60),
    )
    return parts
