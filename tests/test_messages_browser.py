"""The tipster's conversation in a real browser, at phone size and without JavaScript (issue 5).

Skipped where Debian's chromium is missing, like tests/test_browser.py whose fixtures it uses.
"""

from __future__ import annotations

import secrets

import pytest

from tipline.extensions import db
from tipline.tips import workflow
from tipline.tips.models import IdentityTier, MessageKind, Tip
from tipline.tips.services import ALPHABET

from .test_browser import (  # noqa: F401  (fixtures)
    CHROMIUM,
    browser,
    check_fits_phone,
    follow_up,
    live_server,
    phone,
    post,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.commits,  # a live server in another thread
    pytest.mark.skipif(
        CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)"
    ),
]


def test_tipster_answers_reveals_and_signs_out_without_javascript(
    app,
    world,
    make_tip,
    phone,  # noqa: F811
):
    code = "".join(secrets.choice(ALPHABET) for _ in range(16))
    tip = make_tip(world.a1, follow_up_code=code)
    workflow.send_message(
        tip, world.user("leader_a1"), "Xe máy màu gì, anh/chị có nhớ không?", MessageKind.QUESTION
    )
    db.session.commit()
    reference, public_id = tip.reference, tip.public_id

    page = phone.open(javascript=False)
    page.goto("/tra-cuu")
    follow_up(page, reference, code)
    assert "Xe máy màu gì, anh/chị có nhớ không?" in page.locator("main").inner_text()
    check_fits_phone(page, "30-status-with-question")

    # One box, one button: the answer is the choice already made (issue 17).
    assert page.get_by_label("Câu trả lời cho câu hỏi trên").is_checked()
    page.get_by_label("Tin nhắn của bạn").fill("Màu đỏ, biển 36B1.")
    post(page, "Gửi tin nhắn", status=303)
    page.get_by_text("Đã gửi câu trả lời của bạn.").wait_for()
    check_fits_phone(page, "31-status-answered")

    page.get_by_text("Cho biết tên và số điện thoại", exact=True).click()
    page.get_by_label("Họ và tên").fill("Phạm Thị Lan")
    page.get_by_label("Số điện thoại").fill("0912 345 678")
    post(page, "Gửi danh tính", status=303)
    page.get_by_text("Đã ghi nhận danh tính của bạn.", exact=False).wait_for()

    post(page, "Thoát")
    page.get_by_text("Bạn đã thoát.", exact=False).wait_for()
    assert [c for c in page.context.cookies() if c["name"] == "tipline_tipster"] == []
    page.goto("/tra-cuu/tin")
    page.get_by_role("heading", name="Tra cứu tin báo").wait_for()
    # After signing out the status page answers 401 with the lookup form, as it should.
    phone.problems = [p for p in phone.problems if "status of 401" not in p]

    with app.app_context():
        stored = db.session.scalar(db.select(Tip).where(Tip.public_id == public_id))
        assert stored.identity_tier == IdentityTier.CONFIDENTIAL
        assert [m.body for m in stored.messages][-1] == "Màu đỏ, biển 36B1."
    phone.assert_no_errors()


def test_privacy_page_fits_the_phone(world, phone):  # noqa: F811
    page = phone.open()
    for path, name in [("/rieng-tu", "32-privacy"), ("/en/rieng-tu", "33-privacy-en")]:
        page.goto(path)
        check_fits_phone(page, name)
    phone.assert_no_errors()
