"""Opening a tipster's identity: decided by the permissions module, logged here, once.

Every view of a name and phone (the tip page, the printable record, an export) goes
through `open_identity`, so none can show a contact without leaving its line in the
identity access log.
"""

from __future__ import annotations

from typing import Literal

from tipline.accounts.models import User
from tipline.accounts.permissions import can_see_identity
from tipline.extensions import db
from tipline.tips.models import IdentityAccess, Tip, TipsterContact

Purpose = Literal["view", "print", "export"]


def open_identity(tip: Tip, user: User, purpose: Purpose = "view") -> TipsterContact | None:
    """The tip's contact for `user`, logged; None when the identity tiers do not allow it."""
    if not can_see_identity(tip, user):
        return None
    db.session.add(IdentityAccess(tip_id=tip.id, user_id=user.id, purpose=purpose))
    return tip.contact
