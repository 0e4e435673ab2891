"""The staff dashboard: figures within one's scope, medians, overdue tips, breakdowns."""

from __future__ import annotations

import re

import pytest
import time_machine

from tests.reports_story import NOW, build


@pytest.fixture
def story(world, make_tip):
    return build(world, make_tip)


def _text(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}">([^<]*)<', html)
    assert match, element_id
    return match.group(1)


@time_machine.travel(NOW, tick=False)
def test_officer_sees_exact_province_figures_and_communes_side_by_side(login, story):
    html = login("officer").get("/staff/bao-cao/?ky=2026").get_data(as_text=True)
    assert _text(html, "dash-received") == "10"
    assert _text(html, "dash-settled") == "7"
    # Open at the end of 2026 (figures as of now): A2's two and B1's one.
    assert _text(html, "dash-in-progress") == "3"
    # First responses: 48 h after the A1 tips... the triage came 20 h after submission.
    assert _text(html, "dash-first-response") == "44,0 giờ"
    # Staff see small numbers: commune B's 2.
    side = html[html.index("Các xã, phường") :]
    row_b = side[side.index("Phường Bắc Sơn") :].split("</tr>")[0]
    assert ">2<" in row_b
    assert 'id="outcome-mediated"><th scope="row">Hòa giải thành</th><td class="num">5<' in html
    assert (
        'id="outcome-sanctioned"><th scope="row">Xử phạt hành chính</th><td class="num">1<' in html
    )


@time_machine.travel(NOW, tick=False)
def test_overdue_lists_open_tips_older_than_the_limit(login, story):
    html = login("officer").get("/staff/bao-cao/").get_data(as_text=True)
    # Open and past their due dates (the inbox's rule): A2's two October tips, B1's of 3 Nov.
    assert _text(html, "dash-overdue") == "3"
    assert story["a2_1"].reference in html and story["b1_1"].reference in html
    # Settled tips are never overdue.
    assert story["a1_0"].reference not in html


@time_machine.travel(NOW, tick=False)
def test_commune_dashboard_breaks_down_by_village(login, story):
    html = login("police_a").get("/staff/bao-cao/").get_data(as_text=True)
    assert _text(html, "dash-received") == "8"
    assert "Theo thôn, tổ dân phố" in html
    assert "Thôn Đông" in html and "Thôn Tây" in html


@time_machine.travel(NOW, tick=False)
def test_other_commune_is_out_of_scope(login, story):
    client = login("police_a")
    assert client.get("/staff/bao-cao/?don-vi=B").status_code == 404
    assert client.get("/staff/bao-cao/?don-vi=NOPE").status_code == 404
    assert client.get("/staff/bao-cao/?don-vi=A1").status_code == 200


def test_village_team_has_no_dashboard(login, world):
    assert login("leader_a1").get("/staff/bao-cao/").status_code == 403
    assert login("admin").get("/staff/bao-cao/").status_code == 403


def test_dashboard_needs_a_login(client, world):
    response = client.get("/staff/bao-cao/")
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]


@time_machine.travel(NOW, tick=False)
def test_bad_filters_are_400(login, story):
    client = login("officer")
    assert client.get("/staff/bao-cao/?trang-thai=nope").status_code == 400
    assert client.get("/staff/bao-cao/?linh-vuc=nope").status_code == 400
    assert client.get("/staff/bao-cao/?ky=20261").status_code == 400


@time_machine.travel(NOW, tick=False)
def test_dashboard_pages_are_not_cached(login, story):
    response = login("officer").get("/staff/bao-cao/")
    assert "no-store" in response.headers["Cache-Control"]


@pytest.mark.parametrize(
    ("language", "path", "expected"),
    [
        ("vi", "/", ["2.967", "1.234.567", "–", "2,5 ngày", "0,1", "1.000,0 giờ", "88,6 %"]),
        ("en", "/en/", ["2,967", "1,234,567", "–", "2.5 ngày", "0.1", "1,000.0 giờ", "88.6 %"]),
    ],
)
def test_figures_are_written_in_the_language_with_one_decimal_rounded_as_stored(
    app, language, path, expected
):
    from flask_babel import force_locale

    from tipline.core.numbers import number, number1, percent

    with app.test_request_context(path), force_locale(language):
        got = [
            number(2967),
            number(1234567),
            number(None),
            # 2.45 is stored as 2.4500000000000002: it rounds up, as Python's own "%.1f".
            number1(2.45, "ngày"),
            number1(0.15),  # stored as 0.1499999999999999944: down
            number1(999.96, "giờ"),
            percent(0.886),
        ]
        assert got == expected
        rendered = app.jinja_env.from_string(
            "{{ a|fig }} {{ b|fig1('ngày') }} {{ c|share }} {{ d|fig1 }}"
        ).render(a=2967, b=2.45, c=0.886, d=None)
        assert rendered == f"{expected[0]} {expected[3]} {expected[6]} –"
