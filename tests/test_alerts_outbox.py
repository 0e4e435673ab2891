"""The alerts outbox: who is told of what (every kind), preferences, quiet hours, fan-out."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select

from tipline.alerts import delivery, escalation, outbox, preferences
from tipline.alerts.channels import CHANNELS
from tipline.alerts.channels.base import (
    DEADLINE_NEAR,
    ESCALATED,
    NEW_TIP,
    STAFF_REPLY,
    STATUS_CHANGE,
    TIPSTER_REPLY,
    UNACKNOWLEDGED,
    URGENT_TIP,
)
from tipline.alerts.models import AlertMark, Delivery, Notification
from tipline.alerts.preferences import Preferences
from tipline.core.timeutil import utcnow
from tipline.extensions import db
from tipline.tips import workflow
from tipline.tips.inbox import mark_read
from tipline.tips.models import MessageKind, Priority
from tipline.tips.workflow import Action

from .alerts_fake import FakeChannel, install, remove


@pytest.fixture
def fake(app):
    channel = install(FakeChannel())
    yield channel
    remove(channel)


# A tip's residents (a staff alert waiting for its recipients has no account either).
FOR_RESIDENTS = (Notification.user_id.is_(None), Notification.for_staff.is_(False))


def recipients(world, kind: str, tip=None) -> set[str]:
    """Who got `kind` (about `tip`) once the worker has found the recipients."""
    delivery.fan_out(1000)
    query = select(Notification.user_id).where(Notification.kind == kind)
    if tip is not None:
        query = query.where(Notification.tip_id == tip.id)
    ids = set(db.session.scalars(query))
    return {name for name, user in world.users.items() if user.id in ids}


def choose(world, name: str, **fields) -> None:
    """Save the same preferences on every channel for one account."""
    base = {"new_tips": False, "urgent_tips": True, "tipster_replies": True, "escalations": True}
    for channel in ("inapp", *CHANNELS):
        preferences.save(world.user(name), channel, Preferences(**(base | fields)))
    db.session.commit()


def test_a_new_tip_alerts_leaders_and_police_by_default_and_nobody_outside(world, make_tip):
    tip = make_tip(world.a1)
    assert recipients(world, NEW_TIP, tip) == {"leader_a1", "police_a"}
    # Team members and the committee default to urgent tips only; officers and
    # administrators cannot act; other villages and communes are out of scope.
    assert recipients(world, URGENT_TIP) == set()


def test_an_urgent_tip_alerts_everyone_who_can_act(world, make_tip):
    tip = make_tip(world.a1, category=world.fight)
    assert tip.priority == Priority.URGENT
    assert recipients(world, URGENT_TIP, tip) == {
        "member_a1",
        "leader_a1",
        "police_a",
        "committee_a",
    }
    assert recipients(world, NEW_TIP, tip) == set()  # one alert per tip, not two


def test_urgent_only_preference_silences_normal_tips(world, make_tip):
    choose(world, "leader_a1", new_tips=False, urgent_tips=True)
    make_tip(world.a1)
    assert recipients(world, NEW_TIP) == {"police_a"}
    choose(world, "police_a", new_tips=False, urgent_tips=False)
    urgent = make_tip(world.a1, category=world.fight)
    assert "police_a" not in recipients(world, URGENT_TIP, urgent)
    assert "leader_a1" in recipients(world, URGENT_TIP, urgent)


def test_tipster_replies_are_one_alert_per_person_until_the_worker_runs(world, make_tip):
    tip = make_tip(world.a1)
    workflow.receive_tipster_message(tip, "Xe màu đỏ.", MessageKind.INFORMATION)
    workflow.receive_tipster_message(tip, "Hai người.", MessageKind.INFORMATION)
    db.session.commit()
    replies = select(Notification).where(Notification.kind == TIPSTER_REPLY)
    # The resident's transaction wrote one row for the staff and read none of them.
    [waiting] = db.session.scalars(replies).all()
    assert waiting.for_staff and waiting.user_id is None
    delivery.fan_out(100)
    rows = [n.user_id for n in db.session.scalars(replies)]
    assert len(rows) == len(set(rows)) == 4  # member, leader, police, committee of A
    assert None not in rows
    workflow.receive_tipster_message(tip, "Thêm nữa.", MessageKind.INFORMATION)
    db.session.commit()
    delivery.fan_out(100)
    assert len(db.session.scalars(replies).all()) == 8


def test_escalation_alerts_the_commune_police_only(world, make_tip):
    choose(world, "leader_a1", escalations=True)
    tip = make_tip(world.a1)
    workflow.transition(tip, Action.ESCALATE, world.user("leader_a1"))
    db.session.commit()
    assert recipients(world, ESCALATED, tip) == {"police_a"}


def test_a_tip_hidden_from_its_village_tells_only_the_police_of_replies(world, make_tip):
    tip = make_tip(world.a1)
    workflow.transition(tip, Action.ESCALATE, world.user("leader_a1"), conflict_of_interest=True)
    workflow.receive_tipster_message(tip, "Thêm.", MessageKind.INFORMATION)
    db.session.commit()
    assert recipients(world, TIPSTER_REPLY, tip) == {"police_a"}


def test_staff_replies_and_status_changes_reach_the_tips_residents_content_free(
    world, make_tip, fake, app
):
    tip = make_tip(world.a1, description="Ông Tư ở xóm 3 bán hàng cấm", place="Xóm 3")
    fake.resident[tip.id] = ["sub-1"]
    police = world.user("police_a")
    workflow.send_message(tip, police, "Bạn còn thấy xe đó không?", MessageKind.QUESTION)
    db.session.commit()
    resident = db.session.scalars(select(Notification).where(*FOR_RESIDENTS)).all()
    assert [n.kind for n in resident] == [STAFF_REPLY]
    # A status change before the worker ran says the same thing: still one alert.
    workflow.transition(tip, Action.TRIAGE, police)
    db.session.commit()
    assert len(db.session.scalars(select(Notification).where(*FOR_RESIDENTS)).all()) == 1
    report = delivery.deliver()
    targets = [(target, alert) for target, alert in fake.sent if target == "sub-1"]
    assert len(targets) == 1 and report.sent >= 1
    alert = targets[0][1]
    assert alert.title == "Tin báo của bạn có cập nhật mới"
    assert alert.url.endswith("/tra-cuu") and alert.reference is None
    text = f"{alert.title} {alert.body} {alert.url} {alert.topic}"
    assert tip.reference not in text and tip.public_id not in text
    assert "Tư" not in text and "Xóm 3" not in text
    # After the fan-out, the next change is a new alert.
    workflow.transition(tip, Action.START_VERIFICATION, police)
    db.session.commit()
    kinds = db.session.scalars(
        select(Notification.kind).where(*FOR_RESIDENTS).order_by(Notification.id)
    ).all()
    # The waiting reply's alert took the status change's kind (an SMS text then says both).
    assert kinds == [STATUS_CHANGE, STATUS_CHANGE]


def test_staff_alerts_name_the_reference_and_the_category_only_when_asked(world, make_tip, fake):
    tip = make_tip(world.a1, description="Mất trộm xe máy của ông Ba", place="Nhà văn hóa")
    preferences.save(
        world.user("police_a"),
        "fake",
        Preferences(True, True, True, True, show_category=True),
    )
    db.session.commit()
    delivery.deliver()
    by_target = {target: alert for target, alert in fake.sent}
    leader = by_target[f"user-{world.users['leader_a1'].id}"]
    police = by_target[f"user-{world.users['police_a'].id}"]
    assert tip.reference in leader.title and leader.url.endswith(f"/staff/tips/{tip.public_id}")
    assert world.theft.name not in f"{leader.title} {leader.body}"
    assert world.theft.name in police.body
    for alert in (leader, police):
        text = f"{alert.title} {alert.body}"
        assert "ông Ba" not in text and "Nhà văn hóa" not in text and "Mất trộm" not in text


def test_an_urgent_tip_nobody_in_the_village_opened_alerts_the_police_once(world, make_tip):
    late = make_tip(
        world.a1,
        category=world.fight,
        now=utcnow() - timedelta(minutes=31),
    )
    opened = make_tip(
        world.a1,
        category=world.fight,
        now=utcnow() - timedelta(minutes=31),
    )
    fresh = make_tip(
        world.a1,
        category=world.fight,
        now=utcnow() - timedelta(minutes=5),
    )
    seen_by_police = make_tip(
        world.a2,
        category=world.fight,
        now=utcnow() - timedelta(minutes=40),
    )
    mark_read(opened, world.user("member_a1"))
    mark_read(seen_by_police, world.user("police_a"))  # not the village team
    db.session.commit()
    report = escalation.scan()
    db.session.commit()
    assert report.unacknowledged == 2
    assert recipients(world, UNACKNOWLEDGED, late) == {"police_a"}
    assert recipients(world, UNACKNOWLEDGED, seen_by_police) == {"police_a"}
    assert recipients(world, UNACKNOWLEDGED, opened) == set()
    assert recipients(world, UNACKNOWLEDGED, fresh) == set()
    assert escalation.scan().unacknowledged == 0  # once per tip
    assert db.session.get(AlertMark, (late.id, UNACKNOWLEDGED)) is not None


def test_the_ack_window_is_a_setting(world, make_tip, app, monkeypatch):
    monkeypatch.setitem(app.config, "TIPLINE_URGENT_ACK_MINUTES", 3)
    tip = make_tip(
        world.a1,
        category=world.fight,
        now=utcnow() - timedelta(minutes=5),
    )
    escalation.scan()
    assert recipients(world, UNACKNOWLEDGED, tip) == {"police_a"}


def test_a_tip_near_its_first_response_deadline_alerts_its_handler_once(world, make_tip):
    waiting = make_tip(world.a1, now=utcnow() - timedelta(hours=20))  # theft: 1 day
    answered = make_tip(world.a1, now=utcnow() - timedelta(hours=20))
    workflow.add_note(answered, world.user("leader_a1"), "Đã nhận.")
    with_police = make_tip(world.a2, now=utcnow() - timedelta(hours=20))
    workflow.transition(with_police, Action.ESCALATE, world.user("police_a"))
    with_police.first_response_at = None  # handed over by the system, say
    new = make_tip(world.a1)  # due in a day, but only just in: not yet
    db.session.commit()
    assert escalation.scan().deadline_near == 2
    db.session.commit()
    # The handler: the village's leader, or the commune police once it is theirs.
    assert recipients(world, DEADLINE_NEAR, waiting) == {"leader_a1"}
    assert recipients(world, DEADLINE_NEAR, with_police) == {"police_a"}
    assert recipients(world, DEADLINE_NEAR, answered) == set()
    assert recipients(world, DEADLINE_NEAR, new) == set()
    assert escalation.scan().deadline_near == 0


def test_quiet_hours_hold_a_normal_alert_until_they_end_and_let_urgent_ones_through(
    world, make_tip, fake
):
    # 22:00-06:00 in Vietnam (UTC+7); 23:30 local is 16:30 UTC.
    preferences.save(
        world.user("leader_a1"),
        "fake",
        Preferences(True, True, True, True, quiet_from=time(22, 0), quiet_to=time(6, 0)),
    )
    db.session.commit()
    night = datetime(2026, 12, 6, 16, 30)
    normal = make_tip(world.a1, now=night)
    urgent = make_tip(world.a1, category=world.fight, now=night)
    delivery.fan_out(100, now=night)
    leader = f"user-{world.users['leader_a1'].id}"

    def due(tip):
        return db.session.scalar(
            select(Delivery.next_attempt_at)
            .join(Notification)
            .where(Notification.tip_id == tip.id, Delivery.target == leader)
        )

    assert due(normal) == datetime(2026, 12, 6, 23, 0)  # 06:00 local
    assert due(urgent) == night


def test_quiet_hours_within_a_day_and_across_midnight():
    day = Preferences(True, True, True, True, quiet_from=time(13, 0), quiet_to=time(15, 0))
    night = Preferences(True, True, True, True, quiet_from=time(22, 0), quiet_to=time(6, 0))
    off = Preferences(True, True, True, True)
    # UTC 07:00 = 14:00 local; UTC 10:00 = 17:00 local; UTC 20:00 = 03:00 local next day.
    assert day.quiet_until(datetime(2026, 1, 1, 7, 0)) == datetime(2026, 1, 1, 8, 0)
    assert day.quiet_until(datetime(2026, 1, 1, 10, 0)) is None
    assert night.quiet_until(datetime(2026, 1, 1, 20, 0)) == datetime(2026, 1, 1, 23, 0)
    assert night.quiet_until(datetime(2026, 1, 1, 10, 0)) is None
    assert off.quiet_until(datetime(2026, 1, 1, 20, 0)) is None


def test_a_channel_turned_off_gets_no_delivery_while_the_app_keeps_the_alert(world, make_tip, fake):
    preferences.save(world.user("leader_a1"), "fake", Preferences(False, False, False, False))
    db.session.commit()
    tip = make_tip(world.a1)
    delivery.fan_out(100)
    targets = set(db.session.scalars(select(Delivery.target).where(Delivery.channel == "fake")))
    assert targets == {f"user-{world.users['police_a'].id}"}
    assert "leader_a1" in recipients(world, NEW_TIP, tip)


def test_an_unavailable_channel_or_an_inactive_account_gets_no_delivery(world, make_tip, fake):
    fake.on = False
    make_tip(world.a1)
    delivery.fan_out(100)
    assert db.session.scalars(select(Delivery)).all() == []
    fake.on = True
    world.user("police_a").active = False
    db.session.commit()
    make_tip(world.a1)
    delivery.fan_out(100)
    targets = set(db.session.scalars(select(Delivery.target)))
    assert targets == {f"user-{world.users['leader_a1'].id}"}


def test_the_test_alert_goes_to_its_author_whatever_the_preferences(world, fake):
    user = world.user("officer")
    preferences.save(user, "fake", Preferences(False, False, False, False))
    notification = outbox.notify_test(user)
    db.session.flush()
    made = delivery.deliveries_for(notification, utcnow())
    assert [(d.channel, d.target) for d in made] == [("fake", f"user-{user.id}")]


def test_a_reply_in_the_minute_after_the_tip_was_opened_stays_unread(world, make_tip):
    from tipline.alerts import inbox

    minute = datetime(2026, 12, 6, 3, 5)
    tip = make_tip(world.a1, now=minute - timedelta(hours=1))
    leader = world.user("leader_a1")
    mark_read(tip, leader, at=minute + timedelta(seconds=10))
    db.session.commit()
    assert inbox.unread_count(leader) == 0  # the new-tip alert: read by opening the tip
    workflow.receive_tipster_message(
        tip, "Thêm.", MessageKind.INFORMATION, at=minute + timedelta(seconds=40)
    )
    db.session.commit()
    delivery.fan_out(100)
    assert inbox.unread_count(leader) == 1
    mark_read(tip, leader, at=minute + timedelta(seconds=50))  # opened again: read
    db.session.commit()
    assert inbox.unread_count(leader) == 0


def test_a_residents_alert_keeps_its_time_to_the_minute(world, make_tip):
    tip = make_tip(world.a1)
    at = datetime(2026, 12, 6, 3, 5, 37, 123456)
    workflow.send_message(
        tip, world.user("police_a"), "Bạn còn ở đó không?", MessageKind.QUESTION, at=at
    )
    db.session.commit()
    created = db.session.scalar(select(Notification.created_at).where(*FOR_RESIDENTS))
    assert created == datetime(2026, 12, 6, 3, 5)
