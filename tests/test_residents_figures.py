"""Public figures that read as one story (issue 17, items 12 and 13): the same words and
the real period on the home page and /so-lieu, no "< 3< 3" on charts, a commune's page
that lists its villages with small numbers withheld, and /so-lieu compressed."""

from __future__ import annotations

import gzip
import re
from datetime import date, datetime

import pytest
import time_machine

from tests.reports_story import NOW
from tipline.reports import charts
from tipline.tips import workflow
from tipline.tips.models import Outcome
from tipline.tips.workflow import Action

# 09:00 on 28 Nov 2026 in Vietnam: the twelve months begin on 1 December 2025.
START, END = "01/12/2025", "28/11/2026"


def _text(html: str) -> str:
    """What a person reads: tags and scripts out, entities as they show."""
    body = html.split("<main", 1)[1].split("</main>")[0]
    body = re.sub(r"<script.*?</script>", " ", body, flags=re.S)
    text = re.sub(r"<[^>]+>", "", body)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _terms(html: str) -> list[str]:
    return [t.strip() for t in re.findall(r"<dt>(.*?)</dt>", html, re.S)]


def build(world, make_tip) -> None:
    """A1: 4 tips in March, verified and resolved; A2: 3 in October, one unfounded; B1: 2 in
    November, one verified and resolved then. Received 9, verified 5, settled 6, open 3."""
    leader, police_b = world.user("leader_a1"), world.user("police_b")

    def close(tip, actor, day, unfounded=False):
        at = datetime.fromisoformat(f"{day} 02:00")
        workflow.transition(tip, Action.TRIAGE, actor, at=at)
        workflow.transition(tip, Action.START_VERIFICATION, actor, at=at)
        if unfounded:
            workflow.transition(
                tip, Action.MARK_UNFOUNDED, actor, note="Đã kiểm tra.", note_to_tipster=True, at=at
            )
            return
        workflow.transition(tip, Action.VERIFY, actor, at=at)
        workflow.transition(
            tip,
            Action.RESOLVE,
            actor,
            outcome=Outcome.MEDIATED,
            note="Đã hòa giải.",
            note_to_tipster=True,
            at=at,
        )

    for tip in _tips(make_tip, world.a1, 4, "2026-03-01"):
        close(tip, leader, "2026-03-03")
    october = _tips(make_tip, world.a2, 3, "2026-10-01")
    close(october[0], world.user("police_a"), "2026-10-05", unfounded=True)
    november = _tips(make_tip, world.b1, 2, "2026-11-02")
    close(november[0], police_b, "2026-11-04")
    from tipline.extensions import db

    db.session.commit()


def _tips(make_tip, unit, count, day="2026-10-01"):
    return [
        make_tip(unit, now=datetime.fromisoformat(f"{day} 03:00"), description=f"Tin thử {i}")
        for i in range(count)
    ]


# --- item 12: one story ------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_home_page_says_the_real_period_and_keeps_verified_apart(client, world, make_tip):
    build(world, make_tip)
    html = client.get("/").get_data(as_text=True)
    text = _text(html)
    assert f"Kết quả từ {START} đến {END}" in text
    assert "12 tháng qua" not in text
    # Three results side by side, each saying what it counts; "verified" is a step, in a
    # sentence of its own, never a box next to "verified and settled".
    assert _terms(html) == ["Tin tiếp nhận", "Đã xác minh, giải quyết", "Đang xử lý"]
    assert "không tính tin trùng, tin không xử lý" in text
    assert "đã giải quyết, hoặc kết luận không có cơ sở (kể cả tin gửi từ trước)" in text
    assert f"tính đến hết ngày {END}" in text
    assert re.search(r'Trong kỳ, <strong id="fig-verified">5</strong> tin đã qua bước', html)
    assert re.search(r'id="fig-received">9<', html) and re.search(r'id="fig-settled">6<', html)
    assert re.search(r'id="fig-in-progress">3<', html)


@time_machine.travel(NOW, tick=False)
def test_figures_page_uses_the_same_words_and_the_period_chosen(client, world, make_tip):
    build(world, make_tip)
    html = client.get("/so-lieu").get_data(as_text=True)
    terms = _terms(html)
    assert terms[:2] == ["Tin tiếp nhận", "Đã xác minh, giải quyết"]
    assert "Đã xác minh" not in terms
    assert f"Tỉnh Thử: từ {START} đến {END}" in _text(html)
    # The period's own name says where it starts.
    assert '<option value="12t" selected>12 tháng, từ 12/2025 đến nay</option>' in html
    assert "12 tháng qua" not in html
    year = client.get("/so-lieu?ky=2025").get_data(as_text=True)
    assert "Tỉnh Thử: từ 01/01/2025 đến 31/12/2025" in _text(year)


@time_machine.travel(NOW, tick=False)
def test_small_number_notes_are_escaped(client, world, make_tip):
    build(world, make_tip)
    for path in ("/", "/so-lieu", "/so-lieu?ky=2026"):
        html = client.get(path).get_data(as_text=True)
        assert "“< 3”" not in html, path  # a raw "<" in text is an HTML error
        assert "“&lt; 3”" in html, path


def test_hidden_columns_of_one_month_are_marked_once():
    hidden = charts.Bar("11", None, "< 3")
    svg = charts.columns(
        [
            ("Tiếp nhận", [charts.Bar("10", 5, "5"), hidden]),
            ("Giải quyết", [charts.Bar("10", 4, "4"), hidden]),
        ],
        title="t",
        desc="d",
        chart_id="c",
    )
    marks = re.findall(r'<text class="hidden-mark"[^>]*>([^<]*)</text>', str(svg))
    assert marks == ["&lt; 3"]
    assert "< 3< 3" not in re.sub(r"<[^>]+>", "", str(svg)).replace("&lt;", "<")


def test_different_hidden_marks_of_one_month_do_not_run_into_each_other():
    svg = str(
        charts.columns(
            [
                ("a", [charts.Bar("11", None, "< 3")]),
                ("b", [charts.Bar("11", None, "•")]),
            ],
            title="t",
            desc="d",
            chart_id="c",
        )
    )
    ys = [float(y) for y in re.findall(r'class="hidden-mark" x="[^"]*" y="([^"]*)"', svg)]
    assert len(ys) == 2 and ys[0] != ys[1]


@time_machine.travel(NOW, tick=False)
def test_trend_chart_has_no_doubled_small_marks(client, world, make_tip):
    build(world, make_tip)  # November: 2 received, 1 settled, both hidden
    html = client.get("/so-lieu?ky=2026").get_data(as_text=True)
    svg = html[html.index('<svg class="chart"') : html.index("</svg>")]
    text = re.sub(r"<[^>]+>", "", svg).replace("&lt;", "<")
    assert "< 3< 3" not in text
    assert "< 3" in text


# --- item 13: a commune's villages ---------------------------------------------------------


def _section(html: str, section_id: str) -> str:
    return html[html.index(f'id="{section_id}"') :].split("</section>")[0]


def _row(section: str, name: str) -> list[str]:
    row = section[section.index(name) :].split("</tr>")[0]
    return [
        c.replace("&lt;", "<") for c in re.findall(r'<td [^>]*class="num"[^>]*>([^<]*)</td>', row)
    ]


@time_machine.travel(NOW, tick=False)
def test_commune_page_lists_its_villages_not_the_communes(client, world, make_tip):
    _tips(make_tip, world.a1, 4)
    _tips(make_tip, world.a2, 3)
    _tips(make_tip, world.b1, 5)
    html = client.get("/so-lieu?xa=A").get_data(as_text=True)
    assert 'id="communes-title"' not in html
    villages = _section(html, "parts")
    assert "Theo thôn, tổ dân phố · Xã An Bình" in villages
    assert _row(villages, "Thôn Đông")[0] == "4"
    assert _row(villages, "Thôn Tây")[0] == "3"
    assert "Phường Bắc Sơn" not in villages
    assert "Không rõ thôn" not in villages  # nothing sent to the commune itself
    # The province's page still lists the communes, linked.
    province = client.get("/so-lieu").get_data(as_text=True)
    assert "/so-lieu?ky=12t&amp;xa=A" in province and 'id="parts"' not in province


@time_machine.travel(NOW, tick=False)
def test_small_village_is_hidden_and_so_is_the_one_that_would_reveal_it(client, world, make_tip):
    _tips(make_tip, world.a1, 4)
    _tips(make_tip, world.a2, 1)
    _tips(make_tip, world.b1, 5)
    html = client.get("/so-lieu?xa=A").get_data(as_text=True)
    assert re.search(r'id="pub-received">5<', html)  # the commune's own line
    villages = _section(html, "parts")
    assert _row(villages, "Thôn Tây")[0] == "< 3"
    assert _row(villages, "Thôn Đông")[0] == "•"  # 5 - 4 would give Thôn Tây away


@time_machine.travel(NOW, tick=False)
def test_villages_withhold_a_figure_the_commune_line_does_not_show(client, world, make_tip):
    _tips(make_tip, world.a1, 4)
    _tips(make_tip, world.a2, 3)
    _tips(make_tip, world.b1, 2)  # B is small, so A's 7 is withheld in the province's table
    html = client.get("/so-lieu?xa=A").get_data(as_text=True)
    assert re.search(r'id="pub-received">•<', html)
    villages = _section(html, "parts")
    assert _row(villages, "Thôn Đông")[0] == "•"
    assert _row(villages, "Thôn Tây")[0] == "•"
    assert ">4<" not in villages and ">3<" not in villages


@time_machine.travel(NOW, tick=False)
def test_tips_sent_to_the_commune_itself_have_a_row_of_their_own(client, world, make_tip):
    _tips(make_tip, world.a1, 5)
    _tips(make_tip, world.a2, 4)
    _tips(make_tip, world.commune_a, 3)
    _tips(make_tip, world.b1, 5)
    html = client.get("/so-lieu?xa=A").get_data(as_text=True)
    assert re.search(r'id="pub-received">12<', html)
    villages = _section(html, "parts")
    assert _row(villages, "Không rõ thôn (gửi cho cả xã)")[0] == "3"
    assert _row(villages, "Thôn Đông")[0] == "5"


@time_machine.travel(NOW, tick=False)
def test_village_table_counts_verified_and_settled_like_the_communes(client, world, make_tip):
    tips = (
        _tips(make_tip, world.a1, 3) + _tips(make_tip, world.a2, 3) + _tips(make_tip, world.b1, 3)
    )
    leader = world.user("leader_a1")
    for tip in tips[:3]:
        for action in (Action.TRIAGE, Action.START_VERIFICATION, Action.VERIFY):
            workflow.transition(tip, action, leader, at=datetime(2026, 10, 2, 3, 0))
    from tipline.extensions import db

    db.session.commit()
    villages = _section(client.get("/so-lieu?xa=A").get_data(as_text=True), "parts")
    assert _row(villages, "Thôn Đông")[:3] == ["3", "3", "0"]
    assert _row(villages, "Thôn Tây")[:3] == ["3", "0", "0"]


def test_public_parts_of_a_village_are_none(ctx, world):
    from tipline.reports.disclosure import PublicRow, Shown, public_parts
    from tipline.reports.periods import Period

    row = PublicRow(None, Shown(1), Shown(1), Shown(1), None, None)
    assert public_parts(world.a1, Period(date(2026, 1, 1), date(2026, 12, 31), "2026"), row) is None


# --- item 13: compressed like the other resident pages ---------------------------------------


@pytest.mark.parametrize("path", ["/so-lieu", "/so-lieu?xa=A", "/en/so-lieu"])
def test_figures_page_is_compressed(client, world, make_tip, path):
    _tips(make_tip, world.a1, 3)
    response = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers.get("Vary", "")
    page = gzip.decompress(response.get_data()).decode()
    assert 'id="pub-received"' in page


def test_staff_pages_stay_uncompressed(login, world):
    response = login("police_a").get("/staff/", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert "Content-Encoding" not in response.headers
