"""The submission's transaction: a resident's tip is written without a savepoint, and the
rare collision (a reference drawn twice) still ends in exactly one tip."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from tipline.extensions import db
from tipline.tips import services
from tipline.tips.models import Tip, TipEvent

from .test_public import gps_jpeg, post_tip, receipt_of, tip_count, tip_form, upload


def _statements(app):
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement.split()[0].upper())

    return seen, record


@pytest.mark.commits  # counts the submission's own statements (no fixture savepoints)
def test_a_resident_tip_is_written_without_a_savepoint(app, client, world):
    seen, record = _statements(app)
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        response = post_tip(client, tip_form())
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 200 and tip_count() == 1
    assert "SAVEPOINT" not in seen and "RELEASE" not in seen


def test_a_reference_drawn_twice_is_drawn_again_and_makes_one_tip(
    app, client, world, make_tip, monkeypatch
):
    taken = make_tip(world.a1).reference
    drawn = iter([taken, "TL-ABCD-EFGH"])
    monkeypatch.setattr(services, "new_reference", lambda: next(drawn))
    reference, _code = receipt_of(post_tip(client, tip_form()))
    assert reference == "TL-ABCD-EFGH"
    assert tip_count() == 2
    tip = db.session.scalar(select(Tip).where(Tip.reference == reference))
    events = db.session.scalar(select(func.count(TipEvent.id)).where(TipEvent.tip_id == tip.id))
    assert events == 1


def test_several_tips_in_one_transaction_keep_their_savepoints(world, make_tip, monkeypatch):
    """Recording on behalf (several tips at once) keeps each in a savepoint: a collision on
    the second does not undo the first."""
    first = services.submit_tip(
        services.TipDraft(
            submission_key=services.new_submission_key(),
            category=world.theft,
            unit=world.a1,
            description="Tin thứ nhất của buổi họp tổ dân phố.",
        )
    )
    drawn = iter([first.tip.reference, "TL-WXYZ-2345"])
    monkeypatch.setattr(services, "new_reference", lambda: next(drawn))
    second = services.submit_tip(
        services.TipDraft(
            submission_key=services.new_submission_key(),
            category=world.theft,
            unit=world.a1,
            description="Tin thứ hai của buổi họp tổ dân phố.",
        )
    )
    db.session.commit()
    assert {first.tip.reference, second.tip.reference} == {
        first.tip.reference,
        "TL-WXYZ-2345",
    }
    assert tip_count() == 2


def test_a_form_sent_again_with_its_photo_keeps_only_the_first_posts_files(app, client, world):
    """Without a look-up first, a replay is found by the unique key; the photo files it
    had written are removed, so a phone's outbox retrying leaves no orphans."""
    uploads = Path(app.config["UPLOAD_DIR"])
    before = {p for p in uploads.rglob("*.jpg")}
    data = tip_form()
    first = receipt_of(post_tip(client, {**data, "photo": upload(gps_jpeg())}))
    after_first = {p for p in uploads.rglob("*.jpg")} - before
    assert len(after_first) == 2  # the image and its thumbnail
    again = receipt_of(post_tip(client, {**data, "photo": upload(gps_jpeg())}))
    assert again == first and tip_count() == 1
    assert {p for p in uploads.rglob("*.jpg")} - before == after_first
