"""A form sent again never makes a second tip, with or without JavaScript; its follow-up
code is shown again only within TIPLINE_RESUBMIT_CODE_MINUTES (security review, item 8).

Without script, the key used to be drawn on every fetch of the form page; going Back after
a submission fetched the page again (it is no-store), the browser restored what was typed,
and a fresh key made a second tip. The commune chooser now puts the key in the form page's
address (?phieu=), so the page fetched again carries the same key.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime, timedelta

import pytest

from tipline.tips import services

from .test_public import FormValues, post_tip, receipt_of, tip_count, tip_form

NOW = datetime(2026, 3, 4, 2, 10, 0, tzinfo=UTC)
JSON = {"Accept": "application/json"}


def chooser_key(client) -> str:
    html = client.get("/gui-tin").get_data(as_text=True)
    found = re.search(r'name="phieu" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def form_values(client, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    return FormValues(response.get_data(as_text=True)).values


def filled(values: dict) -> dict:
    """What a resident types into the form page's own fields."""
    return tip_form(submission_key=values["submission_key"])


def test_the_form_page_fetched_again_keeps_its_key(client, world):
    key = chooser_key(client)
    url = f"/gui-tin?xa=A&phieu={key}"
    first, again = form_values(client, url), form_values(client, url)
    assert first["submission_key"] == again["submission_key"] == key
    assert chooser_key(client) != key  # every visit to the chooser: a new form
    # The English page of the same form carries the same key.
    assert form_values(client, f"/en/gui-tin?xa=A&phieu={key}")["submission_key"] == key


@pytest.mark.parametrize("bad", ["", "short", "x" * 65, "a b c d e f g h i j", "é" * 20])
def test_a_missing_or_malformed_key_in_the_address_gets_a_fresh_one(client, world, bad):
    values = form_values(client, f"/gui-tin?xa=A&phieu={bad}")
    assert values["submission_key"] != bad
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,64}", values["submission_key"])


def test_back_and_send_again_without_javascript_makes_no_second_tip(client, world):
    url = f"/gui-tin?xa=A&phieu={chooser_key(client)}"
    data = filled(form_values(client, url))
    reference, code = receipt_of(post_tip(client, data))
    # Back: the page is fetched again, the browser restores what was typed.
    data = filled(form_values(client, url))
    assert receipt_of(post_tip(client, data)) == (reference, code)
    assert tip_count() == 1


def test_replay_shows_the_code_only_within_the_window(app, client, world, time_machine):
    time_machine.move_to(NOW, tick=False)
    data = tip_form()
    reference, code = receipt_of(post_tip(client, data))
    minutes = app.config["TIPLINE_RESUBMIT_CODE_MINUTES"]
    assert minutes == 10

    time_machine.move_to(NOW + timedelta(minutes=minutes), tick=False)
    assert receipt_of(post_tip(client, data)) == (reference, code)

    time_machine.move_to(NOW + timedelta(minutes=minutes, seconds=1), tick=False)
    late = post_tip(client, data)
    assert late.status_code == 200
    html = late.get_data(as_text=True)
    assert "Tin báo này đã được nhận" in html
    assert f'id="reference">{reference}<' in html
    assert 'id="follow-up-code"' not in html
    assert code not in html and code.replace("-", "") not in html
    assert late.headers["Cache-Control"] == "no-store"
    assert tip_count() == 1


def test_outbox_replay_after_the_window_gets_the_reference_only(app, client, world, time_machine):
    time_machine.move_to(NOW, tick=False)
    form = tip_form(follow_up_code="A" * 16)
    first = post_tip(client, form, headers=JSON).get_json()
    assert first["code"] == services.format_code("A" * 16)
    time_machine.move_to(NOW + timedelta(hours=3), tick=False)
    again = post_tip(client, form, headers=JSON).get_json()
    assert again == {**first, "code": None, "created": False}
    assert tip_count() == 1


def test_the_setting_sets_the_window(app, client, world, time_machine, monkeypatch):
    monkeypatch.setitem(app.config, "TIPLINE_RESUBMIT_CODE_MINUTES", 1)
    time_machine.move_to(NOW, tick=False)
    data = tip_form()
    post_tip(client, data)
    time_machine.move_to(NOW + timedelta(minutes=2), tick=False)
    assert 'id="follow-up-code"' not in post_tip(client, data).get_data(as_text=True)


def test_a_used_key_with_another_text_is_refused_and_the_form_comes_back(client, world):
    url = f"/gui-tin?xa=A&phieu={chooser_key(client)}"
    values = form_values(client, url)
    reference, _ = receipt_of(post_tip(client, filled(values)))
    # A reload after the receipt, and a new tip written on the same page.
    other = "Một vụ việc khác hẳn: có người lạ dò xét nhà dân vào ban đêm."
    response = post_tip(client, {**filled(values), "description": other})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Biểu mẫu này đã được dùng để gửi một tin báo khác." in html
    assert reference not in html
    assert other in html  # what was typed is still there
    again = FormValues(html).values
    assert again["submission_key"] != values["submission_key"]
    assert tip_count() == 1
    # Sending that page makes the new tip.
    new_reference, _ = receipt_of(post_tip(client, {**filled(again), "description": other}))
    assert new_reference != reference
    assert tip_count() == 2


def test_a_used_key_with_another_text_from_the_outbox_is_a_409(client, world):
    form = tip_form()
    post_tip(client, form, headers=JSON)
    changed = {**form, "description": "Nội dung khác hẳn lần trước."}
    response = post_tip(client, changed, headers=JSON)
    assert response.status_code == 409
    assert "đã được dùng" in response.get_json()["error"]
    assert tip_count() == 1


def test_a_tip_moved_by_staff_is_still_the_same_form(client, world, login):
    from tipline.extensions import db

    data = tip_form()
    reference, code = receipt_of(post_tip(client, data))
    tip = db.session.scalar(db.select(services.Tip).where(services.Tip.reference == reference))
    tip.unit_id = world.a2.id  # moved to the right village
    db.session.commit()
    assert receipt_of(post_tip(client, data)) == (reference, code)


# --- in a real browser ---------------------------------------------------------------------


@pytest.fixture
def chromium_phone(request):
    """test_browser's phone (skipped, like it, without Chromium)."""
    browser_tests = pytest.importorskip("tests.test_browser")
    if browser_tests.CHROMIUM is None:
        pytest.skip("needs Debian's chromium")
    return request.getfixturevalue("phone")


def _browser_fixtures():
    from tests import test_browser

    return test_browser


@pytest.mark.slow
def test_back_and_send_again_in_a_browser_without_javascript(app, world, chromium_phone):
    tb = _browser_fixtures()
    page = chromium_phone.open(javascript=False)
    tb.start_tip(page)
    assert "phieu=" in page.url
    description = "Có người lạ lấy trộm xe máy trước nhà văn hóa, gửi rồi bấm quay lại."
    tb.fill_tip(page, description)
    tb.post(page, "Gửi tin báo")
    reference, code = tb.read_receipt(page)

    page.go_back()
    page.get_by_role("heading", name="Gửi tin báo").wait_for()
    assert page.get_by_label("Chuyện gì đã xảy ra?").input_value() == description
    tb.post(page, "Gửi tin báo")
    assert tb.read_receipt(page) == (reference, code)
    assert tb.tips_with(app, description) == [reference]
    chromium_phone.assert_no_errors()


@pytest.mark.slow
def test_from_a_poster_link_back_and_send_again_without_javascript(app, world, chromium_phone):
    """The poster's QR code opens /gui-tin?xa=A directly: Back and send again is one tip."""
    tb = _browser_fixtures()
    page = chromium_phone.open(javascript=False)
    page.goto("/gui-tin?xa=A")
    assert "phieu=" in page.url
    description = "Người lạ đi xe không biển số hỏi đường vào từng nhà, gửi từ áp phích."
    tb.fill_tip(page, description)
    tb.post(page, "Gửi tin báo")
    reference, code = tb.read_receipt(page)
    page.go_back()
    page.get_by_role("heading", name="Gửi tin báo").wait_for()
    tb.post(page, "Gửi tin báo")
    assert tb.read_receipt(page) == (reference, code)
    assert tb.tips_with(app, description) == [reference]
    chromium_phone.assert_no_errors()


@pytest.mark.slow
def test_with_javascript_the_address_drops_the_key_and_a_reload_is_a_new_form(
    app, world, chromium_phone
):
    tb = _browser_fixtures()
    page = chromium_phone.open()
    tb.start_tip(page)
    page.wait_for_function("() => !location.search.includes('phieu=')")
    first_key = page.locator("input[name=submission_key]").get_attribute("value")
    description = "Nhóm thanh niên tụ tập gây ồn sau nửa đêm, gửi bằng điện thoại."
    tb.fill_tip(page, description)
    tb.post(page, "Gửi tin báo")
    reference, _ = tb.read_receipt(page)
    page.reload()
    page.get_by_role("heading", name="Gửi tin báo").wait_for()
    assert page.locator("input[name=submission_key]").get_attribute("value") != first_key
    assert tb.tips_with(app, description) == [reference]
    chromium_phone.assert_no_errors()


# The browser fixtures, shared with test_browser (pytest finds them by name in this module).
with contextlib.suppress(pytest.skip.Exception):  # playwright is not installed
    from tests.test_browser import browser, live_server, phone  # noqa: E402, F401


def test_a_browser_opening_the_form_from_a_poster_gets_a_key_in_its_address(client, world):
    """/gui-tin?xa=A from a QR code: the browser is sent to the same page with its own key,
    so Back after a plain submission fetches that key again."""
    navigate = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
    response = client.get("/gui-tin?xa=A", headers=navigate)
    assert response.status_code == 303
    assert response.headers["Cache-Control"] == "no-store"
    location = response.location
    assert location.startswith("/gui-tin?xa=A&phieu=")
    key = location.rsplit("=", 1)[1]
    data = filled(form_values(client, location))
    assert data["submission_key"] == key
    reference, code = receipt_of(post_tip(client, data))
    # Back, and send the restored form again: the same key, the same tip.
    assert receipt_of(post_tip(client, filled(form_values(client, location)))) == (reference, code)
    assert tip_count() == 1
    # A second visit from the poster is a new form; the English page keeps its prefix.
    assert client.get("/gui-tin?xa=A", headers=navigate).location != location
    assert client.get("/en/gui-tin?xa=A", headers=navigate).location.startswith("/en/gui-tin?")
    # Scripts and the service worker's own fetches are not redirected.
    assert client.get("/gui-tin?xa=A").status_code == 200
