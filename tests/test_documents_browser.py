"""Long lists in a real browser: type to filter the commune list (a resident's phone) and
the administrator's unit picker; without JavaScript the full list stays as it was."""

from __future__ import annotations

import pytest

from tipline.extensions import db
from tipline.places.models import Letterhead, UnitLevel
from tipline.places.services import add_unit

from .test_browser import (  # noqa: F401 (fixtures)
    CHROMIUM,
    browser,  # noqa: F811
    check_fits_phone,
    live_server,
    log_in,
    phone,
    shoot,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.commits,  # a live server in another thread
    pytest.mark.skipif(
        CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)"
    ),
]

OPTIONS = "el => [...el.options].map(o => o.textContent.trim())"


@pytest.fixture
def more_communes(world):
    """Neighbours that code-point order and a letter-by-letter key both get wrong."""
    names = {"NX": "Xã Nam Xuân", "NM": "Xã Na Mèo", "HT": "Phường Hạc Thành",
             "HL": "Xã Hà Long", "BM": "Xã Bát Mọt", "BD": "Xã Ba Đình"}  # fmt: skip
    for code, name in names.items():
        kind = name.split()[0].lower()
        add_unit(code=code, name=name, level=UnitLevel.COMMUNE, kind=kind, parent=world.province)
    db.session.commit()


def test_resident_types_a_few_letters_and_the_commune_list_narrows(world, more_communes, phone):  # noqa: F811
    page = phone.open()
    page.goto("/gui-tin")
    select = page.get_by_label("Xã, phường", exact=True)
    assert select.evaluate(OPTIONS) == [
        "— Chọn xã, phường —", "Xã An Bình", "Xã Ba Đình", "Xã Bát Mọt", "Phường Bắc Sơn",
        "Xã Hà Long", "Phường Hạc Thành", "Xã Na Mèo", "Xã Nam Xuân",
    ]  # fmt: skip
    search = page.get_by_label("Tìm nhanh: gõ vài chữ của tên")
    search.fill("ha")
    assert select.evaluate(OPTIONS) == ["— Chọn xã, phường —", "Xã Hà Long", "Phường Hạc Thành"]
    assert page.locator(".picker-count").inner_text() == "2 kết quả"
    check_fits_phone(page, "picker-filtered")
    shoot(page, "documents-picker-commune-360")
    search.fill("bac son")  # without marks: one match, chosen already
    assert select.evaluate("el => el.value") == "B"
    search.press("Enter")  # does not send the form; the list has the focus
    assert page.url.endswith("/gui-tin")
    page.get_by_role("button", name="Tiếp tục").click()
    page.get_by_label("Thôn, tổ dân phố").wait_for()
    assert "xa=B" in page.url
    phone.assert_no_errors()


def test_without_javascript_the_commune_list_is_whole(world, more_communes, phone):  # noqa: F811
    page = phone.open(javascript=False)
    page.goto("/gui-tin")
    assert page.locator(".picker").count() == 0
    assert len(page.get_by_label("Xã, phường", exact=True).evaluate(OPTIONS)) == 9
    page.get_by_label("Xã, phường", exact=True).select_option(label="Xã Na Mèo")
    page.get_by_role("button", name="Tiếp tục").click()
    assert "xa=NM" in page.url


def test_administrator_finds_a_village_in_the_unit_picker(
    world,
    more_communes,
    browser,  # noqa: F811
    live_server,  # noqa: F811
):
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        log_in(page, "admin")
        page.goto("/admin/users/new")
        unit = page.get_by_label("Đơn vị", exact=True)
        names = unit.evaluate(OPTIONS)
        assert names[0] == "— Chọn —"
        # A tree: the province, then its communes in Vietnamese order, each with its villages.
        assert names[1:5] == ["Tỉnh Thử", "· Xã An Bình", "· · Thôn Đông", "· · Thôn Tây"]
        assert names.index("· Xã Na Mèo") < names.index("· Xã Nam Xuân")
        page.get_by_label("Tìm nhanh: gõ vài chữ của tên").fill("thon tay")
        assert unit.evaluate(OPTIONS) == ["— Chọn —", "· · Thôn Tây"]
        assert unit.evaluate("el => el.value") == "A2"
        shoot(page, "documents-picker-admin")
    finally:
        context.close()


def test_letterhead_page_fits_a_phone_and_saves(app, world, phone):  # noqa: F811
    page = phone.open()
    log_in(page, "admin")
    page.goto("/admin/letterheads")
    page.get_by_label("Tìm nhanh: gõ vài chữ của tên").fill("an binh")
    assert page.get_by_label("Đơn vị", exact=True).evaluate("el => el.value") == "A"
    page.get_by_role("button", name="Mở").click()
    page.get_by_label("Họ và tên người ký").fill("Lê Thị Ký")
    check_fits_phone(page, "letterhead")
    shoot(page, "documents-letterhead-360")
    page.get_by_role("button", name="Lưu").click()
    page.get_by_text("Đã lưu tiêu đề và người ký văn bản của Xã An Bình.").wait_for()
    with app.app_context():
        assert db.session.get(Letterhead, world.commune_a.id).signer_name == "Lê Thị Ký"
    phone.assert_no_errors()
