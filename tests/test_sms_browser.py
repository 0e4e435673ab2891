"""SMS in a real browser at phone size: a staff member adds and confirms a number on the
notification settings page; a tipster ticks SMS updates on the tip form, with and
without JavaScript. Screenshots when TIPLINE_SCREENSHOTS names a folder."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from tipline.alerts.sms_models import StaffSmsNumber, TipSmsSubscription
from tipline.extensions import db

from .sms_fakes import FakeAndroidGateway, android_settings, use
from .test_browser import (  # noqa: F401, F811 (fixtures)
    CHROMIUM,
    browser,
    check_fits_phone,
    follow_up,
    live_server,
    log_in,
    phone,
    post,
    read_receipt,
    start_tip,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.commits,  # a live server in another thread
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium"),
]

SETTINGS = "/staff/settings/notifications"


@pytest.fixture
def android(app, monkeypatch):
    fake = FakeAndroidGateway()
    use(app, monkeypatch, android_settings(fake))
    yield fake
    fake.close()


def shoot_section(page, name: str, selector: str = "#sms-number") -> None:
    """The SMS part of a page alone (the whole page is tall), for review."""
    folder = os.environ.get("TIPLINE_SCREENSHOTS")
    if folder:
        page.locator(selector).screenshot(path=str(Path(folder) / f"{name}.png"))


def last_code(fake) -> str:
    return re.search(r"\b(\d{6})\b", fake.received[-1]["textMessage"]["text"]).group(1)


def test_staff_member_adds_and_confirms_a_number_on_a_phone(app, world, phone, android):  # noqa: F811
    page = phone.open()
    log_in(page, "police_a")
    page.goto(SETTINGS)
    section = page.locator("#sms-number")
    section.scroll_into_view_if_needed()
    check_fits_phone(page, "sms-settings-empty")
    shoot_section(page, "sms-settings-empty-part")

    page.get_by_label("Số điện thoại nhận tin nhắn SMS").fill("0912 34")
    post(page, "Thêm số", status=422)
    assert "Số điện thoại không đúng" in page.locator("#sms-number").inner_text()
    check_fits_phone(page, "sms-settings-bad-number")
    shoot_section(page, "sms-settings-bad-number-part")
    # The browser reports the 422 it was meant to get; nothing else may be in the console.
    phone.problems = [p for p in phone.problems if "status of 422" not in p]

    page.get_by_label("Số điện thoại nhận tin nhắn SMS").fill("0912 345 678")
    post(page, "Thêm số", status=302)
    page.wait_for_url(f"**{SETTINGS}")  # back on the settings page
    assert "0912 *** 678" in page.locator("#sms-number-current").inner_text()
    check_fits_phone(page, "sms-settings-code-sent")
    shoot_section(page, "sms-settings-code-sent-part")

    page.get_by_label("Mã xác nhận trong tin nhắn").fill(last_code(android))
    post(page, "Xác nhận số", status=302)
    page.wait_for_url(f"**{SETTINGS}")
    assert "Đang nhận tin nhắn ở số 0912 *** 678" in page.locator("#sms-number").inner_text()
    check_fits_phone(page, "sms-settings-confirmed")
    shoot_section(page, "sms-settings-confirmed-part")
    phone.assert_no_errors()
    with app.app_context():
        row = db.session.scalar(select(StaffSmsNumber))
        assert row.verified_at is not None and "912345678" not in row.phone_sealed


@pytest.mark.parametrize("javascript", [True, False])
def test_tipster_ticks_sms_updates_on_a_phone(app, world, phone, android, javascript):  # noqa: F811
    page = phone.open(javascript=javascript)
    start_tip(page)
    page.get_by_label("Thôn, tổ dân phố").select_option(label="Thôn Đông")
    page.get_by_label("Trộm cắp tài sản").check()
    page.get_by_label("Chuyện gì đã xảy ra?").fill("Có người lạ dò xét từng nhà trong xóm.")
    page.get_by_text("Giữ bí mật danh tính", exact=False).first.click()
    page.get_by_label("Họ và tên").fill("Trần Thị Mai")
    page.get_by_label("Số điện thoại", exact=True).fill("0987 654 321")
    box = page.get_by_label("Nhắn tin SMS cho tôi khi tin có cập nhật")
    box.scroll_into_view_if_needed()
    box.check()
    check_fits_phone(page, f"sms-tip-form-{'js' if javascript else 'nojs'}")
    shoot_section(page, f"sms-tip-form-{'js' if javascript else 'nojs'}-part", ".identity")
    page.get_by_role("button", name="Gửi tin báo").click()
    reference, code = read_receipt(page)
    page.goto("/tra-cuu")
    follow_up(page, reference, code)
    section = page.locator("#sms")
    assert "Bạn đang nhận một tin nhắn SMS" in section.inner_text()
    section.scroll_into_view_if_needed()
    check_fits_phone(page, f"sms-status-{'js' if javascript else 'nojs'}")
    shoot_section(page, f"sms-status-{'js' if javascript else 'nojs'}-part", "#sms")
    post(page, "Tắt tin nhắn SMS", status=303)
    page.get_by_text("Đã tắt tin nhắn SMS cho tin này.").wait_for()
    assert page.get_by_role("button", name="Bật tin nhắn SMS").is_visible()
    phone.assert_no_errors()
    with app.app_context():
        assert db.session.scalars(select(TipSmsSubscription)).all() == []  # turned off
