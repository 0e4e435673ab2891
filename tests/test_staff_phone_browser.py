"""Staff pages in a real browser at 360 px (issue 17): one compact top bar and a bottom bar
of at most four links, filters in a closed sheet, no page scrolling sideways, the inbox's
order and state codes, search without marks, each role's landing page, and menus whose
every link opens. Reports use a desktop's width and turn their tables into cards on a
phone."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import PASSWORD
from tipline.core.timeutil import utcnow
from tipline.extensions import db
from tipline.tips import workflow
from tipline.tips.models import Outcome, Tip
from tipline.tips.workflow import Action

from .test_browser import (  # noqa: F401 (fixtures)
    CHROMIUM,
    PHONE_WIDTH,
    browser,
    check_fits_phone,
    live_server,
    phone,
    post,
    shoot,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.commits,  # a live server in another thread
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium"),
]

MAX_TOP_BAR = 64

FRAME = """
() => {
  const header = document.querySelector("header.site").getBoundingClientRect();
  const bar = document.querySelector(".nav-main");
  const box = bar.getBoundingClientRect();
  const links = [...bar.querySelectorAll("a")].filter((a) => a.getBoundingClientRect().width > 0);
  return {
    header: header.height,
    barTop: box.top, barBottom: box.bottom, barPosition: getComputedStyle(bar).position,
    links: links.map((a) => a.innerText.replace(/\\s+/g, " ").trim()),
    scrollWidth: document.documentElement.scrollWidth,
    bodyScrollWidth: document.body.scrollWidth,
    viewport: window.innerHeight,
  };
}
"""


def sign_in(page, username: str) -> None:
    page.goto("/staff/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    post(page, "Đăng nhập", status=302)
    page.wait_for_url(lambda url: "/staff/login" not in url)
    page.wait_for_load_state("load")


def check_frame(page, where: str) -> dict:
    """The phone frame: a top bar of one row, the bottom bar fixed at the bottom with at
    most four links, and nothing wider than the screen."""
    page.wait_for_load_state("load")
    frame = page.evaluate(FRAME)
    assert frame["header"] <= MAX_TOP_BAR, (where, frame)
    assert frame["barPosition"] == "fixed", (where, frame)
    assert abs(frame["barBottom"] - frame["viewport"]) <= 1, (where, frame)
    assert 3 <= len(frame["links"]) <= 4, (where, frame)
    assert frame["scrollWidth"] <= PHONE_WIDTH, (where, frame)
    assert frame["bodyScrollWidth"] <= PHONE_WIDTH, (where, frame)
    return frame


def staff_pages(app, name: str) -> list[str]:
    """Every page the menus offer this account, and the pages of one tip."""
    with app.app_context():
        tip = db.session.scalar(db.select(Tip).order_by(Tip.id))
        public_id = tip.public_id
    pages = [
        "/staff/",
        "/staff/?q=trom+cap",
        "/staff/?all=1",
        "/staff/tai-khoan-cua-toi",
        "/staff/thong-bao/",
        "/staff/settings/notifications",
        "/staff/tai-khoan/mat-khau",
        "/staff/tai-khoan/hai-buoc",
    ]
    by_role = {
        "leader_a1": ["/staff/thon-cua-toi", "/staff/record", f"/staff/tips/{public_id}"],
        "police_a": [
            "/staff/record",
            "/staff/templates",
            f"/staff/tips/{public_id}",
            f"/staff/tips/{public_id}/print",
            "/staff/bao-cao/",
            "/staff/to-chuc/",
            "/admin/users",
        ],
        "committee_a": ["/staff/bao-cao/", "/staff/bao-cao/chi-tieu", "/staff/to-chuc/"],
        "officer": ["/staff/bao-cao/", f"/staff/tips/{public_id}"],
        "admin": ["/admin/users", "/admin/users/new", "/admin/categories", "/staff/to-chuc/"],
    }
    return pages + by_role[name]


@pytest.fixture
def tips(app, world, make_tip):
    now = utcnow()
    leader = world.user("leader_a1")
    made = {
        "old": make_tip(world.a1, now=now - timedelta(days=3), description="Mất xe đạp"),
        "new": make_tip(world.a1, now=now - timedelta(hours=1), description="Mất gà"),
        "urgent": make_tip(world.a1, category=world.fight, now=now - timedelta(hours=2)),
        "closed": make_tip(world.a1, category=world.fight, now=now - timedelta(days=40)),
        "village_b": make_tip(world.b1),
    }
    for action in (Action.TRIAGE, Action.START_VERIFICATION, Action.VERIFY):
        workflow.transition(made["closed"], action, leader)
    workflow.transition(
        made["closed"],
        Action.RESOLVE,
        leader,
        outcome=Outcome.MEDIATED,
        note="Đã hòa giải.",
        note_to_tipster=True,
    )
    db.session.commit()
    return {key: (tip.reference, tip.public_id) for key, tip in made.items()}


@pytest.mark.parametrize("name", ["leader_a1", "police_a", "committee_a", "officer", "admin"])
def test_every_staff_page_fits_a_phone_in_one_bar_and_a_bottom_bar(app, world, tips, phone, name):  # noqa: F811
    page = phone.open()
    sign_in(page, name)
    for path in staff_pages(app, name):
        answer = page.goto(path)
        assert answer.status == 200, (name, path, answer.status)
        frame = check_frame(page, f"{name} {path}")
        assert frame["links"][0].startswith("Hộp tin"), frame
        assert frame["links"][-1] == "Tài khoản", frame
        shoot(page, f"staff-{name}" + path.replace("/", "-").replace("?", "-"))
    phone.assert_no_errors()


def test_the_leaders_pages_have_thumb_sized_targets(app, world, tips, phone):  # noqa: F811
    page = phone.open()
    sign_in(page, "leader_a1")
    for path in ("/staff/thon-cua-toi", "/staff/", "/staff/tai-khoan-cua-toi"):
        page.goto(path)
        check_fits_phone(page, "leader" + path.replace("/", "-"))
    page.goto("/staff/")
    page.locator("details.filter-sheet summary").click()
    check_fits_phone(page, "leader-inbox-filters-open")


def test_filters_start_closed_and_open_without_javascript(app, world, tips, phone):  # noqa: F811
    page = phone.open(javascript=False)
    sign_in(page, "leader_a1")
    page.goto("/staff/?priority=urgent")
    sheet = page.locator("details.filter-sheet")
    assert sheet.get_attribute("open") is None
    summary = sheet.locator("summary")
    assert summary.bounding_box()["height"] <= 48  # one line
    assert " ".join(summary.inner_text().split()).startswith("Lọc: Cần xử lý · Khẩn")
    assert not page.locator("select[name=category]").is_visible()
    summary.click()
    assert page.locator("select[name=category]").is_visible()
    page.locator(".filter-grid select[name=priority]").select_option("")
    page.get_by_role("button", name="Áp dụng").click()
    page.wait_for_load_state("load")
    assert "priority=urgent" not in page.url


def test_the_inbox_shows_the_work_in_order_with_state_codes(app, world, tips, phone):  # noqa: F811
    page = phone.open()
    sign_in(page, "leader_a1")
    page.goto("/staff/")
    cards = page.locator(".tip-card")
    listed = [
        (card.locator(".ref").inner_text(), card.get_attribute("data-status"))
        for card in cards.all()
    ]
    assert listed == [
        (tips["urgent"][0], "received"),
        (tips["old"][0], "received"),
        (tips["new"][0], "received"),
    ]
    # Closed tips when asked: the quick filter in the sheet.
    page.locator("details.filter-sheet summary").click()
    page.get_by_role("link", name="Tất cả, cả tin đã đóng").click()
    page.wait_for_load_state("load")
    assert page.locator(f'.tip-card[data-status="resolved"] >> text={tips["closed"][0]}').count()


def test_leader_searches_trom_cap_and_finds_theft_tips(app, world, tips, phone):  # noqa: F811
    page = phone.open()
    sign_in(page, "leader_a1")
    page.goto("/staff/")
    search = page.get_by_role("searchbox")
    assert "trom cap" in search.get_attribute("placeholder")
    search.fill("trom cap")
    page.get_by_role("button", name="Tìm", exact=True).click()
    page.wait_for_load_state("load")
    found = set(page.locator(".tip-card .ref").all_inner_texts())
    assert found == {tips["old"][0], tips["new"][0]}  # the theft category, no words needed


@pytest.mark.parametrize(
    ("name", "landing", "heading"),
    [
        ("leader_a1", "/staff/thon-cua-toi", "Thôn Đông"),
        ("police_a", "/staff/", "Hộp tin"),
        ("officer", "/staff/", "Hộp tin"),
        ("admin", "/admin/users", None),
    ],
)
def test_each_role_lands_on_its_own_page(app, world, tips, phone, name, landing, heading):  # noqa: F811
    page = phone.open()
    sign_in(page, name)
    assert page.url.endswith(landing), page.url
    if heading:
        assert page.get_by_role("heading", level=1).inner_text() == heading
    check_frame(page, f"{name} landing")


@pytest.mark.parametrize("name", ["police_a", "officer", "leader_a1", "admin"])
def test_every_menu_link_opens(app, world, tips, phone, name):  # noqa: F811
    page = phone.open()
    sign_in(page, name)
    hrefs: set[str] = set()
    for path in ("/staff/", "/staff/tai-khoan-cua-toi", "/staff/bao-cao/"):
        answer = page.goto(path)
        if answer.status != 200:
            continue
        hrefs |= set(
            page.eval_on_selector_all(
                "header a[href], nav a[href], .link-list a[href]",
                "(links) => links.map((a) => a.getAttribute('href'))",
            )
        )
    hrefs = {h for h in hrefs if h.startswith(("/staff", "/admin"))}
    assert hrefs
    for href in sorted(hrefs):
        answer = page.goto(href)
        assert answer.status == 200, (name, href, answer.status)
    assert ("/staff/bao-cao/chi-tieu" in hrefs) is False  # not the committee's account


def test_report_tables_at_desktop_and_phone_widths(app, world, tips, phone):  # noqa: F811
    desk = phone.open(viewport={"width": 1280, "height": 900}, is_mobile=False, has_touch=False)
    sign_in(desk, "police_a")
    desk.goto("/staff/bao-cao/?ky=12t")
    main = desk.locator("main").bounding_box()
    assert main["width"] > 1000, main
    table = desk.locator("table.side-by-side")
    assert table.bounding_box()["width"] > 900
    assert (
        desk.evaluate("getComputedStyle(document.querySelector('table.side-by-side tr')).display")
        == "table-row"
    )
    shoot(desk, "staff-desktop-report")
    page = phone.open()
    sign_in(page, "police_a")
    page.goto("/staff/bao-cao/?ky=12t")
    check_frame(page, "report")
    row = page.locator("table.side-by-side tbody tr").first
    assert row.evaluate("(tr) => getComputedStyle(tr).display") == "block"
    cell = row.locator("td").first
    label = cell.evaluate("(td) => getComputedStyle(td, '::before').content")
    assert label == '"Tiếp nhận"'
