"""Triage actions through the app: assignment, priority, duplicates, bulk, tips recorded on
behalf of residents, moves (with their counters), response templates, the printable record."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta

from PIL import Image
from sqlalchemy import func, select

from tipline.extensions import db
from tipline.media.photos import process_photo
from tipline.tips import counts, triage, workflow
from tipline.tips.duplicates import duplicate_candidates
from tipline.tips.models import (
    EventKind,
    IdentityAccess,
    IdentityTier,
    Priority,
    RejectReason,
    ResponseTemplate,
    Tip,
    TipCount,
    TipEvent,
    TipSource,
    TipStatus,
)
from tipline.tips.services import find_by_receipt, public_timeline
from tipline.tips.workflow import Action


def fresh(tip: Tip) -> Tip:
    db.session.expire_all()
    return db.session.get(Tip, tip.id)


def page(client, tip) -> str:
    response = client.get(f"/staff/tips/{tip.public_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


# --- assignment and priority ------------------------------------------------------------


def test_leader_assigns_a_tip_to_a_team_member_with_an_event(login, world, make_tip):
    tip = make_tip(world.a1)
    member = world.user("member_a1")
    client = login("leader_a1")
    assert "Member A1" in page(client, tip)
    response = client.post(
        f"/staff/tips/{tip.public_id}/assign",
        data={"assignee": str(member.id), "version": tip.version},
    )
    assert response.status_code == 303
    tip = fresh(tip)
    assert tip.assignee_id == member.id
    event = tip.events[-1]
    assert event.kind == EventKind.ASSIGNED and event.assignee_id == member.id
    assert event.public is False
    assert tip.first_response_at is not None


def test_cannot_assign_to_someone_without_a_say_over_the_tip(login, world, make_tip):
    tip = make_tip(world.a1)
    response = login("leader_a1").post(
        f"/staff/tips/{tip.public_id}/assign",
        data={"assignee": str(world.user("leader_b1").id), "version": tip.version},
    )
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Không giao được tin báo cho người này." in page
    assert world.user("leader_b1").full_name not in page
    assert fresh(tip).assignee_id is None


def test_team_member_cannot_assign(login, world, make_tip):
    tip = make_tip(world.a1)
    response = login("member_a1").post(
        f"/staff/tips/{tip.public_id}/assign",
        data={"assignee": str(world.user("member_a1").id), "version": tip.version},
    )
    assert response.status_code == 403
    assert fresh(tip).assignee_id is None


def test_priority_change_is_an_event_and_reorders_the_inbox(login, world, make_tip):
    older = make_tip(world.a1, now=datetime(2026, 1, 1, 1, 0))
    make_tip(world.a1, now=datetime(2026, 1, 2, 1, 0))
    client = login("member_a1")
    response = client.post(
        f"/staff/tips/{older.public_id}/priority",
        data={"priority": "urgent", "version": older.version},
    )
    assert response.status_code == 303
    assert fresh(older).priority == Priority.URGENT
    assert fresh(older).events[-1].kind == EventKind.PRIORITY
    html = client.get("/staff/").get_data(as_text=True)
    cards = re.findall(r'<span class="ref">(TL-[A-Z0-9-]{9})</span>', html)
    assert cards[0] == older.reference  # urgent now: on top
    bad = client.post(
        f"/staff/tips/{older.public_id}/priority", data={"priority": "asap", "version": 1}
    )
    assert bad.status_code == 400


def test_stale_form_is_refused(login, world, make_tip):
    tip = make_tip(world.a1)
    client = login("leader_a1")
    response = client.post(
        f"/staff/tips/{tip.public_id}/priority", data={"priority": "low", "version": 99}
    )
    assert response.status_code == 409
    assert fresh(tip).priority == Priority.NORMAL


# --- duplicates -------------------------------------------------------------------------


def test_likely_duplicates_are_suggested_and_merged_in_one_action(login, world, make_tip, client):
    base = datetime(2026, 5, 1, 2, 0)
    first = make_tip(world.a1, now=base, description="Trộm xe máy Honda trước cổng chợ Đông")
    second = make_tip(
        world.a2, now=base + timedelta(hours=3), description="trom xe may honda o cong cho dong"
    )
    unrelated = make_tip(world.a1, now=base, description="Tiếng ồn karaoke quá khuya")
    far_away = make_tip(world.b1, now=base, description="Trộm xe máy Honda trước cổng chợ Đông")
    long_ago = make_tip(
        world.a1, now=base - timedelta(days=60), description="Trộm xe máy Honda trước cổng chợ"
    )
    leader = login("police_a")
    html = page(leader, second)
    section = html[html.index("Có thể trùng với") :]
    assert first.reference in section
    for other in (unrelated, far_away, long_ago):
        assert other.reference not in section
    assert "cùng loại" in section and "cách 3 giờ" in section

    response = leader.post(
        f"/staff/tips/{second.public_id}/act",
        data={
            "action": "mark_duplicate",
            "version": second.version,
            "duplicate_of": first.reference,
        },
    )
    assert response.status_code == 303
    second = fresh(second)
    assert second.status == TipStatus.DUPLICATE and second.duplicate_of_id == first.id
    # Counted once.
    assert counts.differences() == {}
    received = db.session.scalar(
        select(func.sum(TipCount.count)).where(TipCount.metric == counts.RECEIVED)
    )
    assert received == 4  # first, unrelated, far_away, long_ago
    # The tipster of the merged tip sees the states and dates of the tip it joined, no more.
    entries = public_timeline(second)
    assert any(e.merged for e in entries)
    assert all(e.note is None for e in entries if e.merged)


def test_duplicate_suggestions_stay_in_scope(login, world, make_tip):
    base = datetime(2026, 5, 1, 2, 0)
    text = "Trộm xe máy Honda trước cổng chợ Đông"
    mine = make_tip(world.a1, now=base, description=text)
    other_village = make_tip(world.a2, now=base, description=text)
    html = page(login("leader_a1"), mine)
    assert other_village.reference not in html
    found = duplicate_candidates(mine, world.user("police_a"))
    assert [c.tip.id for c in found] == [other_village.id]


# --- bulk actions -----------------------------------------------------------------------


def test_bulk_assign_priority_and_spam_go_through_the_workflow(login, world, make_tip):
    tips = [make_tip(world.a1) for _ in range(3)]
    closed = make_tip(world.a1)
    workflow.transition(closed, Action.TRIAGE, world.user("leader_a1"))
    workflow.transition(closed, Action.START_VERIFICATION, world.user("leader_a1"))
    db.session.commit()
    client = login("leader_a1")
    ids = [t.public_id for t in tips]
    member = world.user("member_a1")
    response = client.post(
        "/staff/bulk", data={"tips": ids, "operation": "assign", "assignee": str(member.id)}
    )
    assert response.status_code == 303
    assert all(fresh(t).assignee_id == member.id for t in tips)
    client.post("/staff/bulk", data={"tips": ids[:2], "operation": "priority", "priority": "low"})
    assert [fresh(t).priority for t in tips] == [Priority.LOW, Priority.LOW, Priority.NORMAL]
    response = client.post(
        "/staff/bulk",
        data={"tips": [ids[0], closed.public_id], "operation": "spam"},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert fresh(tips[0]).status == TipStatus.REJECTED
    assert fresh(tips[0]).reject_reason == RejectReason.SPAM
    # A tip in verification cannot be rejected: refused, named, and left alone.
    assert fresh(closed).status == TipStatus.VERIFYING
    assert closed.reference in html and "Đã xử lý 1 tin báo" in html
    assert counts.differences() == {}
    kinds = [e.kind for e in fresh(tips[0]).events]
    assert kinds.count(EventKind.ASSIGNED) == 1 and EventKind.REJECTED in kinds


def test_bulk_without_selection_or_with_bad_priority_changes_nothing(login, world, make_tip):
    tip = make_tip(world.a1)
    client = login("leader_a1")
    response = client.post("/staff/bulk", data={"operation": "spam"}, follow_redirects=True)
    assert "Hãy chọn ít nhất một tin báo" in response.get_data(as_text=True)
    client.post("/staff/bulk", data={"tips": [tip.public_id], "operation": "priority"})
    client.post("/staff/bulk", data={"tips": [tip.public_id], "operation": "explode"})
    assert fresh(tip).priority == Priority.NORMAL and fresh(tip).status == TipStatus.RECEIVED


# --- tips taken on behalf of residents ----------------------------------------------------


def test_staff_record_several_tips_heard_at_a_meeting(login, world):
    client = login("leader_a1")
    form = client.get("/staff/record").get_data(as_text=True)
    key = re.search(r'name="batch_key"[^>]*value="([^"]+)"', form) or re.search(
        r'value="([^"]+)"[^>]*name="batch_key"', form
    )
    data = {
        "batch_key": key.group(1),
        "source": "meeting",
        "rows-0-category": "theft",
        "rows-0-unit": "A1",
        "rows-0-description": "Bà con phản ánh mất trộm gà ban đêm",
        "rows-1-category": "disturbance",
        "rows-1-unit": "A1",
        "rows-1-description": "Thanh niên tụ tập gây ồn ở bãi đất trống",
        "rows-1-place": "Bãi đất cạnh trường",
        "rows-2-description": "",
    }
    response = client.post("/staff/record", data=data)
    assert response.status_code == 200, response.get_data(as_text=True)
    tips = db.session.scalars(select(Tip).order_by(Tip.id)).all()
    assert len(tips) == 2
    assert {t.source for t in tips} == {TipSource.MEETING}
    assert {t.recorded_by_id for t in tips} == {world.user("leader_a1").id}
    assert tips[1].priority == Priority.URGENT  # the category's default, as online
    assert all(t.events[0].kind == EventKind.SUBMITTED for t in tips)
    assert counts.differences() == {}
    html = response.get_data(as_text=True)
    assert tips[0].reference in html
    # The resident can follow up with the code read out to them.
    code = re.findall(r"<code>([A-Z0-9-]+)</code>", html)[0]
    assert find_by_receipt(tips[0].reference, code).id == tips[0].id
    # Sending the same form again records nothing twice.
    client.post("/staff/record", data=data)
    assert db.session.scalar(select(func.count(Tip.id))) == 2


def test_recording_validates_each_row_and_the_place(login, world):
    client = login("leader_a1")
    base = {"batch_key": "k" * 24, "source": "tip_box"}
    response = client.post(
        "/staff/record",
        data={
            **base,
            "rows-0-category": "theft",
            "rows-0-unit": "B1",
            "rows-0-description": "x" * 20,
        },
    )
    assert response.status_code == 400
    assert "Tin 1: hãy chọn địa bàn." in response.get_data(as_text=True)
    response = client.post("/staff/record", data={**base, "source": "online"})
    assert response.status_code == 400
    assert db.session.scalar(select(func.count(Tip.id))) == 0
    assert login("officer").get("/staff/record").status_code == 403


# --- moving a tip -------------------------------------------------------------------------


def test_moving_a_tip_moves_its_counters(login, world, make_tip):
    tip = make_tip(world.a1, now=datetime(2026, 4, 1, 2, 0))
    police = world.user("police_a")
    for action in (Action.TRIAGE, Action.START_VERIFICATION, Action.VERIFY):
        workflow.transition(tip, action, police)
    workflow.assign(tip, police, world.user("member_a1"))
    db.session.commit()

    def cells(unit):
        rows = db.session.execute(
            select(TipCount.metric, func.sum(TipCount.count))
            .where(TipCount.unit_id == unit.id)
            .group_by(TipCount.metric)
        )
        return {metric: n for metric, n in rows if n}

    assert cells(world.a1) == {"received": 1, "verified": 1}
    response = login("police_a").post(
        f"/staff/tips/{tip.public_id}/act",
        data={"action": "move", "version": fresh(tip).version, "to_unit": "B"},
    )
    assert response.status_code in (302, 303)
    tip = fresh(tip)
    assert tip.unit_id == world.commune_b.id
    assert cells(world.a1) == {} and cells(world.commune_b) == {"received": 1, "verified": 1}
    assert counts.differences() == {}
    move = [e for e in tip.events if e.kind == EventKind.MOVED][0]
    assert (move.from_unit_id, move.to_unit_id) == (world.a1.id, world.commune_b.id)
    # The village A1 member has no say in commune B: the assignment went with the move.
    assert tip.assignee_id is None


# --- response templates -------------------------------------------------------------------


def test_commune_keeps_response_templates_and_a_note_uses_one(login, world, make_tip):
    police = login("police_a")
    response = police.post(
        "/staff/templates",
        data={"commune": "A", "title": "Đã tiếp nhận", "body": "Cảm ơn bạn, tổ đã nhận tin."},
    )
    assert response.status_code == 303
    template = db.session.scalar(select(ResponseTemplate))
    assert template.unit_id == world.commune_a.id
    tip = make_tip(world.a1)
    html = login("leader_a1").get(f"/staff/tips/{tip.public_id}?template={template.id}")
    assert "Cảm ơn bạn, tổ đã nhận tin." in html.get_data(as_text=True)
    # Commune B neither sees nor deletes it; leaders cannot manage templates.
    tip_b = make_tip(world.b1)
    assert "Đã tiếp nhận" not in page(login("police_b"), tip_b)
    assert (
        login("police_b")
        .post("/staff/templates/delete", data={"template": template.id})
        .status_code
        == 404
    )
    assert login("leader_a1").get("/staff/templates").status_code == 403
    assert (
        police.post(
            "/staff/templates", data={"commune": "B", "title": "x", "body": "y"}
        ).status_code
        == 400
    )
    assert police.post("/staff/templates/delete", data={"template": template.id}).status_code == 303
    assert db.session.scalar(select(func.count(ResponseTemplate.id))) == 0


# --- the printable record -----------------------------------------------------------------


def _photo():
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 80, 40)).save(buffer, "JPEG")
    return process_photo(buffer.getvalue())


def test_printable_record_has_states_dates_notes_photos_and_identity_only_where_allowed(
    login, world, make_tip
):
    tip = make_tip(
        world.a1,
        identity_tier=IdentityTier.CONFIDENTIAL,
        name="Nguyễn Thị Báo",
        phone="0912000111",
        photos=[_photo()],
    )
    leader = world.user("leader_a1")
    workflow.transition(tip, Action.TRIAGE, leader, note="Đã gọi trưởng thôn.")
    workflow.add_note(tip, leader, "Cảm ơn, chúng tôi đang xác minh.", to_tipster=True)
    db.session.commit()
    html = login("leader_a1").get(f"/staff/tips/{tip.public_id}/print").get_data(as_text=True)
    for text in (
        "Đã gọi trưởng thôn.",
        "Cảm ơn, chúng tôi đang xác minh.",
        "Gửi tin báo",
        "Tiếp nhận",
    ):
        assert text in html
    assert "/staff/photos/" in html
    assert "Nguyễn Thị Báo" not in html and "0912000111" not in html
    # A confidential tipster: only the commune police, on purpose, and it is logged.
    assert login("leader_a1").post(f"/staff/tips/{tip.public_id}/print").status_code == 403
    police = login("police_a")
    assert "Nguyễn Thị Báo" not in police.get(f"/staff/tips/{tip.public_id}/print").get_data(
        as_text=True
    )
    response = police.post(f"/staff/tips/{tip.public_id}/print")
    assert "Nguyễn Thị Báo" in response.get_data(as_text=True)
    log = db.session.scalar(select(IdentityAccess))
    assert log.purpose == "print" and log.user_id == world.user("police_a").id
    assert login("leader_b1").get(f"/staff/tips/{tip.public_id}/print").status_code == 404


def test_history_names_the_system_for_automatic_escalation(login, world, make_tip):
    tip = make_tip(world.a1, now=datetime(2026, 1, 1, 1, 0))
    triage.escalate_stale(now=datetime(2026, 1, 5, 1, 0), hours=48)
    db.session.commit()
    html = page(login("police_a"), tip)
    assert "Hệ thống" in html and "Tự động chuyển Công an xã" in html
    event = db.session.scalar(select(TipEvent).where(TipEvent.kind == EventKind.ESCALATED))
    assert event.actor_id is None
