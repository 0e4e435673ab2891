"""The proof of work in Chromium (issue 21): the form's script asks just before sending,
fetches the solver only when a puzzle is asked for, solves it in a Web Worker, and a tip
sent that way, online or later from the outbox, is not held."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tipline.extensions import db
from tipline.places.models import Unit
from tipline.public import puzzle
from tipline.tips.models import Tip

from .test_browser import (
    CHROMIUM,
    browser,  # noqa: F401 (a fixture)
    fill_tip,
    live_server,  # noqa: F401 (a fixture)
    phone,  # noqa: F401 (a fixture)
    post,
    read_receipt,
    start_tip,
    wait_for_service_worker,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.commits,  # a live server in another thread
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium"),
]


@pytest.fixture
def flooded(app, monkeypatch):
    """Xã An Bình past its threshold: the form is asked for a 12-bit puzzle."""
    for name, value in {
        "TIPLINE_PUZZLE_COMMUNE_PER_HOUR": 3,
        "TIPLINE_PUZZLE_BASE_BITS": 12,
        "TIPLINE_PUZZLE_MAX_BITS": 12,
    }.items():
        monkeypatch.setitem(app.config, name, value)
    with app.app_context():
        code = db.session.scalar(select(Unit.code).where(Unit.name == "Xã An Bình"))
    with app.test_request_context():
        for _ in range(3):
            puzzle.record(code, "earlier-senders")
    yield code
    app.extensions.get("tipline_throttle", {}).pop("local", None)


def tip_by(app, reference: str) -> Tip:
    with app.app_context():
        return db.session.scalar(select(Tip).where(Tip.reference == reference))


def watch(page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    return seen


def test_a_quiet_commune_asks_nothing_and_the_solver_is_never_fetched(app, world, phone):  # noqa: F811
    page = phone.open()
    seen = watch(page)
    start_tip(page)
    fill_tip(page, "Có người lạ đi qua lại nhiều lần trước cổng nhà văn hóa thôn.")
    post(page, "Gửi tin báo")
    reference, _code = read_receipt(page)
    assert any("/gui-tin/cau-do" in url for url in seen)  # asked, just before sending
    assert not any("puzzle-worker" in url for url in seen)
    assert not tip_by(app, reference).held
    phone.assert_no_errors()


def test_under_a_flood_the_page_solves_the_puzzle_and_its_tip_is_not_held(
    app,
    world,
    phone,  # noqa: F811
    flooded,
):
    page = phone.open()
    seen = watch(page)
    start_tip(page)
    assert not any("puzzle-worker" in url for url in seen)  # the first visit: not loaded
    fill_tip(page, "Nhóm thanh niên tụ tập đua xe trên đê mỗi tối, gây ồn và nguy hiểm.")
    with page.expect_request(lambda r: r.method == "POST") as sent:
        post(page, "Gửi tin báo")
    body = sent.value.post_data_buffer or b""
    assert b'name="puzzle"' in body and b'name="puzzle_answer"' in body
    reference, _code = read_receipt(page)
    assert any("puzzle-worker" in url for url in seen)
    assert not tip_by(app, reference).held
    phone.assert_no_errors()


def test_a_tip_queued_offline_solves_its_puzzle_when_it_leaves(
    app,
    world,
    phone,  # noqa: F811
    flooded,
):
    page = phone.open()
    start_tip(page)
    wait_for_service_worker(page)
    context = page.context
    context.set_offline(True)
    page.reload()
    description = "Mất trộm xe đạp ở sân nhà, viết lúc mất sóng, gửi khi có mạng."
    fill_tip(page, description)
    page.get_by_role("button", name="Gửi tin báo", exact=True).click()
    page.get_by_role("heading", name="Tin đã được lưu trên máy này").wait_for()
    context.set_offline(False)  # the outbox sends it, asking for the puzzle as it leaves
    page.wait_for_function(
        "() => /^TL-/.test(document.querySelector('#reference').textContent)", timeout=20_000
    )
    reference = page.locator("#reference").inner_text().strip()
    tip = tip_by(app, reference)
    assert tip.description == description and not tip.held
    phone.problems = [p for p in phone.problems if "ERR_INTERNET_DISCONNECTED" not in p]
    phone.assert_no_errors()
