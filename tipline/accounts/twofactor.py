"""Two-factor sign-in for staff: TOTP (any authenticator app) and one-time recovery codes.

A TOTP code is good once: the account keeps the last time step it accepted
(`User.totp_last_step`), and a code of that step or an earlier one is refused on every
path (web sign-in, API token, enrolment). The step moves forward in one conditional
UPDATE, so two parallel requests with one code cannot both pass.

Second-factor attempts count per account (TIPLINE_LOGIN_ACCOUNT_LIMIT, apart from the
passwords), each before its code is checked: past the allowance nothing is checked and
the caller gets SecondFactorLocked (429), whichever client or pending sign-in asks.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time

import pyotp
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from tipline.accounts.models import AuditAction, RecoveryCode, User
from tipline.accounts.services import audit, home_unit
from tipline.core import throttle
from tipline.core.errors import TiplineError
from tipline.core.timeutil import utcnow
from tipline.extensions import db

ISSUER = "Tipline"
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The enrolment QR code as an SVG data URI (no request leaves the page)."""
    import segno

    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


class SecondFactorLocked(TiplineError):
    """Too many second-factor attempts on this account: nothing is checked for a while."""

    status_code = 429

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(
            _l(
                "Mã xác thực đã bị nhập sai quá nhiều lần. "
                "Hãy đợi %(minutes)s phút rồi đăng nhập lại.",
                minutes=minutes,
            )
        )
        self.retry_after = retry_after


def totp_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step whose code `code` is, one step either side of now; None if none is.

    Phones whose clocks are half a minute off still work. Every candidate is compared
    (in constant time), so the answer takes as long whichever step matches.
    """
    digits = "".join(ch for ch in code if ch.isdigit())
    if len(digits) != 6:
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(time.time() if now is None else now)
    found = None
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), digits):
            found = step  # the latest matching step, should two steps share a code
    return found


def _use_step(user: User, step: int) -> bool:
    """Record `step` as the account's last used one, if no later or equal one was used.

    One conditional UPDATE: of two requests with the same code, the database lets one
    change the row; the other (its WHERE checked again after the first commits) finds
    nothing to change.
    """
    changed = db.session.execute(
        update(User)
        .where(
            User.id == user.id,
            or_(User.totp_last_step.is_(None), User.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:
        return False
    set_committed_value(user, "totp_last_step", step)
    return True


def verify_totp(user: User, secret: str, code: str) -> bool:
    """A current TOTP code of `secret` not used before by `user` (it is now used)."""
    step = totp_step(secret, code)
    return step is not None and _use_step(user, step)


def _hash(code: str) -> str:
    normalized = "".join(ch for ch in code.lower() if ch.isalnum())
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"recovery:{normalized}".encode(), hashlib.sha256).hexdigest()


def enable(user: User, secret: str, code: str) -> list[str] | None:
    """Turn two-factor on once the user proves the app works; returns the recovery codes."""
    if not verify_totp(user, secret, code):
        return None
    user.totp_secret = secret
    codes = _replace_recovery_codes(user)
    if user.roles:
        audit(user, AuditAction.TWO_FACTOR_ENABLED, home_unit(user), target=user)
    db.session.flush()
    return codes


def disable(user: User, actor: User) -> None:
    user.totp_secret = None
    for code in db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)):
        db.session.delete(code)
    if user.roles:
        audit(actor, AuditAction.TWO_FACTOR_DISABLED, home_unit(user), target=user)
    db.session.flush()


def _replace_recovery_codes(user: User) -> list[str]:
    for old in db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)):
        db.session.delete(old)
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_hash(raw)))
    return codes


_ATTEMPTS = "second-factor"


def _attempts_limit() -> str:
    return current_app.config["TIPLINE_LOGIN_ACCOUNT_LIMIT"]


def check_second_factor(user: User, code: str) -> bool:
    """A TOTP code not used before, or an unused recovery code (either is then spent).

    Counts the attempt against the account first; raises SecondFactorLocked when its
    allowance is spent (then nothing is checked). A right code gives the allowance back.
    """
    if user.totp_secret is None:
        return False
    key = str(user.id)
    if not throttle.take(_ATTEMPTS, key, _attempts_limit()):
        raise SecondFactorLocked(throttle.retry_after(_ATTEMPTS, key, _attempts_limit()))
    if verify_totp(user, user.totp_secret, code):
        throttle.clear(_ATTEMPTS, key, _attempts_limit())
        return True
    # Spent in one conditional UPDATE: of two parallel requests with one code, one wins.
    spent = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:
        return False
    throttle.clear(_ATTEMPTS, key, _attempts_limit())
    return True


def required_for(user: User) -> bool:
    """Whether the deployment makes this user's roles sign in with a second factor."""
    required = set(current_app.config["TIPLINE_REQUIRE_2FA_ROLES"])
    return any(a.role.value in required for a in user.roles)
