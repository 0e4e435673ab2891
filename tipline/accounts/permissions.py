"""Who may do what, and where: every permission of the staff side is decided here.

- The role groups (who reads tips, who triages, who settles, who manages accounts…).
- The level of the unit tree each role belongs to, checked by every path that gives a role.
- Scope: the units where a user holds some roles (`units_with`), and a SQL condition for
  "within any of these units" (`within`). The SQL form of tip scope is
  `tips.queries.reading_clause`, built from the groups below.
- One tip: the roles a user reads or acts with on it (`reading_roles`, `acting_roles`:
  the conflict-of-interest and hand-over rules), whether they may see its tipster
  (`can_see_identity`), and everything a tip page offers (`tip_permissions`).

The workflow's rules table names which of these groups may make each move.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, false, or_, select
from sqlalchemy.orm import aliased, selectinload

from tipline.accounts.models import Role, RoleAssignment, User
from tipline.core.errors import TiplineError
from tipline.extensions import db
from tipline.places.models import Unit, UnitLevel
from tipline.places.services import unit_sort_key

if TYPE_CHECKING:
    from tipline.tips.models import Tip
    from tipline.tips.workflow import Action

# --- role groups ---------------------------------------------------------------------------

VILLAGE_TEAM = frozenset({Role.TEAM_MEMBER, Role.VILLAGE_LEADER})
COMMUNE_STAFF = frozenset({Role.COMMUNE_POLICE, Role.COMMUNE_COMMITTEE})
# Roles that read tips in their subtree (administrators manage units and accounts only).
TIP_READERS = VILLAGE_TEAM | COMMUNE_STAFF | {Role.OFFICER}
# Who settles at village level, and who triages (settlers and team members).
SETTLERS = frozenset({Role.VILLAGE_LEADER}) | COMMUNE_STAFF
TRIAGERS = SETTLERS | {Role.TEAM_MEMBER}
NOTE_WRITERS = TRIAGERS
# Who writes to the tipster: whoever may act on the tip (read-only officers may not).
MESSAGE_WRITERS = TRIAGERS
# Who may move a tip to another commune, and edit a commune's ready-made replies.
COMMUNE_MOVERS = COMMUNE_STAFF
TEMPLATE_EDITORS = COMMUNE_STAFF
# Dashboards and reports; the commune's indicators are entered by its committee.
DASHBOARD_ROLES = COMMUNE_STAFF | {Role.OFFICER}
INDICATOR_ROLES = frozenset({Role.COMMUNE_COMMITTEE})
# Who keeps a commune's teams registry: its committee and police, administrators above.
KEEPERS = COMMUNE_STAFF | {Role.ADMIN}
# Who sees a confidential tipster, and so may export names.
IDENTITY_READERS = frozenset({Role.COMMUNE_POLICE})
# Alerts: who is told of every new tip and reply unless they choose less (a commune gets
# about one tip a day); who is told of a tip handed to the police or left unopened.
ALERT_EVERYTHING_ROLES = frozenset({Role.VILLAGE_LEADER, Role.COMMUNE_POLICE})
POLICE = frozenset({Role.COMMUNE_POLICE})

# Managing accounts: nobody gives a role ranked above their own, and only these manage.
RANK = {
    Role.TEAM_MEMBER: 1,
    Role.VILLAGE_LEADER: 2,
    Role.COMMUNE_COMMITTEE: 3,
    Role.COMMUNE_POLICE: 3,
    Role.OFFICER: 4,
    Role.ADMIN: 5,
}
MANAGERS = frozenset({Role.COMMUNE_POLICE, Role.ADMIN})
# Who prints the posters of every village of a commune in their scope; a village team
# prints its own villages' (issue 20).
POSTER_MAKERS = COMMUNE_STAFF | {Role.OFFICER, Role.ADMIN}

# --- the level each role belongs to (DOMAIN.md) ---------------------------------------------

ROLE_LEVELS: dict[Role, frozenset[UnitLevel]] = {
    Role.TEAM_MEMBER: frozenset({UnitLevel.VILLAGE}),
    Role.VILLAGE_LEADER: frozenset({UnitLevel.VILLAGE}),
    Role.COMMUNE_POLICE: frozenset({UnitLevel.COMMUNE}),
    Role.COMMUNE_COMMITTEE: frozenset({UnitLevel.COMMUNE}),
    # District or province; a national deployment's root is the country.
    Role.OFFICER: frozenset({UnitLevel.DISTRICT, UnitLevel.PROVINCE, UnitLevel.COUNTRY}),
    Role.ADMIN: frozenset(UnitLevel),
}


class RoleLevelError(TiplineError):
    """A role given at a level of the tree it does not belong to."""

    status_code = 400


def role_fits(role: Role, unit: Unit) -> bool:
    """Whether `role` may be held in `unit` (a village role in a village, and so on)."""
    return unit.level in ROLE_LEVELS[role]


def check_role_level(role: Role, unit: Unit) -> None:
    """Raise RoleLevelError, with a message saying where the role belongs, when it does not fit."""
    if not role_fits(role, unit):
        levels = ", ".join(str(level.label) for level in UnitLevel if level in ROLE_LEVELS[role])
        raise RoleLevelError(
            _l(
                "Vai trò “%(role)s” chỉ giao ở cấp: %(levels)s (không phải %(level)s).",
                role=role.label,
                levels=levels,
                level=unit.level.label,
            )
        )


# --- scope ------------------------------------------------------------------------------------


def units_with(user: User, roles: Iterable[Role], *, active_only: bool = False) -> list[Unit]:
    """The units where `user` holds any of `roles`, each once, in the order of the roles."""
    wanted = frozenset(roles)
    units: dict[int, Unit] = {}
    for assignment in user.roles:
        if assignment.role in wanted and (assignment.unit.active or not active_only):
            units.setdefault(assignment.unit.id, assignment.unit)
    return list(units.values())


def holds_any(user: User, roles: Iterable[Role]) -> bool:
    """Whether `user` holds any of `roles`, anywhere."""
    wanted = frozenset(roles)
    return any(a.role in wanted for a in user.roles)


def held_roles(user: User) -> frozenset[Role]:
    """Every role `user` holds, anywhere (the staff menu asks)."""
    return frozenset(a.role for a in user.roles)


def holds_over(user: User, unit: Unit, roles: Iterable[Role]) -> bool:
    """Whether `user` holds one of `roles` on `unit` or above it."""
    return bool(user.roles_over(unit) & frozenset(roles))


def within(units: Iterable[Unit]):
    """SQL condition on `Unit`: the row lies in the subtree of one of `units` (none: false)."""
    conditions = [unit.subtree_clause() for unit in units]
    return or_(*conditions) if conditions else false()


def scope_key(user: User) -> tuple:
    """What a cached answer about a user's scope depends on: their roles and units."""
    return tuple(sorted((a.unit_id, a.role.value) for a in user.roles))


# --- one tip ----------------------------------------------------------------------------------


def reading_roles(tip: Tip, user: User) -> set[Role]:
    """The roles `user` reads `tip` with: a tip handed over for a conflict of interest is
    hidden from its village team (the SQL form is `tips.queries.reading_clause`)."""
    return _reading(tip, user.roles_over(tip.unit))


def _reading(tip: Tip, roles_over: set[Role]) -> set[Role]:
    roles = roles_over & TIP_READERS
    if tip.hidden_from_village:
        roles -= VILLAGE_TEAM
    return roles


def acting_roles(tip: Tip, user: User) -> set[Role]:
    """The roles `user` may act with on `tip`, after scope, hand-over and conflict rules."""
    return _acting(tip, reading_roles(tip, user))


def _acting(tip: Tip, reading: set[Role]) -> set[Role]:
    from tipline.tips.models import Handler  # tips.models imports accounts: a real cycle

    if tip.handler == Handler.COMMUNE_POLICE:
        # Once handed to the commune police, only they move the tip on.
        return reading & {Role.COMMUNE_POLICE}
    return reading


def acting_staff(tip: Tip, roles: Iterable[Role] = TRIAGERS) -> list[User]:
    """Active staff who may act on `tip` with one of `roles` (whom an alert goes to).

    One query over the role rows held on the tip's unit or above it (the paths compared
    in SQL): a resident's submission calls this and loads no unit of its own.
    """
    wanted = frozenset(roles)
    holder, place = aliased(Unit), aliased(Unit)
    over: dict[int, set[Role]] = {}
    for user_id, role in db.session.execute(
        select(RoleAssignment.user_id, RoleAssignment.role)
        .join(User, User.id == RoleAssignment.user_id)
        .join(holder, holder.id == RoleAssignment.unit_id)
        .join(place, place.id == tip.unit_id)
        .where(place.path.startswith(holder.path), User.active.is_(True))
    ):
        over.setdefault(user_id, set()).add(role)
    ids = [uid for uid, held in over.items() if _acting(tip, _reading(tip, held)) & wanted]
    if not ids:
        return []
    return list(
        db.session.scalars(
            select(User)
            .where(User.id.in_(ids))
            .options(selectinload(User.roles).lazyload(RoleAssignment.unit))
            .order_by(User.id)
        )
    )


def can_read_tip(tip: Tip, user: User) -> bool:
    return bool(reading_roles(tip, user))


def can_see_identity(tip: Tip, user: User) -> bool:
    """The identity tiers of DOMAIN.md: who may see a tipster's name and phone."""
    from tipline.tips.models import Handler, IdentityTier

    if tip.identity_tier == IdentityTier.ANONYMOUS or tip.contact is None:
        return False
    roles = reading_roles(tip, user)
    if roles & IDENTITY_READERS:
        return True
    if tip.identity_tier == IdentityTier.NAMED:
        return tip.handler == Handler.VILLAGE_TEAM and bool(roles & VILLAGE_TEAM)
    return False


def unit_may_read(unit: Unit, tip: Tip) -> bool:
    """What a reader scoped to `unit` without a person behind it (a partner key) reads of a
    tip's details: its subtree; scoped to a village, not a tip hidden from that village's
    team (the SQL form is `tips.queries.unit_reading_clause`)."""
    if not unit.contains(tip.unit):
        return False
    return not (tip.hidden_from_village and unit.level == UnitLevel.VILLAGE)


def can_move_across_communes(tip: Tip, user: User) -> bool:
    return bool(acting_roles(tip, user) & COMMUNE_MOVERS)


def can_message(tip: Tip, user: User) -> bool:
    return bool(acting_roles(tip, user) & MESSAGE_WRITERS)


def can_assign(tip: Tip, user: User) -> bool:
    return bool(acting_roles(tip, user) & SETTLERS)


def can_be_assigned(tip: Tip, user: User) -> bool:
    return user.active and bool(acting_roles(tip, user) & TRIAGERS)


def can_set_priority(tip: Tip, user: User) -> bool:
    return bool(acting_roles(tip, user) & TRIAGERS)


def can_note(tip: Tip, user: User, *, to_tipster: bool = False) -> bool:
    if to_tipster:
        return bool(acting_roles(tip, user) & SETTLERS)
    return bool(reading_roles(tip, user) & NOTE_WRITERS)


@dataclass(frozen=True)
class TipPermissions:
    """What a tip page offers one staff member; computed once per page."""

    actions: tuple[Action, ...]
    can_note: bool
    can_note_tipster: bool
    can_see_identity: bool
    can_assign: bool
    can_set_priority: bool
    can_message: bool
    can_use_templates: bool
    can_move_across_communes: bool

    def allows(self, action: Action) -> bool:
        return action in self.actions


def tip_permissions(tip: Tip, user: User) -> TipPermissions:
    """Everything `user` may do with `tip`, for the staff views (they compute no flags)."""
    from tipline.tips import workflow  # the rules table asks this module for roles

    acting = acting_roles(tip, user)
    is_open = tip.is_open
    return TipPermissions(
        actions=tuple(workflow.allowed_actions(tip, user)),
        can_note=can_note(tip, user),
        can_note_tipster=bool(acting & SETTLERS),
        can_see_identity=can_see_identity(tip, user),
        can_assign=bool(acting & SETTLERS) and is_open,
        can_set_priority=bool(acting & TRIAGERS) and is_open,
        can_message=bool(acting & MESSAGE_WRITERS) and workflow.accepts_messages(tip),
        can_use_templates=bool(acting & SETTLERS),
        can_move_across_communes=bool(acting & COMMUNE_MOVERS),
    )


# --- accounts, registry, reports, keys: scopes that are not tips -----------------------------


def managed_units(actor: User) -> list[tuple[Unit, int]]:
    """The units whose subtrees `actor` manages, each with the highest rank they may give."""
    reach: dict[int, tuple[Unit, int]] = {}
    for assignment in actor.roles:
        if assignment.role in MANAGERS and assignment.unit.active:
            rank = RANK[assignment.role]
            unit = assignment.unit
            if reach.get(unit.id, (unit, 0))[1] < rank:
                reach[unit.id] = (unit, rank)
    return list(reach.values())


def can_manage(actor: User) -> bool:
    return bool(managed_units(actor))


def rank_over(actor: User, unit: Unit) -> int:
    """The highest rank `actor` may give in `unit` (0: none)."""
    return max((rank for root, rank in managed_units(actor) if root.contains(unit)), default=0)


def can_give(actor: User, role: Role, unit: Unit) -> bool:
    """Whether `actor` may give `role` in `unit`: within reach, and at the role's level."""
    return actor.active and role_fits(role, unit) and RANK[role] <= rank_over(actor, unit)


def can_manage_user(actor: User, user: User) -> bool:
    """Every role the user holds lies in the actor's reach (so nobody edits a superior)."""
    if user.id == actor.id or not user.roles:
        return False
    return all(actor.active and RANK[a.role] <= rank_over(actor, a.unit) for a in user.roles)


def admin_units(user: User) -> list[Unit]:
    """Units where `user` is administrator (active ones: retired units give no reach)."""
    return units_with(user, {Role.ADMIN}, active_only=True)


def is_admin_over(user: User, unit: Unit) -> bool:
    return any(root.contains(unit) for root in admin_units(user))


def can_keep_registry(user: User, commune: Unit) -> bool:
    return holds_over(user, commune, KEEPERS)


def dashboard_units(user: User) -> list[Unit]:
    """The units whose dashboard `user` may open: their own, without those below another."""
    units = units_with(user, DASHBOARD_ROLES)
    tops = [u for u in units if not any(o.id != u.id and o.contains(u) for o in units)]
    return sorted(tops, key=lambda u: (u.path.count("/"), unit_sort_key(u)))


def indicator_communes(user: User) -> list[Unit]:
    """Communes whose indicators `user` may enter (the commune committee's own)."""
    communes = [u for u in units_with(user, INDICATOR_ROLES) if u.level == UnitLevel.COMMUNE]
    return sorted(communes, key=unit_sort_key)


def may_export_identity(user: User) -> bool:
    return holds_any(user, IDENTITY_READERS)


def template_communes(user: User, *, manage: bool = False) -> list[Unit]:
    """Communes whose ready-made replies `user` may use (or, with manage, edit)."""
    roles = TEMPLATE_EDITORS if manage else TRIAGERS
    communes: dict[int, Unit] = {}
    for unit in units_with(user, roles):
        commune = unit.commune
        if commune is not None and (not manage or unit.level == UnitLevel.COMMUNE):
            communes.setdefault(commune.id, commune)
    return list(communes.values())


def poster_communes(user: User) -> list[Unit]:
    """Communes with at least one village whose poster `user` may print."""
    communes: dict[int, Unit] = {}
    for unit in units_with(user, POSTER_MAKERS | VILLAGE_TEAM, active_only=True):
        if unit.level in (UnitLevel.COMMUNE, UnitLevel.VILLAGE):
            commune = unit.commune
            if commune is not None:
                communes.setdefault(commune.id, commune)
        else:
            for commune in db.session.scalars(
                select(Unit).where(
                    unit.subtree_clause(), Unit.level == UnitLevel.COMMUNE, Unit.active
                )
            ):
                communes.setdefault(commune.id, commune)
    return sorted(communes.values(), key=unit_sort_key)


def poster_villages(user: User, commune: Unit, villages: Iterable[Unit]) -> list[Unit]:
    """Of `commune`'s villages, those whose poster `user` may print: all of them for its
    staff and those above it, a village team's own villages otherwise."""
    if holds_over(user, commune, POSTER_MAKERS):
        return list(villages)
    own = {unit.id for unit in units_with(user, VILLAGE_TEAM)}
    return [village for village in villages if village.id in own]


def menu_links(user: User) -> dict[str, bool]:
    """Which pages the staff menus offer `user`: only those their roles may open (a test
    follows every link of every menu, for every role, and expects no 403)."""
    roles = held_roles(user) if user.is_authenticated else frozenset()
    return {
        "admin": bool(roles & MANAGERS),
        "teams": bool(roles & KEEPERS),
        "administrator": Role.ADMIN in roles,
        "police": Role.COMMUNE_POLICE in roles,
        "reports": bool(roles & DASHBOARD_ROLES),
        "indicators": bool(roles & INDICATOR_ROLES),
        "record": bool(roles & TRIAGERS),
        "templates": bool(roles & TEMPLATE_EDITORS),
        "village": bool(roles & VILLAGE_TEAM),
        "posters": bool(roles & (POSTER_MAKERS | VILLAGE_TEAM)),
    }


def start_page(user: User) -> str:
    """The endpoint a staff member lands on after signing in: a village team its village's
    page, an administrator who reads no tips the administration, everyone else the inbox."""
    roles = held_roles(user)
    if roles & VILLAGE_TEAM:
        return "staff.village_home"
    if Role.ADMIN in roles and not roles & TIP_READERS:
        return "admin.index"
    return "staff.inbox"


def misplaced_roles() -> list[RoleAssignment]:
    """Role rows that break the level rule (given before it existed, or written around it)."""
    wrong = [
        and_(RoleAssignment.role == role, Unit.level.not_in(levels))
        for role, levels in ROLE_LEVELS.items()
        if levels != frozenset(UnitLevel)
    ]
    return list(
        db.session.scalars(
            select(RoleAssignment)
            .join(Unit, Unit.id == RoleAssignment.unit_id)
            .where(or_(*wrong))
            .order_by(RoleAssignment.id)
        )
    )
