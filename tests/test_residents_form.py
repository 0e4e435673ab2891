"""The tip form (issue 17, item 11): the date and time default to now in Asia/Ho_Chi_Minh,
without script; the photo preview's place on the page. The preview itself is tested in a
browser (test_residents_browser.py)."""

from __future__ import annotations

import re
from datetime import timedelta

from tipline.core.timeutil import to_local, utcnow
from tipline.tips.services import new_submission_key


def _value(page: str, name: str) -> str:
    field = re.search(rf'<input[^>]*name="{name}"[^>]*>', page)[0]
    return re.search(r'value="([^"]*)"', field)[1]


def test_date_and_time_default_to_now_in_vietnam(client, world):
    before = to_local(utcnow())
    page = client.get("/gui-tin?xa=A&phieu=" + new_submission_key()).get_data(as_text=True)
    after = to_local(utcnow())
    assert _value(page, "occurred_on") in {f"{before:%Y-%m-%d}", f"{after:%Y-%m-%d}"}
    assert _value(page, "occurred_time") in {f"{before:%H:%M}", f"{after:%H:%M}"}
    # The script may move an untouched value to the phone's clock.
    assert re.search(r'<input[^>]*data-now="date"[^>]*name="occurred_on"', page) or re.search(
        r'<input[^>]*name="occurred_on"[^>]*data-now="date"', page
    )


def test_the_default_is_vietnam_time_not_the_servers(client, world, monkeypatch):
    """A server on UTC at 20:30 on 31 December: in Vietnam it is already 03:30, 1 January."""
    from datetime import datetime

    from tipline.public import views

    monkeypatch.setattr(views, "utcnow", lambda: datetime(2026, 12, 31, 20, 30))
    page = client.get("/gui-tin?xa=A&phieu=" + new_submission_key()).get_data(as_text=True)
    assert _value(page, "occurred_on") == "2027-01-01"
    assert _value(page, "occurred_time") == "03:30"


def test_a_form_sent_back_keeps_what_the_resident_chose_and_no_script_changes_it(client, world):
    chosen = (to_local(utcnow()) - timedelta(days=3)).date()
    answer = client.post(
        "/gui-tin?xa=A",
        data={
            "submission_key": new_submission_key(),
            "village": "A1",
            "category": "theft",
            "description": "",  # refused: the form comes back
            "occurred_on": chosen.isoformat(),
            "occurred_time": "07:15",
            "identity_tier": "anonymous",
        },
    )
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert _value(page, "occurred_on") == chosen.isoformat()
    assert _value(page, "occurred_time") == "07:15"
    assert "data-now" not in page


def test_a_tip_sent_without_touching_the_defaults_records_them(client, world):
    from tipline.extensions import db
    from tipline.tips.models import Tip

    page = client.get("/gui-tin?xa=A&phieu=" + new_submission_key()).get_data(as_text=True)
    day, clock = _value(page, "occurred_on"), _value(page, "occurred_time")
    answer = client.post(
        "/gui-tin?xa=A",
        data={
            "submission_key": _value(page, "submission_key"),
            "village": "A1",
            "category": "theft",
            "description": "Mất trộm xe đạp trước cổng chợ sáng nay.",
            "occurred_on": day,
            "occurred_time": clock,
            "identity_tier": "anonymous",
        },
    )
    assert answer.status_code == 200
    tip = db.session.scalar(db.select(Tip))
    assert (f"{tip.occurred_on:%Y-%m-%d}", f"{tip.occurred_time:%H:%M}") == (day, clock)


def test_form_has_a_place_for_the_photo_preview(client, world):
    page = client.get("/gui-tin?xa=A&phieu=" + new_submission_key()).get_data(as_text=True)
    preview = re.search(r"<ul [^>]*data-photo-preview[^>]*>", page)[0]
    assert " hidden" in preview  # nothing shows without script
    assert 'data-remove="Bỏ ảnh này"' in preview
