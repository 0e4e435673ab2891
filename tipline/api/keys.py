"""Partner keys and staff tokens: make, check, revoke, and log every use."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from tipline.accounts.models import AuditAction, User
from tipline.accounts.permissions import admin_units, is_admin_over, within
from tipline.accounts.services import audit
from tipline.api.models import ApiUse, PartnerKey, StaffToken
from tipline.core import throttle
from tipline.core.errors import NotAllowed
from tipline.core.timeutil import utcnow
from tipline.extensions import db
from tipline.places.models import Unit

PARTNER = "tlp"
STAFF = "tls"


def _hash(credential: str) -> str:
    # Secrets are 256 random bits: a fast hash is enough (no dictionary to try).
    return hashlib.sha256(credential.encode()).hexdigest()


def _new_credential(kind: str) -> tuple[str, str]:
    prefix = secrets.token_hex(6)
    return prefix, f"{kind}_{prefix}_{secrets.token_urlsafe(32)}"


def _split(credential: str, kind: str) -> str | None:
    """The prefix of a well-formed credential of `kind`, or None."""
    parts = credential.split("_", 2)
    if len(parts) != 3 or parts[0] != kind or len(parts[1]) != 12 or len(credential) > 120:
        return None
    return parts[1]


def _find(model: type[PartnerKey] | type[StaffToken], kind: str, credential: str):
    """The row a prefixed credential names if its secret is right, else None.

    The prefix finds the row; the secret's hash is compared in constant time, against a
    dummy when no row has the prefix, so a wrong prefix and a wrong secret cost the same.
    """
    prefix = _split(credential, kind)
    row = None
    if prefix is not None:
        row = db.session.scalar(select(model).where(model.prefix == prefix))
    stored = row.secret_hash if row is not None else "0" * 64
    if hmac.compare_digest(stored, _hash(credential)) and row is not None:
        return row
    return None


# --- partner keys -------------------------------------------------------------------------


def keys_query(user: User):
    """The partner keys `user` manages: those of the units where they are administrator."""
    return (
        select(PartnerKey)
        .join(Unit, Unit.id == PartnerKey.unit_id)
        .where(within(admin_units(user)))
        .order_by(PartnerKey.revoked_at.is_not(None), PartnerKey.created_at.desc())
    )


def create_partner_key(
    actor: User,
    *,
    name: str,
    unit: Unit,
    may_submit: bool,
    may_read: bool,
    may_name: bool,
) -> tuple[PartnerKey, str]:
    """A new key and its secret (shown once: only its hash is kept)."""
    if not is_admin_over(actor, unit):
        raise NotAllowed(_l("Việc này nằm ngoài phạm vi quản lý của bạn."))
    prefix, credential = _new_credential(PARTNER)
    key = PartnerKey(
        name=name,
        unit=unit,
        prefix=prefix,
        secret_hash=_hash(credential),
        may_submit=may_submit,
        may_read=may_read,
        may_name=may_name,
        created_by=actor,
    )
    db.session.add(key)
    db.session.flush()
    rights = ",".join(
        n for n, on in (("submit", may_submit), ("read", may_read), ("named", may_name)) if on
    )
    audit(actor, AuditAction.API_KEY_CREATED, unit, detail=f"{prefix} {name} [{rights}]")
    return key, credential


def revoke_partner_key(actor: User, key: PartnerKey) -> None:
    if not is_admin_over(actor, key.unit):
        raise NotAllowed(_l("Việc này nằm ngoài phạm vi quản lý của bạn."))
    if key.revoked_at is not None:
        return
    key.revoked_at = utcnow()
    key.revoked_by = actor
    audit(actor, AuditAction.API_KEY_REVOKED, key.unit, detail=f"{key.prefix} {key.name}")
    db.session.flush()


def find_partner_key(credential: str) -> PartnerKey | None:
    """The key a credential names if its secret is right (revoked keys included)."""
    return _find(PartnerKey, PARTNER, credential)


# --- staff tokens -------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    token: StaffToken
    credential: str


def issue_staff_token(user: User) -> IssuedToken:
    prefix, credential = _new_credential(STAFF)
    now = utcnow()
    token = StaffToken(
        user=user,
        prefix=prefix,
        secret_hash=_hash(credential),
        session_version=user.session_version,
        created_at=now,
        expires_at=now + timedelta(hours=current_app.config["TIPLINE_API_TOKEN_HOURS"]),
    )
    db.session.add(token)
    db.session.flush()
    return IssuedToken(token, credential)


def find_staff_token(credential: str) -> StaffToken | None:
    """The live token a credential proves: unrevoked, unexpired, its user's sessions intact."""
    token = _find(StaffToken, STAFF, credential)
    if token is None:
        return None
    user = token.user
    if (
        token.revoked_at is not None
        or token.expires_at <= utcnow()
        or not user.active
        or user.session_version != token.session_version
        or user.must_change_password
    ):
        return None
    return token


def revoke_staff_token(token: StaffToken) -> None:
    token.revoked_at = utcnow()
    db.session.flush()


# --- rate limits and the use log --------------------------------------------------------------


def over_limit(setting: str, *identifiers: str) -> bool:
    """Count one request against a configured limit; True when it is spent.

    The limiter's store is shared with the web pages; while it fails, the process counts
    on its own (tipline.core.throttle): tips must not stop because Redis did.
    """
    return not throttle.take("api", "/".join(identifiers), current_app.config[setting])


def log_use(
    *,
    partner_key: PartnerKey | None = None,
    staff_token: StaffToken | None = None,
    method: str,
    endpoint: str,
    status: int,
    tip_reference: str | None = None,
) -> None:
    db.session.add(
        ApiUse(
            partner_key_id=partner_key.id if partner_key else None,
            staff_token_id=staff_token.id if staff_token else None,
            method=method[:8],
            endpoint=endpoint[:80],
            status=status,
            tip_reference=tip_reference,
        )
    )
