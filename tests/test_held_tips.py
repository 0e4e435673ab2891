"""Held tips (issue 21), the staff side: out of the inbox's lists and counts, a view of
their own in each one's scope, "not spam" (release) and "reject as spam" one by one or a
whole flood at once, undoable; nothing published before release."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import url_for
from sqlalchemy import func, select

from tipline.alerts import delivery, outbox
from tipline.alerts.channels.base import NEW_TIP, URGENT_TIP
from tipline.alerts.models import Notification
from tipline.api import keys
from tipline.api.keys import create_partner_key
from tipline.core.timeutil import local_date, utcnow
from tipline.extensions import db
from tipline.tips import counts, triage
from tipline.tips.inbox import cached_inbox_counts
from tipline.tips.models import EventKind, Priority, RejectReason, Tip, TipEvent, TipStatus

HELD_MARK = "Giữ lại: có thể là tin rác"
HELD_VIEW = "/staff/giu-lai"
BULK = "/staff/giu-lai/xu-ly"


@pytest.fixture
def held(make_tip):
    """make(unit, **draft) -> a tip held as possible spam (as the public form holds one)."""

    def make(unit=None, **overrides):
        overrides.setdefault("description", "Khuyến mãi lớn, bấm vào đường dẫn để nhận quà ngay.")
        return make_tip(unit, held=True, **overrides)

    return make


REFERENCE = re.compile(r"TL-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}")


def refs(response) -> set[str]:
    return set(REFERENCE.findall(response.get_data(as_text=True)))


def received_now(unit) -> int:
    """The unit's "received" figure around today (held tips count until rejected)."""
    today = local_date(utcnow())
    return counts.figures_for(unit, today - timedelta(days=1), today + timedelta(days=1)).received


def text(response) -> str:
    return response.get_data(as_text=True)


def fresh(tip: Tip) -> Tip:
    db.session.expire_all()
    return db.session.get(Tip, tip.id)


def events(tip: Tip, kind: EventKind) -> list[TipEvent]:
    return list(
        db.session.scalars(select(TipEvent).where(TipEvent.tip_id == tip.id, TipEvent.kind == kind))
    )


def staff_alerts(tip: Tip) -> set[tuple[str, int]]:
    """(kind, user id) of the per-person alerts about `tip` once the worker fanned out."""
    delivery.fan_out(1000)
    rows = db.session.execute(
        select(Notification.kind, Notification.user_id).where(
            Notification.tip_id == tip.id, Notification.user_id.is_not(None)
        )
    )
    return {(kind, user_id) for kind, user_id in rows}


# --- the inbox leaves them out ----------------------------------------------------------


def test_default_inbox_and_its_counts_leave_held_tips_out(world, make_tip, held, login):
    honest = make_tip(world.a1)
    spam = [held(world.a1), held(world.a2), held(world.a1, category=world.fight)]
    police = login("police_a")
    page = police.get("/staff/")
    assert page.status_code == 200
    assert honest.reference in refs(page)
    assert not {t.reference for t in spam} & refs(page)
    # Reachable from the inbox, with its count.
    assert f'href="{HELD_VIEW}"' in text(page) and "3 tin chờ xem" in text(page)
    counted = cached_inbox_counts(world.user("police_a"))
    assert (counted.open, counted.todo, counted.held) == (1, 1, 3)
    assert counted.urgent == 0 and counted.unread == 1
    assert counted.by_status[TipStatus.RECEIVED] == 1
    # No other list of the inbox shows them either: a flood fills none.
    for query in ("open=1", "status=received", "all=1", "priority=urgent", "unread=1"):
        assert not {t.reference for t in spam} & refs(police.get(f"/staff/?{query}")), query
    # The staff API's inbox too.
    token = keys.issue_staff_token(world.user("police_a")).credential
    db.session.commit()
    listed = police.get("/api/v1/tips", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert [t["reference"] for t in listed["tips"]] == [honest.reference]
    assert listed["tips"][0]["held"] is False
    only = police.get("/api/v1/tips?held=1", headers={"Authorization": f"Bearer {token}"})
    assert {t["reference"] for t in only.get_json()["tips"]} == {t.reference for t in spam}
    assert all(t["held"] for t in only.get_json()["tips"])


def test_no_held_link_without_held_tips(world, make_tip, login):
    make_tip(world.a1)
    page = login("police_a").get("/staff/")
    assert HELD_VIEW not in text(page)


def test_a_village_leaders_page_counts_its_held_tips_apart(world, make_tip, held, login):
    make_tip(world.a1)
    held(world.a1)
    page = login("leader_a1").get("/staff/thon-cua-toi")
    assert 'id="home-waiting">1<' in text(page)
    assert "1 tin chờ xem" in text(page)


def test_search_finds_held_tips_and_marks_them(world, make_tip, held, login):
    spam = held(world.a1, description="Bán xe máy giá rẻ, liên hệ ngay hôm nay")
    make_tip(world.a1, description="Mất xe máy ở chợ")
    police = login("police_a")
    found = police.get("/staff/?q=xe+may")
    assert spam.reference in refs(found)
    assert text(found).count(HELD_MARK) == 1
    assert spam.reference in refs(police.get(f"/staff/?q={spam.reference}"))


# --- the held view ------------------------------------------------------------------------


def test_held_view_lists_the_held_tips_of_ones_scope_only(world, make_tip, held, login):
    a1, a2, b1 = held(world.a1), held(world.a2), held(world.b1)
    make_tip(world.a1)  # not held: not listed
    assert refs(login("police_a").get(HELD_VIEW)) == {a1.reference, a2.reference}
    assert refs(login("leader_a1").get(HELD_VIEW)) == {a1.reference}
    assert refs(login("police_b").get(HELD_VIEW)) == {b1.reference}
    # The flood alarm's link names a commune: another commune's staff get nothing of it.
    assert refs(login("police_b").get(f"{HELD_VIEW}?unit=A")) == set()
    assert refs(login("police_a").get(f"{HELD_VIEW}?unit=A")) == {a1.reference, a2.reference}
    assert login("police_b").get(f"/staff/tips/{a1.public_id}").status_code == 404
    page = login("police_a").get(HELD_VIEW)
    assert text(page).count(HELD_MARK) == 2
    assert "Loại cả 2 tin trên trang này là tin rác" in text(page)
    # Who may only read (a team member, an officer) sees them without the buttons.
    for name in ("member_a1", "officer"):
        page = login(name).get(HELD_VIEW)
        assert a1.reference in refs(page) and 'name="operation"' not in text(page), name
    assert login("police_a").get(f"{HELD_VIEW}?unit=NOPE").status_code == 400


def test_held_view_link_is_the_one_the_flood_alarm_gives(app, world):
    from tipline.alerts.compose import held_view_path

    with app.test_request_context():
        assert url_for("staff.held_view", unit="A") == held_view_path(world.commune_a)


def test_tip_page_marks_a_held_tip_and_offers_the_two_answers(world, held, login):
    tip = held(world.a1)
    page = text(login("leader_a1").get(f"/staff/tips/{tip.public_id}"))
    assert HELD_MARK in page
    assert f"/staff/tips/{tip.public_id}/release" in page and "Loại là tin rác" in page
    # Before its release a held tip takes no other move: no "Tiếp nhận" button.
    assert 'value="triage"' not in page and 'value="escalate"' not in page
    member = text(login("member_a1").get(f"/staff/tips/{tip.public_id}"))
    assert HELD_MARK in member and "/release" not in member


# --- release ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["leader_a1", "police_a"])
def test_release_puts_the_tip_in_the_inbox_with_an_event_and_its_new_tip_alert(
    world, held, login, name
):
    tip = held(world.a1)
    assert staff_alerts(tip) == set()  # held: nobody was told
    client = login(name)
    answer = client.post(f"/staff/tips/{tip.public_id}/release", data={"version": tip.version})
    assert answer.status_code == 303
    tip = fresh(tip)
    assert tip.held is False and tip.status == TipStatus.RECEIVED
    [event] = events(tip, EventKind.RELEASED)
    assert event.actor_id == world.users[name].id and not event.public
    assert tip.first_response_at is None  # the tipster has heard nothing yet
    assert staff_alerts(tip) == {
        (NEW_TIP, world.users["leader_a1"].id),
        (NEW_TIP, world.users["police_a"].id),
    }
    assert tip.reference in refs(client.get("/staff/"))
    assert HELD_MARK not in text(client.get(f"/staff/tips/{tip.public_id}"))
    assert counts.differences() == {}


def test_releasing_an_urgent_tip_sends_the_urgent_alert(world, held, login):
    tip = held(world.a1, category=world.fight)
    assert tip.priority == Priority.URGENT
    login("police_a").post(f"/staff/tips/{tip.public_id}/release")
    kinds = {kind for kind, _user in staff_alerts(tip)}
    assert kinds == {URGENT_TIP}


def test_release_is_refused_to_roles_that_cannot_act_and_out_of_scope(world, held, login):
    tip = held(world.a1)
    url = f"/staff/tips/{tip.public_id}/release"
    assert login("member_a1").post(url).status_code == 403
    assert login("officer").post(url).status_code == 403
    assert login("police_b").post(url).status_code == 404
    assert login("leader_a2").post(url).status_code == 404
    assert fresh(tip).held is True and events(tip, EventKind.RELEASED) == []
    # Twice, or with a version read before a change: a 409, nothing more.
    assert login("leader_a1").post(url, data={"version": tip.version + 1}).status_code == 409
    assert login("leader_a1").post(url).status_code == 303
    assert login("police_a").post(url).status_code == 409
    assert len(events(tip, EventKind.RELEASED)) == 1


def test_a_held_tip_takes_a_rejection_only_until_released(world, held, login):
    tip = held(world.a1)
    leader = login("leader_a1")
    answer = leader.post(
        f"/staff/tips/{tip.public_id}/act", data={"action": "triage", "version": tip.version}
    )
    assert answer.status_code == 409 and "Không phải tin rác" in text(answer)
    assert fresh(tip).status == TipStatus.RECEIVED
    answer = leader.post(
        f"/staff/tips/{tip.public_id}/act",
        data={"action": "reject", "reason": "spam", "version": tip.version},
    )
    assert answer.status_code == 303
    assert fresh(tip).status == TipStatus.REJECTED and fresh(tip).held is True


def test_undoing_a_spam_rejection_brings_the_tip_back_held(world, held, login):
    tip = held(world.a1)
    police = login("police_a")
    police.post(
        f"/staff/tips/{tip.public_id}/act",
        data={"action": "reject", "reason": "spam", "version": tip.version},
    )
    tip = fresh(tip)
    assert tip.reference in refs(police.get(f"{HELD_VIEW}?status=rejected"))
    answer = police.post(
        f"/staff/tips/{tip.public_id}/act",
        data={"action": "undo_rejection", "version": tip.version},
    )
    assert answer.status_code == 303
    tip = fresh(tip)
    assert (tip.status, tip.held) == (TipStatus.RECEIVED, True)
    assert tip.reference in refs(police.get(HELD_VIEW))
    assert tip.reference not in refs(police.get("/staff/"))
    assert counts.differences() == {}


# --- a whole flood at once ----------------------------------------------------------------


def test_bulk_spam_of_300_held_tips_in_one_post_then_undo(world, make_tip, held, login):
    honest = make_tip(world.a1)
    flood = [held(world.a1 if i % 2 else world.a2) for i in range(300)]
    ids = [t.public_id for t in flood]
    received = received_now(world.commune_a)
    police = login("police_a")
    # "Every tip on this page": a confirmation first, naming how many; nothing changes yet.
    confirm = police.post(BULK, data={"whole_page": "spam", "back": HELD_VIEW})
    assert confirm.status_code == 200
    assert "Loại 300 tin là tin rác" in text(confirm)
    assert set(re.findall(r'name="tips" value="([^"]+)"', text(confirm))) == set(ids)
    assert db.session.scalar(select(func.count()).where(Tip.status == TipStatus.REJECTED)) == 0
    # Confirmed: the 300 ids in one post.
    done = police.post(
        BULK, data={"operation": "spam", "confirm": "1", "tips": ids, "back": HELD_VIEW}
    )
    assert done.status_code == 303 and done.location.endswith(HELD_VIEW)
    db.session.expire_all()
    rejected = db.session.scalars(select(Tip).where(Tip.id.in_([t.id for t in flood]))).all()
    assert {(t.status, t.reject_reason, t.held) for t in rejected} == {
        (TipStatus.REJECTED, RejectReason.SPAM, True)
    }
    assert counts.differences() == {}
    after = received_now(world.commune_a)
    assert (received, after) == (301, 1)
    assert "Đã loại 300 tin là tin rác" in text(police.get(HELD_VIEW))
    assert fresh(honest).status == TipStatus.RECEIVED
    # Undone at once from the "rejected as spam" list: back where they were, still held.
    listed = police.get(f"{HELD_VIEW}?status=rejected")
    assert set(re.findall(r'name="tips" value="([^"]+)"', text(listed))) == set(ids)
    undo = police.post(
        BULK,
        data={"whole_page": "undo", "status": "rejected", "back": HELD_VIEW},
    )
    assert "Hủy quyết định loại 300 tin" in text(undo)
    police.post(BULK, data={"operation": "undo", "confirm": "1", "tips": ids})
    db.session.expire_all()
    back = db.session.scalars(select(Tip).where(Tip.id.in_([t.id for t in flood]))).all()
    assert {(t.status, t.held) for t in back} == {(TipStatus.RECEIVED, True)}
    assert counts.differences() == {}


def test_bulk_release_of_a_few_held_tips(world, held, login):
    tips = [held(world.a1) for _ in range(3)]
    police = login("police_a")
    ids = [t.public_id for t in tips[:2]]
    confirm = police.post(BULK, data={"operation": "release", "tips": ids})
    assert "Đưa 2 tin vào hộp tin?" in text(confirm)
    assert (
        police.post(BULK, data={"operation": "release", "confirm": "1", "tips": ids}).status_code
        == 303
    )
    assert [fresh(t).held for t in tips] == [False, False, True]
    assert {t.reference for t in tips[:2]} <= refs(police.get("/staff/"))
    assert len(events(tips[0], EventKind.RELEASED)) == 1


def test_bad_bulk_posts_get_a_clear_4xx_and_change_nothing(app, world, held, login):
    a, b = held(world.a1), held(world.b1)
    police = login("police_a")

    def post(client, **data):
        data.setdefault("confirm", "1")
        return client.post(BULK, data=data)

    def unchanged():
        db.session.expire_all()
        assert {(fresh(t).status, fresh(t).held) for t in (a, b)} == {(TipStatus.RECEIVED, True)}

    answer = post(police, operation="spam")
    assert answer.status_code == 400 and "Hãy chọn ít nhất một tin báo." in text(answer)
    answer = post(police, operation="spam", tips=[a.public_id, b.public_id])  # b: commune B's
    assert answer.status_code == 404 and "Chưa tin nào bị thay đổi." in text(answer)
    answer = post(police, operation="spam", tips=["khong-co-tin-nay"])
    assert answer.status_code == 404
    answer = post(police, operation="burn", tips=[a.public_id])
    assert answer.status_code == 400 and "Hãy chọn thao tác." in text(answer)
    answer = post(police, operation="spam", tips=[f"id{i}" for i in range(501)])
    assert answer.status_code == 400 and "tối đa 500 tin" in text(answer)
    # A team member may not reject; an officer acts on nothing; undo is the police's.
    assert post(login("member_a1"), operation="spam", tips=[a.public_id]).status_code == 403
    assert post(login("member_a1"), operation="release", tips=[a.public_id]).status_code == 403
    assert post(login("officer"), operation="release", tips=[a.public_id]).status_code == 403
    assert post(login("leader_a1"), operation="undo", tips=[a.public_id]).status_code == 403
    unchanged()
    # Without the form's token.
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        answer = police.post(
            BULK, data={"operation": "spam", "confirm": "1", "tips": [a.public_id]}
        )
        assert answer.status_code == 400 and "biểu mẫu không hợp lệ" in text(answer)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    unchanged()


def test_bulk_skips_tips_that_changed_meanwhile_and_says_so(world, held, login):
    tips = [held(world.a1) for _ in range(3)]
    login("leader_a1").post(f"/staff/tips/{tips[0].public_id}/release")
    police = login("police_a")
    ids = [t.public_id for t in tips]
    answer = police.post(
        BULK, data={"operation": "spam", "confirm": "1", "tips": ids}, follow_redirects=True
    )
    page = text(answer)
    assert "Đã loại 2 tin là tin rác" in page and "1 tin được bỏ qua" in page
    assert fresh(tips[0]).status == TipStatus.RECEIVED


# --- nothing published, nothing escalated -------------------------------------------------


def test_open311_publishes_no_held_tip(world, make_tip, held, client):
    honest, spam = make_tip(world.a1), held(world.a1)
    _key, secret = create_partner_key(
        world.user("admin"),
        name="Hue-S",
        unit=world.commune_a,
        may_submit=True,
        may_read=True,
        may_name=False,
    )
    db.session.commit()
    headers = {"X-Api-Key": secret}
    listed = client.get("/open311/v2/requests.json", headers=headers).get_json()
    assert [r["service_request_id"] for r in listed] == [honest.reference]
    by_id = client.get(
        f"/open311/v2/requests.json?service_request_id={spam.reference},{honest.reference}",
        headers=headers,
    ).get_json()
    assert [r["service_request_id"] for r in by_id] == [honest.reference]
    for extra in ({}, headers):
        one = "/open311/v2/requests/{}.json"
        assert client.get(one.format(spam.reference), headers=extra).status_code == 404
        assert client.get(one.format(honest.reference), headers=extra).status_code == 200


def test_staff_api_refuses_moves_on_a_held_tip_but_a_rejection(world, held, client):
    tip = held(world.a1)
    token = keys.issue_staff_token(world.user("leader_a1")).credential
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    url = f"/api/v1/tips/{tip.public_id}/actions"
    answer = client.post(url, json={"action": "triage", "version": tip.version}, headers=headers)
    assert answer.status_code == 409
    got = client.get(f"/api/v1/tips/{tip.public_id}", headers=headers).get_json()
    assert got["tip"]["held"] is True
    answer = client.post(
        url, json={"action": "reject", "reason": "spam", "version": tip.version}, headers=headers
    )
    assert answer.status_code == 200 and answer.get_json()["tip"]["status"] == "rejected"


def test_held_tips_are_not_escalated_nor_alert_anyone(world, held):
    tip = held(world.a1, category=world.fight, now=utcnow() - timedelta(days=5))
    assert triage.escalate_stale() == []
    assert outbox.staff_recipients(tip, URGENT_TIP) == []
    outbox.notify_staff(tip, NEW_TIP)  # as a scan or an older path might
    db.session.commit()
    assert staff_alerts(tip) == set()


# --- the event's migration -------------------------------------------------------------


def test_migration_0021_allows_the_released_event_and_undoes_itself(app, other_app, tmp_path):
    """Revision 0021 on SQLite (the CHECK of tip_events.kind is copied with the table)."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect

    from .conftest import settings_like

    other = other_app(settings_like(app, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'm.db'}"))

    def kinds_check() -> str:
        checks = inspect(db.engine).get_check_constraints("tip_events")
        return next(c["sqltext"] for c in checks if "kind IN" in c["sqltext"])

    with other.app_context():
        upgrade()
        assert "'released'" in kinds_check()
        downgrade(revision="b7a1c0de0020")
        assert "'released'" not in kinds_check() and "'rejection_undone'" in kinds_check()
        upgrade()
        assert "'released'" in kinds_check()


# --- at 360 px ------------------------------------------------------------------------------

try:  # the browser harness skips itself without Playwright
    from .test_browser import (  # noqa: F401 (fixtures)
        CHROMIUM,
        UNLABELLED,
        browser,
        check_fits_phone,
        live_server,
        log_in,
        phone,
        post,
    )
except pytest.skip.Exception:
    CHROMIUM = None


@pytest.mark.slow
@pytest.mark.commits  # a live server in another thread
@pytest.mark.skipif(CHROMIUM is None, reason="needs Playwright and Debian's chromium")
def test_held_view_and_a_held_tip_fit_a_phone(world, make_tip, phone):  # noqa: F811
    make_tip(world.a1)
    tips = [
        make_tip(
            world.a1 if i % 2 else world.a2,
            held=True,
            description="Khuyến mãi lớn cho mọi người trong xã, bấm vào đường dẫn để nhận quà.",
        )
        for i in range(6)
    ]
    page = phone.open()
    log_in(page, "police_a")
    page.goto("/staff/")
    check_fits_phone(page, "held-1-inbox-link")
    page.get_by_role("link", name="Giữ lại (có thể là tin rác): 6 tin chờ xem").click()
    page.get_by_role("heading", name="Giữ lại (có thể là tin rác)").wait_for()
    check_fits_phone(page, "held-2-view")
    assert page.evaluate(UNLABELLED) == []
    page.locator(f'input[name="tips"][value="{tips[0].public_id}"]').check()
    post(page, "Loại tin đã chọn là tin rác")
    check_fits_phone(page, "held-3-confirm")
    post(page, "Loại 1 tin là tin rác", status=303)
    page.get_by_role("heading", name="Giữ lại (có thể là tin rác)").wait_for()
    page.goto(f"/staff/tips/{tips[1].public_id}")
    check_fits_phone(page, "held-4-tip")
    assert page.evaluate(UNLABELLED) == []
    post(page, "Không phải tin rác", status=303)
    page.get_by_role("heading", name=tips[1].reference).wait_for()
    assert "Giữ lại: có thể là tin rác" not in page.locator("main").inner_text()
    phone.assert_no_errors()
