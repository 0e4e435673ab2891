"""Two-factor sign-in for staff: TOTP (any authenticator app) and one-time recovery codes."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import pyotp
from flask import current_app
from sqlalchemy import select

from tipline.accounts.models import AuditAction, RecoveryCode, User
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


def verify_totp(secret: str, code: str) -> bool:
    digits = "".join(ch for ch in code if ch.isdigit())
    # One step either side: phones whose clocks are half a minute off still work.
    return len(digits) == 6 and pyotp.TOTP(secret).verify(digits, valid_window=1)


def _hash(code: str) -> str:
    normalized = "".join(ch for ch in code.lower() if ch.isalnum())
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"recovery:{normalized}".encode(), hashlib.sha256).hexdigest()


def enable(user: User, secret: str, code: str) -> list[str] | None:
    """Turn two-factor on once the user proves the app works; returns the recovery codes."""
    from tipline.accounts.services import audit

    if not verify_totp(secret, code):
        return None
    user.totp_secret = secret
    codes = _replace_recovery_codes(user)
    if user.roles:
        audit(
            user,
            AuditAction.TWO_FACTOR_ENABLED,
            min(user.roles, key=lambda a: a.id).unit,
            target=user,
        )
    db.session.flush()
    return codes


def disable(user: User, actor: User) -> None:
    from tipline.accounts.services import audit

    user.totp_secret = None
    for code in db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)):
        db.session.delete(code)
    if user.roles:
        audit(
            actor,
            AuditAction.TWO_FACTOR_DISABLED,
            min(user.roles, key=lambda a: a.id).unit,
            target=user,
        )
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


def check_second_factor(user: User, code: str) -> bool:
    """A current TOTP code, or an unused recovery code (which is then spent)."""
    from tipline.core.timeutil import utcnow

    if user.totp_secret is None:
        return False
    if verify_totp(user.totp_secret, code):
        return True
    recovery = db.session.scalar(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash(code),
            RecoveryCode.used_at.is_(None),
        )
    )
    if recovery is None:
        return False
    recovery.used_at = utcnow()
    db.session.flush()
    return True


def required_for(user: User) -> bool:
    """Whether the deployment makes this user's roles sign in with a second factor."""
    required = set(current_app.config["TIPLINE_REQUIRE_2FA_ROLES"])
    return any(a.role.value in required for a in user.roles)
