"""Keeping the teams registry, and the counts the annual report takes from it."""

from __future__ import annotations

from collections import Counter
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from tipline.accounts.models import User
from tipline.accounts.permissions import KEEPERS, can_keep_registry, units_with, within
from tipline.core.errors import NotAllowed, TiplineError
from tipline.extensions import db
from tipline.places.models import Unit, UnitLevel
from tipline.places.services import unit_sort_key
from tipline.teams.models import MemberRole, Team, TeamKind, TeamMember, active_on


def kept_communes(user: User) -> list[Unit]:
    """The active communes whose registry `user` keeps, in Vietnamese order."""
    roots = units_with(user, KEEPERS)
    if not roots:
        return []
    communes = db.session.scalars(
        select(Unit).where(within(roots), Unit.level == UnitLevel.COMMUNE, Unit.active)
    )
    return sorted(communes, key=unit_sort_key)


def teams_of(commune: Unit) -> list[Team]:
    return list(
        db.session.scalars(
            select(Team)
            .where(Team.commune_id == commune.id)
            .order_by(Team.kind, Team.dissolved_on.is_not(None), Team.name)
        )
    )


def add_team(
    user: User,
    commune: Unit,
    *,
    kind: TeamKind,
    name: str,
    unit: Unit,
    established_on: date | None = None,
    leader: str | None = None,
) -> Team:
    if not can_keep_registry(user, commune):
        raise NotAllowed(_l("Bạn không quản lý sổ tổ chức của xã này."))
    if not commune.contains(unit):
        raise TiplineError(_l("Nơi hoạt động phải thuộc xã."))
    team = Team(commune=commune, unit=unit, kind=kind, name=name, established_on=established_on)
    if leader:
        team.members.append(TeamMember(full_name=leader, role=MemberRole.LEADER))
    db.session.add(team)
    db.session.flush()
    return team


def add_member(user: User, team: Team, full_name: str, role: MemberRole, phone: str | None):
    if not can_keep_registry(user, team.commune):
        raise NotAllowed(_l("Bạn không quản lý sổ tổ chức của xã này."))
    member = TeamMember(full_name=full_name, role=role, phone=phone or None)
    team.members.append(member)
    db.session.flush()
    return member


def remove_member(user: User, member: TeamMember) -> None:
    if not can_keep_registry(user, member.team.commune):
        raise NotAllowed(_l("Bạn không quản lý sổ tổ chức của xã này."))
    member.team.members.remove(member)
    db.session.flush()


def dissolve(user: User, team: Team, on: date) -> None:
    if not can_keep_registry(user, team.commune):
        raise NotAllowed(_l("Bạn không quản lý sổ tổ chức của xã này."))
    if team.established_on is not None and on < team.established_on:
        raise TiplineError(_l("Ngày giải thể không thể trước ngày thành lập."))
    team.dissolved_on = on
    db.session.flush()


def active_counts(teams: list[Team], on: date) -> Counter[TeamKind]:
    """Teams active on `on`, by kind: the registry page's counts, by the report's rule."""
    return Counter(team.kind for team in teams if team.active_on(on))


# --- what the annual report reads ------------------------------------------------------------


def registry_counts(root: Unit, on: date) -> dict[int, Counter[str]]:
    """Teams active on `on` by TeamKind value, per commune of `root`'s subtree.

    A commune keeps a registry once it has any team in it (it then has an entry here,
    even with nothing active); its counts replace the entered indicators in the annual
    report, which names the source of each figure.
    """
    rows = db.session.execute(
        select(Team.commune_id, Team.kind, Team.established_on, Team.dissolved_on)
        .join(Unit, Unit.id == Team.commune_id)
        .where(root.subtree_clause())
    )
    per: dict[int, Counter[str]] = {}
    for commune_id, kind, established, dissolved in rows:
        tally = per.setdefault(commune_id, Counter())
        if active_on(established, dissolved, on):
            tally[kind.value] += 1
    return per
