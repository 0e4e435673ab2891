"""The one scoping query: which tips a staff member may read.

The inbox, the tip page, photos, exports and the API all go through here, so a
tip outside one's subtree (or hidden from one's village team) is simply absent.
"""

from __future__ import annotations

from sqlalchemy import and_, false, or_, select
from sqlalchemy.orm import aliased

from tipline.accounts.models import TIP_READERS, VILLAGE_TEAM, User
from tipline.extensions import db
from tipline.places.models import Unit
from tipline.tips.models import Tip, TipStatus

TipUnit = aliased(Unit, name="tip_unit")
_TipUnit = TipUnit  # the unit of the tip being filtered; other modules use TipUnit


def reading_clause(user: User):
    """SQL condition on (Tip, _TipUnit) true for the tips `user` may read."""
    conditions = []
    for assignment in user.roles:
        if assignment.role not in TIP_READERS:
            continue
        in_subtree = _TipUnit.path.startswith(assignment.unit.path, autoescape=True)
        if assignment.role in VILLAGE_TEAM:
            in_subtree = and_(in_subtree, Tip.hidden_from_village.is_(False))
        conditions.append(in_subtree)
    return or_(*conditions) if conditions else false()


def visible_tips(user: User, *, status: TipStatus | None = None):
    """A SELECT of the tips in `user`'s scope, newest first."""
    query = (
        select(Tip)
        .join(_TipUnit, _TipUnit.id == Tip.unit_id)
        .where(reading_clause(user))
        .order_by(Tip.submitted_at.desc(), Tip.id.desc())
    )
    if status is not None:
        query = query.where(Tip.status == status)
    return query


def tip_for(user: User, public_id: str) -> Tip | None:
    """The tip with this URL id if `user` may read it; None for missing and out of scope alike."""
    return db.session.scalar(visible_tips(user).where(Tip.public_id == public_id))


def tip_by_reference_for(user: User, reference: str) -> Tip | None:
    return db.session.scalar(visible_tips(user).where(Tip.reference == reference))


def can_see_identity(tip: Tip, user: User) -> bool:
    """The identity tiers of DOMAIN.md: who may see a tipster's name and phone."""
    from tipline.accounts.models import Role
    from tipline.tips.models import Handler, IdentityTier

    if tip.identity_tier == IdentityTier.ANONYMOUS or tip.contact is None:
        return False
    roles = user.roles_over(tip.unit)
    if Role.COMMUNE_POLICE in roles:
        return True
    if tip.identity_tier == IdentityTier.NAMED:
        handling_team = tip.handler == Handler.VILLAGE_TEAM and not tip.hidden_from_village
        return handling_team and bool(roles & VILLAGE_TEAM)
    return False
