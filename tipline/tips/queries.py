"""The one scoping query: which tips a staff member may read.

The inbox, the tip page, photos, exports and the API all go through here, so a
tip outside one's subtree (or hidden from one's village team) is simply absent.
"""

from __future__ import annotations

from sqlalchemy import and_, false, or_, select
from sqlalchemy.orm import aliased

from tipline.accounts.models import Role, User
from tipline.accounts.permissions import TIP_READERS, VILLAGE_TEAM, units_with
from tipline.extensions import db
from tipline.places.models import Unit, UnitLevel
from tipline.tips.models import OPEN_STATUSES, Handler, Tip, TipStatus
from tipline.tips.workflow import RULES, Action

# The unit of the tip being filtered: queries that scope tips join it under this name.
TipUnit = aliased(Unit, name="tip_unit")


def reading_clause(user: User):
    """SQL condition on (Tip, TipUnit) true for the tips `user` may read.

    The SQL form of `permissions.reading_roles`: a village team does not read a tip
    handed to the commune police for a conflict of interest.
    """
    conditions = [_in_subtree(unit) for unit in units_with(user, TIP_READERS - VILLAGE_TEAM)]
    conditions += [
        and_(_in_subtree(unit), Tip.hidden_from_village.is_(False))
        for unit in units_with(user, VILLAGE_TEAM)
    ]
    return or_(*conditions) if conditions else false()


def acting_clause(user: User):
    """SQL condition on (Tip, TipUnit) true for the open tips on which the workflow allows
    `user` at least one move: the SQL form of `bool(workflow.allowed_actions(tip, user))`
    for open tips (the inbox's default view; tests compare the two on every pair)."""
    conditions = []
    for role in {a.role for a in user.roles}:
        by_handler = [
            and_(Tip.handler == handler, Tip.status.in_(states))
            for handler in Handler
            if (states := acting_states(role, handler))
        ]
        if not by_handler:
            continue
        for unit in units_with(user, {role}):
            condition = and_(_in_subtree(unit), or_(*by_handler))
            if role in VILLAGE_TEAM:
                condition = and_(condition, Tip.hidden_from_village.is_(False))
            conditions.append(condition)
    if not conditions:
        return false()
    # Spelled out so PostgreSQL reads the open tips through their partial index.
    return and_(Tip.status.in_(OPEN_STATUSES), or_(*conditions))


def acting_states(role: Role, handler: Handler) -> frozenset[TipStatus]:
    """The open states in which `role` may make some move on a tip handled by `handler`
    (read from the workflow's rules; `permissions.acting_roles` and `workflow.check` say
    the same for one tip)."""
    if handler == Handler.COMMUNE_POLICE and role != Role.COMMUNE_POLICE:
        return frozenset()  # acting_roles: once handed over, only the police move it on
    states: set[TipStatus] = set()
    for action, rule in RULES.items():
        if role not in rule.roles:
            continue
        if action == Action.ESCALATE and handler == Handler.COMMUNE_POLICE:
            continue  # already with the commune police
        states |= rule.sources
    return frozenset(states & OPEN_STATUSES)


def unit_reading_clause(unit: Unit):
    """SQL form of `permissions.unit_may_read` (a partner key's scope), on (Tip, TipUnit)."""
    if unit.level == UnitLevel.VILLAGE:
        return and_(_in_subtree(unit), Tip.hidden_from_village.is_(False))
    return _in_subtree(unit)


def _in_subtree(unit: Unit):
    return TipUnit.path.startswith(unit.path, autoescape=True)


def visible_tips(user: User, *, status: TipStatus | None = None):
    """A SELECT of the tips in `user`'s scope, newest first."""
    query = (
        select(Tip)
        .join(TipUnit, TipUnit.id == Tip.unit_id)
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
