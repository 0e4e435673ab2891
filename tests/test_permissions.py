"""The permissions room: role levels, tip permissions, what a page may name, form integers."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tipline.accounts import permissions
from tipline.accounts.models import Role, RoleAssignment, User
from tipline.accounts.permissions import ROLE_LEVELS, RoleLevelError, check_role_level, role_fits
from tipline.accounts.services import create_user, grant
from tipline.extensions import db
from tipline.places.models import UnitLevel
from tipline.tips import workflow
from tipline.tips.models import Tip
from tipline.tips.workflow import Action

from .conftest import ACCOUNTS

# --- every role belongs to one level of the tree ------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_each_role_fits_only_its_levels(world, role):
    for unit in (world.province, world.commune_a, world.a1):
        assert role_fits(role, unit) == (unit.level in ROLE_LEVELS[role])
        if not role_fits(role, unit):
            with pytest.raises(RoleLevelError):
                check_role_level(role, unit)


def test_the_levels_are_those_of_the_domain():
    village, commune = {UnitLevel.VILLAGE}, {UnitLevel.COMMUNE}
    assert ROLE_LEVELS[Role.TEAM_MEMBER] == ROLE_LEVELS[Role.VILLAGE_LEADER] == village
    assert ROLE_LEVELS[Role.COMMUNE_POLICE] == ROLE_LEVELS[Role.COMMUNE_COMMITTEE] == commune
    assert {UnitLevel.DISTRICT, UnitLevel.PROVINCE} <= ROLE_LEVELS[Role.OFFICER]
    assert not ROLE_LEVELS[Role.OFFICER] & (village | commune)
    assert ROLE_LEVELS[Role.ADMIN] == frozenset(UnitLevel)


def test_grant_refuses_a_role_at_the_wrong_level(world):
    """The one place every path gives a role through (web, CLI, demo)."""
    user = create_user("nguoimoi", "Người Mới", "mat khau dai du dung")
    with pytest.raises(RoleLevelError):
        grant(user, Role.COMMUNE_POLICE, world.province)
    with pytest.raises(RoleLevelError):
        grant(user, Role.VILLAGE_LEADER, world.commune_a)
    db.session.rollback()
    assert db.session.scalar(select(User).where(User.username == "nguoimoi")) is None


def test_administrator_cannot_make_a_province_level_commune_police(world, login):
    """The review's case: role=commune_police&unit=<province> made police over every commune."""
    admin = login("admin")
    response = admin.post(
        "/admin/users/new",
        data={
            "username": "cong_an_tinh",
            "full_name": "Công An Tỉnh",
            "role": "commune_police",
            "unit": world.province.code,
        },
    )
    assert response.status_code == 400
    assert "chỉ giao ở cấp" in response.get_data(as_text=True)
    assert db.session.scalar(select(User).where(User.username == "cong_an_tinh")) is None


def test_commune_police_cannot_make_a_village_leader_at_commune_level(world, login):
    police = login("police_a")
    response = police.post(
        "/admin/users/new",
        data={
            "username": "totruong_xa",
            "full_name": "Tổ Trưởng Xã",
            "role": "village_leader",
            "unit": world.commune_a.code,
        },
    )
    assert response.status_code == 400
    assert db.session.scalar(select(User).where(User.username == "totruong_xa")) is None
    # …while the same role in a village is given.
    ok = police.post(
        "/admin/users/new",
        data={
            "username": "totruong_thon",
            "full_name": "Tổ Trưởng Thôn",
            "role": "village_leader",
            "unit": world.a2.code,
        },
    )
    assert ok.status_code == 200


def test_adding_a_role_at_the_wrong_level_to_an_account_is_refused(world, login):
    police = login("police_a")
    response = police.post(
        "/admin/users/member_a1/roles", data={"role": "team_member", "unit": world.commune_a.code}
    )
    assert response.status_code == 400
    member = world.user("member_a1")
    assert [(a.role, a.unit_id) for a in member.roles] == [(Role.TEAM_MEMBER, world.a1.id)]


def test_the_test_world_itself_keeps_the_rule(world):
    for name in ACCOUNTS:
        for assignment in world.user(name).roles:
            assert role_fits(assignment.role, assignment.unit), name


def test_role_level_check_command_lists_rows_that_break_the_rule(world, app, runner):
    """Rows from before the rule are found (and nothing else); the command exits 1 for them."""
    clean = runner.invoke(args=["tipline", "roles", "check"])
    assert clean.exit_code == 0 and "Every role is held at its level." in clean.output
    wrong = RoleAssignment(
        user_id=world.users["officer"].id, unit_id=world.province.id, role=Role.COMMUNE_POLICE
    )
    db.session.add(wrong)  # written around grant(), as an old row would be
    db.session.commit()
    assert [(a.user.username, a.role) for a in permissions.misplaced_roles()] == [
        ("officer", Role.COMMUNE_POLICE)
    ]
    found = runner.invoke(args=["tipline", "roles", "check"])
    assert found.exit_code == 1
    assert found.output.splitlines() == ["officer: commune_police at T (Tỉnh Thử, province)"]
    db.session.delete(wrong)
    db.session.commit()
    assert permissions.misplaced_roles() == []


# --- one tip's permissions ------------------------------------------------------------------


def test_tip_permissions_follow_the_rules_table(world, make_tip):
    tip = make_tip(world.a1)
    member = permissions.tip_permissions(tip, world.user("member_a1"))
    assert member.actions == (Action.TRIAGE,)
    assert member.can_note and member.can_message and member.can_set_priority
    assert not member.can_assign and not member.can_note_tipster
    officer = permissions.tip_permissions(tip, world.user("officer"))
    assert officer.actions == () and not officer.can_note and not officer.can_message
    police = permissions.tip_permissions(tip, world.user("police_a"))
    assert police.can_assign and police.can_move_across_communes and police.can_use_templates
    outsider = permissions.tip_permissions(tip, world.user("leader_b1"))
    assert outsider == permissions.tip_permissions(tip, world.user("admin"))
    assert outsider.actions == () and not any(
        getattr(outsider, name) for name in outsider.__dataclass_fields__ if name != "actions"
    )


def test_a_hidden_tip_gives_its_village_team_nothing(world, make_tip):
    tip = make_tip(world.a1)
    workflow.transition(tip, Action.ESCALATE, world.user("police_a"), conflict_of_interest=True)
    db.session.commit()
    for name in ("member_a1", "leader_a1"):
        user = world.user(name)
        assert permissions.reading_roles(tip, user) == set()
        assert not permissions.can_read_tip(tip, user)
        assert permissions.tip_permissions(tip, user).actions == ()


# --- what a page names --------------------------------------------------------------------


def test_village_team_does_not_see_the_reference_of_a_hidden_tip_merged_into(
    world, make_tip, login
):
    """A visible tip marked a duplicate of a hidden one: the hidden one's reference stays hidden."""
    police = world.user("police_a")
    hidden = make_tip(world.a1, description="Tin về người quen của tổ trưởng.")
    workflow.transition(hidden, Action.ESCALATE, police, conflict_of_interest=True)
    visible = make_tip(world.a1)
    workflow.transition(visible, Action.MARK_DUPLICATE, police, duplicate_of=hidden)
    db.session.commit()
    leader = login("leader_a1")
    for url in (f"/staff/tips/{visible.public_id}", f"/staff/tips/{visible.public_id}/print"):
        page = leader.get(url).get_data(as_text=True)
        assert hidden.reference not in page, url
        assert "ngoài phạm vi của bạn" in page
    # Commune police, who read both, still see it.
    page = login("police_a").get(f"/staff/tips/{visible.public_id}").get_data(as_text=True)
    assert hidden.reference in page


# --- integers from forms, names through assignments ---------------------------------------


@pytest.mark.parametrize("value", ["99999999999999999999999", "2147483648", "٣", "-1", "0"])
def test_huge_or_odd_ids_in_forms_are_a_clear_4xx(world, make_tip, login, value):
    tip = make_tip(world.a1)
    leader = login("leader_a1")
    response = leader.post(
        f"/staff/tips/{tip.public_id}/assign", data={"assignee": value, "version": tip.version}
    )
    assert response.status_code == 409
    assert "Không giao được tin báo cho người này." in response.get_data(as_text=True)
    bulk = leader.post(
        "/staff/bulk",
        data={"tips": [tip.public_id], "operation": "assign", "assignee": value, "back": "/staff/"},
    )
    assert bulk.status_code == 303
    police = login("police_a")
    deleted = police.post("/staff/templates/delete", data={"template": value})
    assert deleted.status_code == 404


@pytest.mark.parametrize("who", ["admin", "police_b", "leader_b1", "inactive", "missing"])
def test_assigning_names_nobody_the_caller_may_not_assign(world, make_tip, login, who):
    """The answer for an administrator, another commune's staff, an inactive account and an
    id that names nobody is one and the same, and carries no name."""
    tip = make_tip(world.a1)
    if who == "inactive":
        user = create_user("ngunghoatdong", "Người Đã Nghỉ", "mat khau dai du dung")
        grant(user, Role.TEAM_MEMBER, world.a1)
        user.active = False
        db.session.commit()
        target, name = str(user.id), user.full_name
    elif who == "missing":
        target, name = "987654", None
    else:
        user = world.user(who)
        target, name = str(user.id), user.full_name
    response = login("leader_a1").post(
        f"/staff/tips/{tip.public_id}/assign", data={"assignee": target, "version": tip.version}
    )
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Không giao được tin báo cho người này." in page
    if name:
        assert name not in page
    assert db.session.get(Tip, tip.id).assignee_id is None


@pytest.mark.parametrize(
    "back",
    ["/\t/evil.example", "//evil.example", "/staff/\r\nSet-Cookie: x=1", "https://evil.example/"],
)
def test_bulk_form_goes_back_only_to_a_path_of_this_site(world, make_tip, login, back):
    tip = make_tip(world.a1)
    response = login("leader_a1").post(
        "/staff/bulk", data={"tips": [tip.public_id], "operation": "triage", "back": back}
    )
    assert response.status_code == 303
    assert response.location == "/staff/"
