"""The retention purge: personal data of old closed tips goes; states, dates and counters stay."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from tipline.extensions import db
from tipline.media.photos import process_photo
from tipline.tips import counts, workflow
from tipline.tips.models import IdentityTier, Note, Outcome, TipCount, TipPhoto, TipStatus
from tipline.tips.services import public_timeline
from tipline.tips.workflow import Action

from .conftest import database_text

NOW = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)


def photo() -> object:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 80, 40)).save(buffer, "JPEG")
    return process_photo(buffer.getvalue())


def closed_tip(world, make_tip, *, closed: datetime, **draft):
    """A confidential tip with a photo and notes, resolved at `closed`."""
    leader = world.user("leader_a1")
    draft.setdefault("identity_tier", IdentityTier.CONFIDENTIAL)
    draft.setdefault("name", "Nguyễn Văn Báo")
    draft.setdefault("phone", "0912345678")
    tip = make_tip(world.a1, now=closed - timedelta(days=3), photos=[photo()], **draft)
    steps = [Action.TRIAGE, Action.START_VERIFICATION, Action.VERIFY]
    for offset, action in enumerate(steps):
        workflow.transition(tip, action, leader, at=closed - timedelta(days=2 - offset))
    workflow.add_note(tip, leader, "Đã gặp hai hộ gia đình.", at=closed)
    workflow.transition(
        tip,
        Action.RESOLVE,
        leader,
        outcome=Outcome.MEDIATED,
        note="Hai bên đã hòa giải, cảm ơn bác.",
        note_to_tipster=True,
        at=closed,
    )
    db.session.commit()
    return tip


def purge(runner, *args: str):
    result = runner.invoke(args=["tipline", "retention", "purge", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_purge_removes_contact_and_note_texts_of_old_closed_tips(
    ctx, world, make_tip, runner, time_machine
):
    old = closed_tip(world, make_tip, closed=NOW - timedelta(days=400))
    recent = closed_tip(world, make_tip, closed=NOW - timedelta(days=30), name="Trần Thị Gần")
    open_tip = make_tip(
        world.a1,
        now=NOW - timedelta(days=900),
        identity_tier=IdentityTier.NAMED,
        name="Lê Văn Mở",
        phone="0987654321",
    )
    counters_before = counter_rows()
    before_timeline = [(e.at, e.status) for e in public_timeline(old)]
    events_before = len(old.events)

    time_machine.move_to(NOW, tick=False)
    output = purge(runner)
    assert "Purged 1 closed tips: 1 contacts, 2 note texts, 0 message texts, 0 photos" in output

    db.session.expire_all()
    assert old.contact.name is None and old.contact.phone is None
    assert old.contact.purged_at is not None
    assert all(n.body is None and n.purged_at for n in notes_of(old))
    # Photos stay unless the deployment asks for them to go.
    assert len(old.photos) == 1
    assert recent.contact.name == "Trần Thị Gần"
    assert all(n.body for n in notes_of(recent))
    assert open_tip.contact.name == "Lê Văn Mở"

    # States, dates, events and counters do not move.
    assert old.status == TipStatus.RESOLVED and old.outcome == Outcome.MEDIATED
    assert len(old.events) == events_before
    assert [(e.at, e.status) for e in public_timeline(old)] == before_timeline
    assert all(e.note is None for e in public_timeline(old))
    assert counts.differences() == {}
    assert counter_rows() == counters_before
    assert "Nguyễn Văn Báo" not in database_text()

    # Running again finds nothing left to do.
    assert "Purged 0 closed tips" in purge(runner)


def test_purge_with_photos_deletes_rows_and_files(ctx, app, world, make_tip, runner, time_machine):
    tip = closed_tip(world, make_tip, closed=NOW - timedelta(days=400))
    names = [tip.photos[0].filename, tip.photos[0].thumb_filename]
    upload = Path(app.config["UPLOAD_DIR"])
    assert all(any(upload.rglob(name)) for name in names)

    time_machine.move_to(NOW, tick=False)
    output = purge(runner, "--photos")
    assert "1 photos (2 files)" in output
    assert db.session.scalars(select(TipPhoto).where(TipPhoto.tip_id == tip.id)).all() == []
    assert not any(any(upload.rglob(name)) for name in names)
    assert counts.differences() == {}


def test_purge_days_are_configurable_and_closing_date_counts(
    ctx, world, make_tip, runner, time_machine
):
    tip = closed_tip(world, make_tip, closed=NOW - timedelta(days=40))
    time_machine.move_to(NOW, tick=False)
    assert "Purged 0 closed tips" in purge(runner)
    assert "Purged 1 closed tips" in purge(runner, "--days", "30")
    db.session.expire_all()
    assert tip.contact.name is None


def test_purge_removes_message_texts_of_old_closed_tips(ctx, world, make_tip, time_machine):
    from tipline.tips.models import MessageKind, TipMessage
    from tipline.tips.retention import purge_closed_tips

    closed = NOW - timedelta(days=400)
    time_machine.move_to(closed - timedelta(days=4), tick=False)
    leader = world.user("leader_a1")
    old = make_tip(world.a1)
    recent = make_tip(world.a1)
    for tip in (old, recent):
        workflow.send_message(tip, leader, "Anh thấy mấy người?", MessageKind.QUESTION)
        workflow.receive_tipster_message(tip, "Ba người, có ông Sáu.", MessageKind.REPLY)
    workflow.transition(old, Action.TRIAGE, leader)
    workflow.transition(old, Action.START_VERIFICATION, leader)
    time_machine.move_to(closed, tick=False)
    workflow.transition(
        old, Action.MARK_UNFOUNDED, leader, note="Không có cơ sở.", note_to_tipster=True
    )
    db.session.commit()
    counters_before = counter_rows()

    time_machine.move_to(NOW, tick=False)
    report = purge_closed_tips()
    assert (report.tips, report.messages) == (1, 2)
    db.session.expire_all()
    old_messages = db.session.scalars(select(TipMessage).where(TipMessage.tip_id == old.id)).all()
    # The rows stay (kind and minute) but lose their text; the open tip keeps its own.
    assert [m.kind for m in old_messages] == [MessageKind.QUESTION, MessageKind.REPLY]
    assert all(m.body is None and m.purged_at is not None for m in old_messages)
    assert all(m.body for m in recent.messages)
    assert database_text().count("ông Sáu") == 1  # the open tip's reply only
    assert counter_rows() == counters_before and counts.differences() == {}
    assert purge_closed_tips().tips == 0


def test_purge_refuses_negative_days(ctx, runner):
    result = runner.invoke(args=["tipline", "retention", "purge", "--days", "-1"])
    assert result.exit_code == 2
    assert "-1" in result.output


def notes_of(tip) -> list[Note]:
    return list(db.session.scalars(select(Note).where(Note.tip_id == tip.id)))


def counter_rows() -> list[tuple]:
    rows = db.session.execute(
        select(
            TipCount.unit_id, TipCount.category_id, TipCount.day, TipCount.metric, TipCount.count
        )
    )
    return sorted(tuple(row) for row in rows)
