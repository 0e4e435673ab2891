"""The public transparency page: figures for the root and each commune, small numbers hidden."""

from __future__ import annotations

import re
from datetime import date

import pytest
import time_machine

from tests.reports_story import NOW, build
from tipline.reports import disclosure
from tipline.reports.disclosure import protect
from tipline.reports.errors import ReportError
from tipline.reports.periods import Period, parse_period


@pytest.fixture
def story(world, make_tip):
    return build(world, make_tip)


def _text(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}">([^<]*)<', html)
    assert match, element_id
    return match.group(1)


@time_machine.travel(NOW, tick=False)
def test_public_page_shows_root_headline_figures(client, story):
    response = client.get("/so-lieu")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # Received: 5 (A1) + 3 (A2) + 2 (B1); the rejected tip drops out.
    assert _text(html, "pub-received") == "10"
    # Verified: the five in A1 and one in B1.
    assert _text(html, "pub-verified") == "6"
    # Settled: 5 resolved + 1 unfounded + 1 sanctioned.
    assert _text(html, "pub-settled") == "7"
    assert _text(html, "pub-share") == "70,0 %"
    # Days to settle: five of 2.0, one of 4.08 (unfounded), one of 2.08: median 2.0.
    assert _text(html, "pub-median") == "2,0"


@time_machine.travel(NOW, tick=False)
def test_small_commune_is_hidden_and_so_is_the_figure_that_would_reveal_it(client, story):
    html = client.get("/so-lieu").get_data(as_text=True)
    row_b = html[html.index("Phường Bắc Sơn</a>") :].split("</tr>")[0]
    row_a = html[html.index("Xã An Bình</a>") :].split("</tr>")[0]
    # B received 2: "< 3". A's 8 would give B away (10 - 8), so it is withheld too.
    assert "&lt; 3" in row_b
    assert ">8<" not in row_a and "•" in row_a
    # Neither share nor median for a hidden row.
    assert "%" not in row_b


@time_machine.travel(NOW, tick=False)
def test_trend_and_categories_are_drawn_with_a_text_alternative(client, story):
    html = client.get("/so-lieu?ky=2026").get_data(as_text=True)
    assert 'aria-labelledby="trend-t trend-d"' in html
    assert '<title id="categories-t">' in html
    # Each chart is followed by a table of the same figures.
    assert "Bảng số liệu theo tháng" in html and "Bảng số liệu theo lĩnh vực" in html
    # No inline styles anywhere (the CSP allows none).
    assert "style=" not in html
    svg = html[html.index("<svg") : html.rindex("</svg>")]
    assert "<script" not in svg


@time_machine.travel(NOW, tick=False)
def test_commune_with_a_hidden_total_shows_no_breakdown(client, story):
    html = client.get("/so-lieu?xa=B").get_data(as_text=True)
    assert "quá nhỏ để chia" in html
    assert 'id="trend-t"' not in html


@time_machine.travel(NOW, tick=False)
def test_month_trend_hides_small_months(client, story):
    html = client.get("/so-lieu?ky=2026").get_data(as_text=True)
    table = html[html.index("Bảng số liệu theo tháng") :].split("</table>")[0]
    march = table[table.index("03/2026") :].split("</tr>")[0]
    november = table[table.index("11/2026") :].split("</tr>")[0]
    assert ">5<" in march
    # November received 2 (B1): hidden; October's 3 is withheld so 10 - 5 - 3 cannot show it.
    assert "&lt; 3" in november


def test_bad_period_is_a_400_in_vietnamese(client, world):
    response = client.get("/so-lieu?ky=2026-13")
    assert response.status_code == 400
    assert "Kỳ báo cáo không hợp lệ" in response.get_data(as_text=True)
    assert client.get("/so-lieu?ky=abc").status_code == 400
    assert client.get("/so-lieu?ky=1999").status_code == 400


@time_machine.travel(NOW, tick=False)
def test_public_periods_are_the_ones_offered(client, world):
    # Each new period costs a full sum: the public may not ask for any range it likes.
    assert client.get("/so-lieu?ky=2020-01-01_2020-01-02").status_code == 400
    assert client.get("/so-lieu?ky=2015").status_code == 400
    assert client.get("/so-lieu?ky=2025").status_code == 200
    assert client.get("/so-lieu?ky=2026-03").status_code == 200


def test_unknown_commune_is_a_400(client, world):
    assert client.get("/so-lieu?xa=ZZZ").status_code == 400


def test_public_page_sets_no_cookie(client, world):
    response = client.get("/so-lieu")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    ("values", "hidden"),
    [
        ({"a": 8, "b": 2}, {"a", "b"}),  # 10 - 8 would show b
        ({"a": 8, "b": 2, "c": 1}, {"b", "c"}),  # 3 = 1 + 2 or 2 + 1: neither is known
        ({"a": 8, "b": 1, "c": 1}, {"b", "c", "a"}),  # 2 = 1 + 1 pins both down
        ({"a": 8, "b": 0}, set()),  # zero points at nobody
        ({"a": 8, "b": 9, "c": 20, "d": 1}, {"d", "a"}),
        ({"a": 5, "b": 6}, set()),
    ],
)
def test_protect_hides_small_cells_and_enough_others(values, hidden):
    shown = protect(values)
    assert {k for k, s in shown.items() if not s.exact} == hidden
    # Whatever is hidden, no small cell can be worked out from the published sum.
    if hidden:
        assert not disclosure._determined([values[k] for k in hidden])


def test_protect_withholds_the_smallest_other_cell_first():
    shown = protect({"a": 1, "b": 1, "c": 4, "d": 7})
    assert not shown["c"].exact and shown["d"].exact  # with c hidden, a and b are 1 or 2


def test_periods_parse_years_months_and_ranges():
    today = date(2026, 11, 28)
    assert parse_period("2026-02", today) == Period(date(2026, 2, 1), date(2026, 2, 28), "2026-02")
    assert parse_period(None, today).start == date(2025, 12, 1)
    assert parse_period("2025-01-01_2025-06-30", today).end == date(2025, 6, 30)
    with pytest.raises(ReportError):
        parse_period("2025-06-30_2025-01-01", today)
