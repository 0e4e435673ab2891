"""The teams registry: kept by the commune, counted for the annual report."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from tipline.core.timeutil import local_today
from tipline.extensions import db
from tipline.teams.models import MemberRole, Team, TeamKind
from tipline.teams.services import registry_counts


def add_team(client, **fields):
    data = {
        "kind": "protection_teams",
        "name": "Tổ bảo vệ ANTT thôn Đông",
        "unit": "A1",
        "established_on": "2024-03-01",
        "leader": "Lê Văn Tổ",
    }
    data.update(fields)
    return client.post("/staff/to-chuc/A", data=data)


def test_committee_keeps_the_registry_of_its_commune(world, login):
    committee = login("committee_a")
    assert committee.get("/staff/to-chuc/").location.endswith("/staff/to-chuc/A")
    response = add_team(committee)
    assert response.status_code == 302
    team = db.session.scalar(select(Team))
    assert (team.kind, team.unit.code, team.commune.code) == (TeamKind.PROTECTION_TEAM, "A1", "A")
    assert team.leader.full_name == "Lê Văn Tổ"
    page = committee.get(f"/staff/to-chuc/doi/{team.public_id}")
    assert page.status_code == 200 and "no-store" in page.headers["Cache-Control"]

    added = committee.post(
        f"/staff/to-chuc/doi/{team.public_id}/thanh-vien",
        data={"full_name": "Phạm Thị Viên", "role": "member", "phone": "0912 345 678"},
    )
    assert added.status_code == 302
    db.session.expire_all()
    assert [(m.full_name, m.role) for m in team.members] == [
        ("Lê Văn Tổ", MemberRole.LEADER),
        ("Phạm Thị Viên", MemberRole.MEMBER),
    ]
    html = committee.get("/staff/to-chuc/A").get_data(as_text=True)
    assert "Tổ bảo vệ ANTT thôn Đông" in html and "2 người" in html

    member_id = team.members[1].id
    removed = committee.post(
        f"/staff/to-chuc/doi/{team.public_id}/thanh-vien/xoa", data={"member": str(member_id)}
    )
    assert removed.status_code == 302
    db.session.expire_all()
    assert len(team.members) == 1


def test_bad_entries_are_explained_and_nothing_is_saved(world, login):
    committee = login("committee_a")
    for fields, message in (
        ({"name": ""}, "Hãy nhập tên."),
        ({"unit": "B1"}, "Not a valid choice"),
        ({"kind": "nonsense"}, "Not a valid choice"),
        ({"established_on": "32/13/2024"}, "Not a valid date value"),
    ):
        response = add_team(committee, **fields)
        assert response.status_code == 422, fields
        assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(Team)) is None


def test_a_dissolution_before_the_founding_is_refused(world, login):
    committee = login("committee_a")
    add_team(committee)
    team = db.session.scalar(select(Team))
    response = committee.post(
        f"/staff/to-chuc/doi/{team.public_id}/giai-the", data={"on": "2023-01-01"}
    )
    assert response.status_code == 400
    assert "trước ngày thành lập" in response.get_data(as_text=True)
    ok = committee.post(f"/staff/to-chuc/doi/{team.public_id}/giai-the", data={"on": "2025-06-30"})
    assert ok.status_code == 302
    db.session.expire_all()
    assert team.dissolved_on == date(2025, 6, 30)


@pytest.mark.parametrize("name", ["leader_a1", "member_a1", "officer", "police_b", "leader_b1"])
def test_others_cannot_reach_commune_a_registry(world, login, name):
    client = login("committee_a")
    add_team(client)
    team = db.session.scalar(select(Team))
    other = login(name)
    assert other.get("/staff/to-chuc/A").status_code == 404
    assert other.get(f"/staff/to-chuc/doi/{team.public_id}").status_code == 404
    assert (
        other.post(f"/staff/to-chuc/doi/{team.public_id}/giai-the", data={"on": "2025-01-01"})
    ).status_code == 404


def test_registry_counts_teams_active_on_the_day(world, login):
    committee = login("committee_a")
    add_team(committee)
    add_team(committee, kind="steering_committees", name="Ban chỉ đạo xã An Bình", unit="A")
    add_team(committee, name="Tổ cũ", established_on="2020-01-01")
    old = db.session.scalar(select(Team).where(Team.name == "Tổ cũ"))
    committee.post(f"/staff/to-chuc/doi/{old.public_id}/giai-the", data={"on": "2024-01-01"})

    counts = registry_counts(world.province, date(2024, 12, 31))
    assert counts == {world.commune_a.id: {"protection_teams": 1, "steering_committees": 1}}
    earlier = registry_counts(world.province, date(2023, 6, 30))
    assert earlier == {world.commune_a.id: {"protection_teams": 1}}  # only the old team then
    assert registry_counts(world.commune_b, date(2024, 12, 31)) == {}


def test_team_page_lists_each_kind(world, login):
    html = login("police_a").get("/staff/to-chuc/A").get_data(as_text=True)
    for kind in TeamKind:
        assert str(kind.label) in html
    assert re.search(r"Tổ hòa giải <span class=\"muted\">\(0\)", html)


def test_the_registry_page_counts_by_the_reports_rule(world, login):
    """The page's count per kind is the annual report's: teams active today (a team founded
    later is not counted yet; a dissolved one no longer)."""
    committee = login("committee_a")
    add_team(committee, name="Tổ đang hoạt động")
    add_team(committee, name="Tổ sẽ thành lập", established_on="2999-01-01")
    add_team(committee, name="Tổ cũ", established_on="2020-01-01")
    old = db.session.scalar(select(Team).where(Team.name == "Tổ cũ"))
    committee.post(f"/staff/to-chuc/doi/{old.public_id}/giai-the", data={"on": "2024-01-01"})
    html = committee.get("/staff/to-chuc/A").get_data(as_text=True)
    assert re.search(r"Tổ bảo vệ ANTT thôn, bản, khu phố <span class=\"muted\">\(1\)", html)
    today = local_today()
    assert registry_counts(world.province, today)[world.commune_a.id]["protection_teams"] == 1
