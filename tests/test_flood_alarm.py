"""The flood alarm (issue 21), the staff side: one alert to the commune's police, whatever
their preferences (quiet hours kept), naming the commune and linking to its held tips;
and a flood of 500 held tips that neither fills an inbox nor alerts anyone, cleared in
one confirmed post with the counters still right."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select

from tipline.alerts import delivery, outbox, preferences
from tipline.alerts.channels import CHANNELS
from tipline.alerts.channels.base import FLOOD, NEW_TIP
from tipline.alerts.compose import held_view_path, kind_label, staff_title
from tipline.alerts.models import Delivery, Notification
from tipline.alerts.preferences import Preferences
from tipline.alerts.sms import staff_text
from tipline.core.timeutil import local_date, utcnow
from tipline.extensions import db
from tipline.tips import counts
from tipline.tips.inbox import cached_inbox_counts
from tipline.tips.models import Tip, TipStatus

from .alerts_fake import FakeChannel, install, remove

HELD_VIEW = "/staff/giu-lai"


@pytest.fixture
def fake(app):
    channel = install(FakeChannel())
    yield channel
    remove(channel)


def spam(make_tip, unit, **overrides):
    """A tip held as possible spam, as the public form holds one during a flood."""
    return make_tip(unit, held=True, description="Quảng cáo vay tiền nhanh, gọi ngay.", **overrides)


def alerted(world, kind: str) -> set[str]:
    """Who got `kind` once the worker has found the recipients."""
    delivery.fan_out(1000)
    ids = set(
        db.session.scalars(
            select(Notification.user_id).where(
                Notification.kind == kind, Notification.user_id.is_not(None)
            )
        )
    )
    return {name for name, user in world.users.items() if user.id in ids}


def received_around_today(unit) -> int:
    today = local_date(utcnow())
    return counts.figures_for(unit, today - timedelta(days=2), today + timedelta(days=1)).received


def nothing_wanted(world, name: str, **fields) -> None:
    """Turn every kind off, on every channel, for one account."""
    off = Preferences(new_tips=False, urgent_tips=False, tipster_replies=False, escalations=False)
    for channel in ("inapp", *CHANNELS):
        preferences.save(world.user(name), channel, Preferences(**(vars(off) | fields)))
    db.session.commit()


def test_a_flood_alert_reaches_only_that_communes_police(world, make_tip):
    tip = spam(make_tip, world.a2)
    nothing_wanted(world, "police_a")  # the alarm goes whatever the preferences say
    outbox.notify_staff(tip, FLOOD)
    db.session.commit()
    assert alerted(world, FLOOD) == {"police_a"}
    # Another commune's flood is its own police's.
    other = spam(make_tip, world.b1)
    outbox.notify_staff(other, FLOOD)
    db.session.commit()
    assert alerted(world, FLOOD) == {"police_a", "police_b"}


def test_the_flood_alert_names_the_commune_and_links_to_its_held_tips(world, make_tip, fake):
    tip = spam(make_tip, world.a1, place="Nhà văn hóa thôn Đông")
    outbox.notify_staff(tip, FLOOD)
    db.session.commit()
    delivery.deliver()
    [(target, alert)] = fake.sent
    assert target == f"user-{world.users['police_a'].id}"
    assert alert.title == "Tin báo dồn dập ở Xã An Bình: cần xem các tin đang giữ lại"
    assert alert.url.endswith(f"{HELD_VIEW}?unit=A")
    assert held_view_path(world.commune_a) == f"{HELD_VIEW}?unit=A"
    assert not alert.urgent and alert.reference is None
    said = f"{alert.title} {alert.body} {alert.url}"
    for secret in (tip.reference, "Quảng cáo", "Nhà văn hóa", "Thôn Đông", world.theft.name):
        assert secret not in said
    sms = staff_text(alert)
    assert "Tin bao don dap o Xa An Binh" in sms and sms.endswith(f"{HELD_VIEW}?unit=A")
    assert kind_label(FLOOD) == "Tin báo dồn dập"
    assert staff_title(FLOOD, tip.reference) == "Tin báo dồn dập: cần xem các tin đang giữ lại"


def test_a_flood_alert_waits_for_the_end_of_quiet_hours(world, make_tip, fake):
    # 22:00-06:00 in Vietnam (UTC+7); 23:30 local is 16:30 UTC.
    preferences.save(
        world.user("police_a"),
        "fake",
        Preferences(False, False, False, False, quiet_from=time(22, 0), quiet_to=time(6, 0)),
    )
    db.session.commit()
    night = datetime(2026, 12, 6, 16, 30)
    tip = spam(make_tip, world.a1, now=night)
    outbox.notify_staff(tip, FLOOD, at=night)
    db.session.commit()
    delivery.fan_out(100, now=night)
    due = db.session.scalar(
        select(Delivery.next_attempt_at)
        .join(Notification)
        .where(Notification.kind == FLOOD, Delivery.channel == "fake")
    )
    assert due == datetime(2026, 12, 6, 23, 0)  # 06:00 local


def test_the_alerts_page_shows_the_flood_and_leads_to_the_held_tips(world, make_tip, login):
    tip = spam(make_tip, world.a1)
    outbox.notify_staff(tip, FLOOD)
    db.session.commit()
    delivery.fan_out(100)
    db.session.commit()
    police = login("police_a")
    page = police.get("/staff/thong-bao/").get_data(as_text=True)
    assert "Tin báo dồn dập" in page
    tip_page = police.get(f"/staff/tips/{tip.public_id}").get_data(as_text=True)
    assert f"{HELD_VIEW}?unit=A" in tip_page
    assert tip.reference in police.get(f"{HELD_VIEW}?unit=A").get_data(as_text=True)


def test_a_flood_of_500_neither_fills_the_inbox_nor_alerts_and_goes_in_one_post(
    world, make_tip, login
):
    """The issue's "done": 500 tips from one client in a minute; an honest resident's tip
    sent in the middle of it is in the inbox, alone; the alarm goes to the commune police
    once; they clear the flood from its link in one confirmed post."""
    start = utcnow() - timedelta(minutes=1)
    flood = [
        spam(make_tip, world.a1 if i % 3 else world.a2, now=start + timedelta(seconds=i * 0.1))
        for i in range(500)
    ]
    honest = make_tip(world.a1, now=start + timedelta(seconds=30))
    outbox.notify_staff(flood[30], FLOOD)  # the tip past TIPLINE_FLOOD_PER_HOUR
    db.session.commit()

    # Alerts: the flood once, to the police; the honest tip as any new tip; nothing else.
    delivery.fan_out(10_000)
    rows = db.session.execute(
        select(Notification.kind, Notification.user_id, Notification.tip_id).where(
            Notification.user_id.is_not(None)
        )
    ).all()
    police_id, leader_id = world.users["police_a"].id, world.users["leader_a1"].id
    assert sorted(rows) == sorted(
        [
            (FLOOD, police_id, flood[30].id),
            (NEW_TIP, leader_id, honest.id),
            (NEW_TIP, police_id, honest.id),
        ]
    )

    # The inbox holds the honest tip only.
    police = login("police_a")
    inbox = police.get("/staff/").get_data(as_text=True)
    assert set(re.findall(r"TL-\w{4}-\w{4}", inbox)) == {honest.reference}
    work = cached_inbox_counts(world.user("police_a"))
    assert (work.todo, work.open, work.held) == (1, 1, 500)
    assert received_around_today(world.commune_a) == 501  # held tips count as received

    # The alarm's link: the commune's held tips, all of them on one page.
    view = police.get(held_view_path(world.commune_a))
    assert view.status_code == 200
    assert "Loại cả 500 tin trên trang này là tin rác" in view.get_data(as_text=True)
    confirm = police.post(
        "/staff/giu-lai/xu-ly",
        data={"whole_page": "spam", "unit": "A", "page": "1", "back": "/staff/giu-lai?unit=A"},
    )
    ids = re.findall(r'name="tips" value="([^"]+)"', confirm.get_data(as_text=True))
    assert len(ids) == 500 and "Loại 500 tin là tin rác" in confirm.get_data(as_text=True)
    done = police.post(
        "/staff/giu-lai/xu-ly",
        data={"operation": "spam", "confirm": "1", "tips": ids, "back": "/staff/giu-lai?unit=A"},
    )
    assert done.status_code == 303

    db.session.expire_all()
    statuses = db.session.scalars(select(Tip.status).where(Tip.held.is_(True))).all()
    assert len(statuses) == 500 and set(statuses) == {TipStatus.REJECTED}
    assert db.session.get(Tip, honest.id).status == TipStatus.RECEIVED
    # Counters: the flood dropped out, the recount agrees.
    assert counts.differences() == {}
    assert received_around_today(world.commune_a) == 1
    assert "tin chờ xem" not in police.get("/staff/").get_data(as_text=True)
