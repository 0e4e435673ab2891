"""Indicators entered by the commune committee, and the annual review report built on them."""

from __future__ import annotations

import io

import pytest
import time_machine
from openpyxl import load_workbook
from sqlalchemy import select

from tests.reports_story import NOW, build
from tipline.extensions import db
from tipline.reports.indicators import indicator_sums, store_indicator
from tipline.reports.models import INDICATOR_NAMES, Indicator
from tipline.reports.periods import parse_period
from tipline.reports.review import REGISTRY, REGISTRY_AND_INDICATOR, annual_review

FORM = {
    "commune": "A",
    "period_start": "2026-01-01",
    "period_end": "2026-12-31",
    "steering_committees": "1",
    "protection_teams": "2",
    "social_security_teams": "12",
    "patrol_teams": "2",
    "mediation_teams": "3",
    "self_managed_areas": "2",
    "disputes_mediated": "4",
    "people_managed": "9",
    "people_improved": "4",
    "wanted_surrendered": "1",
}


@pytest.fixture
def story(world, make_tip):
    return build(world, make_tip)


@time_machine.travel(NOW, tick=False)
def test_committee_enters_indicators_and_can_correct_them(login, world):
    client = login("committee_a")
    assert client.get("/staff/bao-cao/chi-tieu").status_code == 200
    response = client.post("/staff/bao-cao/chi-tieu", data=FORM)
    assert response.status_code == 302
    client.post("/staff/bao-cao/chi-tieu", data=dict(FORM, patrol_teams="5", mediation_teams=""))
    row = db.session.scalars(select(Indicator)).one()
    assert (row.unit_id, row.patrol_teams, row.mediation_teams) == (world.commune_a.id, 5, None)
    assert row.entered_by_id == world.users["committee_a"].id
    assert "Xã An Bình" in client.get("/staff/bao-cao/chi-tieu").get_data(as_text=True)


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"patrol_teams": "-1"}, "từ 0 đến 10.000.000"),
        ({"patrol_teams": "nhiều"}, ""),
        ({"people_improved": "10"}, "không thể lớn hơn"),
        ({"period_end": "2025-01-01"}, "phải sau ngày bắt đầu"),
        ({"period_start": ""}, "Hãy nhập ngày bắt đầu"),
        ({"commune": "B"}, ""),
    ],
)
def test_bad_indicators_are_refused_with_a_message(login, world, change, message):
    response = login("committee_a").post("/staff/bao-cao/chi-tieu", data=dict(FORM, **change))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.scalars(select(Indicator)).all() == []


def test_only_the_commune_committee_enters_indicators(login, world):
    for name in ("police_a", "officer", "leader_a1"):
        assert login(name).get("/staff/bao-cao/chi-tieu").status_code == 403
        assert login(name).post("/staff/bao-cao/chi-tieu", data=FORM).status_code == 403


def test_indicators_roll_up_from_communes_inside_the_period(world):
    period = parse_period("2026")
    values = {name: 2 for name in INDICATOR_NAMES}
    for commune in (world.commune_a, world.commune_b):
        store_indicator(
            commune, period.start, period.end, values, entered_by=world.users["committee_a"]
        )
    # A figure from another period is not added in.
    store_indicator(
        world.commune_a,
        parse_period("2025").start,
        parse_period("2025").end,
        values,
        entered_by=None,
    )
    sums = indicator_sums(world.province, period)
    assert sums.values["patrol_teams"] == 4
    assert (sums.communes_entered, sums.communes_total) == (2, 2)
    assert indicator_sums(world.commune_b, period).values["patrol_teams"] == 2


@time_machine.travel(NOW, tick=False)
def test_review_follows_the_seed_order_with_tips_computed_and_sources_named(login, story):
    client = login("committee_a")
    client.post("/staff/bao-cao/chi-tieu", data=FORM)
    html = login("officer").get("/staff/bao-cao/so-ket?ky=2026").get_data(as_text=True)
    order = [html.index(f'id="review-{n}"') for n in ("1", "2", "3", "4", "5", "6", "7", "8")]
    assert order == sorted(order)
    row = html[html.index('id="review-4"') :].split("</tr>")[0]
    assert 'class="num">10<' in row and "Tính từ tin báo" in row
    # Mediations: 4 entered plus the five tips resolved as mediated.
    row = html[html.index('id="review-8"') :].split("</tr>")[0]
    assert 'class="num">9<' in row and "nhập 4, tin báo 5" in row
    row = html[html.index('id="review-10"') :].split("</tr>")[0]
    assert 'class="num">7<' in row
    row = html[html.index('id="review-5"') :].split("</tr>")[0]
    assert 'class="num">2<' in row and "Chỉ tiêu do Ban chỉ đạo xã nhập" in row
    assert "style=" not in html


@time_machine.travel(NOW, tick=False)
def test_review_as_xlsx_and_pdf(login, story):
    client = login("police_b")
    response = client.get("/staff/bao-cao/so-ket.xlsx?ky=2026")
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    rows = list(sheet.iter_rows(values_only=True))
    received = next(r for r in rows if r and r[0] == "4")
    assert received[2] == 2  # commune B's two tips
    if services_pdf_available():
        pdf = client.get("/staff/bao-cao/so-ket.pdf?ky=2026")
        assert pdf.status_code == 200 and pdf.get_data().startswith(b"%PDF")


def services_pdf_available() -> bool:
    from tipline.reports.review_pdf import font_files

    return font_files() is not None


@time_machine.travel(NOW, tick=False)
def test_review_of_a_unit_outside_scope_is_404(login, story):
    assert login("police_b").get("/staff/bao-cao/so-ket?don-vi=A").status_code == 404


@time_machine.travel(NOW, tick=False)
def test_public_page_shows_the_latest_review(client, login, story):
    login("committee_a").post("/staff/bao-cao/chi-tieu", data=FORM)
    html = client.get("/so-lieu").get_data(as_text=True)
    assert "Sơ kết gần nhất" in html
    row = html[html.index('id="review-3"') :].split("</tr>")[0]
    assert 'class="num">12<' in row
    # Small numbers are hidden in public, and the entered/tips split is not shown.
    row = html[html.index('id="review-11"') :].split("</tr>")[0]
    assert "&lt; 3" in row and "tin báo" not in row.split("</th>")[1].split("source")[0]


@time_machine.travel(NOW, tick=False)
def test_teams_registry_counts_replace_a_communes_entered_team_counts(login, world, story):
    from tipline.teams.models import Team, TeamKind

    login("committee_a").post("/staff/bao-cao/chi-tieu", data=FORM)  # 2 patrol teams entered
    db.session.add_all(
        [
            Team(commune=world.commune_a, unit=world.a1, kind=TeamKind.PATROL_TEAM, name="T1"),
            Team(commune=world.commune_a, unit=world.a2, kind=TeamKind.PATROL_TEAM, name="T2"),
            Team(commune=world.commune_a, unit=world.a2, kind=TeamKind.PATROL_TEAM, name="T3"),
            Team(
                commune=world.commune_a,
                unit=world.a2,
                kind=TeamKind.PATROL_TEAM,
                name="Giải thể",
                dissolved_on=parse_period("2026-06").end,
            ),
        ]
    )
    db.session.commit()
    review = annual_review(world.province, parse_period("2026"))
    patrol = next(line for line in review.lines if line.number == "5")
    # Three teams active at the end of 2026 in the registry, not the 2 entered.
    assert patrol.value == 3
    assert patrol.source == REGISTRY
    # Once commune B enters its own counts without a registry, the line names both sources.
    year = parse_period("2026")
    store_indicator(world.commune_b, year.start, year.end, {"patrol_teams": 4}, entered_by=None)
    db.session.commit()
    review = annual_review(world.province, year)
    patrol = next(line for line in review.lines if line.number == "5")
    assert (patrol.value, patrol.source) == (7, REGISTRY_AND_INDICATOR)
    # Figures the registry does not keep still come from the indicators.
    assert next(line for line in review.lines if line.number == "7").value == 2


def test_review_command_prints_the_figures_in_order(runner, story):
    result = runner.invoke(args=["tipline", "review", "--period", "2026"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Tỉnh Thử")
    assert lines[4].split()[:2] == ["4", "10"]
    assert lines[11].split()[:2] == ["10", "7"]
    bad = runner.invoke(args=["tipline", "review", "--period", "2026-13"])
    assert bad.exit_code != 0 and "không hợp lệ" in bad.output
