"""The triage pages in a real browser at 360 px: no sideways scroll, thumb-sized targets,
labelled fields; a leader searches without diacritics and merges a suggested duplicate."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tipline.core.timeutil import utcnow
from tipline.tips.models import TipStatus

from .test_browser import (  # noqa: F401 (fixtures)
    CHROMIUM,
    UNLABELLED,
    browser,
    check_fits_phone,
    live_server,
    log_in,
    phone,
    stored_tip,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.commits,  # a live server in another thread
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium"),
]


def test_triage_pages_fit_a_phone(app, world, make_tip, phone):  # noqa: F811
    base = utcnow() - timedelta(days=3)
    first = make_tip(world.a1, now=base, description="Trộm cắp xe máy Honda trước cổng chợ Đông")
    second = make_tip(
        world.a1,
        now=base + timedelta(hours=2),
        category=world.fight,
        description="trom cap xe may honda o cong cho dong",
        place="Chợ Đông, ngõ 3 đường Lê Lợi kéo dài đến tận cánh đồng phía sau trường học",
    )
    page = phone.open()
    log_in(page, "police_a")
    page.goto("/staff/?q=trom+cap")
    page.locator("details.filter-sheet summary").click()
    check_fits_phone(page, "t1-inbox-search-filters")
    assert page.locator(".tip-card .ref").all_inner_texts() == [second.reference, first.reference]
    assert page.evaluate(UNLABELLED) == []
    page.goto(f"/staff/tips/{second.public_id}")
    check_fits_phone(page, "t2-tip-duplicates")
    assert page.evaluate(UNLABELLED) == []
    for path in (
        f"/staff/tips/{second.public_id}/print",
        "/staff/record",
        "/staff/templates",
        "/staff/settings/notifications",
    ):
        page.goto(path)
        check_fits_phone(page, "t3" + path.replace("/", "-"))
        assert page.evaluate(UNLABELLED) == [], path

    page.goto(f"/staff/tips/{second.public_id}")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name=f"Gộp tin này vào {first.reference}").click()
    assert answer.value.status == 303
    assert stored_tip(app, second.reference)["status"] == TipStatus.DUPLICATE
    phone.assert_no_errors()
