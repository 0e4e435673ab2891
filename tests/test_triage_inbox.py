"""The triage inbox: filters, search without diacritics, sorting, paging, counts, priority."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from tipline.core import cache
from tipline.core.text import fold
from tipline.core.timeutil import utcnow
from tipline.extensions import db
from tipline.tips import workflow
from tipline.tips.inbox import (
    InboxFilter,
    cached_inbox_counts,
    inbox_counts,
    inbox_options,
    unread_count,
)
from tipline.tips.models import Priority, RejectReason, Tip, TipStatus
from tipline.tips.workflow import Action


def refs(html: str) -> list[str]:
    """Tip references in the order the inbox lists them."""
    return re.findall(r'<span class="ref">(TL-[A-Z0-9]{4}-[A-Z0-9]{4})</span>', html)


def inbox(client, **args) -> str:
    response = client.get("/staff/", query_string=args)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def test_fold_drops_case_tones_and_letter_marks():
    assert fold("Trộm cắp TÀI SẢN") == "trom cap tai san"
    assert fold("Đường Đông  Sơn") == "duong dong son"
    assert fold(None) == ""


def test_search_ignores_diacritics_and_case_over_description_and_place(login, world, make_tip):
    # Not in the theft category: these find the words in the text, not the category.
    fight = world.fight
    theft = make_tip(
        world.a1, description="Trộm cắp xe máy ở chợ", place="Chợ Đồng Xuân", category=fight
    )
    by_place = make_tip(
        world.a1, description="Có người lạ lảng vảng", place="Đường Lê Lợi", category=fight
    )
    other = make_tip(world.a1, description="Đánh nhau trước quán nước", category=fight)
    client = login("leader_a1")
    html = inbox(client, q="trom cap")
    assert refs(html) == [theft.reference]
    html = inbox(client, q="TRỘM   CẮP")
    assert refs(html) == [theft.reference]
    assert refs(inbox(client, q="dong xuan")) == [theft.reference]
    assert refs(inbox(client, q="duong le loi")) == [by_place.reference]
    # Every word must match, in any order.
    assert refs(inbox(client, q="xe cap")) == [theft.reference]
    assert refs(inbox(client, q="xe lạ")) == []
    assert other.reference in inbox(client)


def test_search_within_a_village_finds_the_same_words_and_categories(login, world, make_tip):
    """A search with a village filter words its text test apart (so PostgreSQL starts from
    the village's tips): the same tips, by their words and by their category's name."""
    fight = world.fight
    words = make_tip(world.a1, description="Trộm cắp xe máy ở chợ", category=fight)
    category = make_tip(world.a1, description="Mất con gà trong đêm")  # theft: "trộm cắp"
    make_tip(world.a2, description="Trộm cắp ở thôn bên", category=fight)
    make_tip(world.a1, description="Đánh nhau trước quán nước", category=fight)
    client = login("police_a")
    expected = {words.reference, category.reference}
    assert set(refs(inbox(client, q="trom cap", unit=world.a1.code))) == expected
    assert set(refs(inbox(client, q="xe may", unit=world.a1.code))) == {words.reference}
    commune_wide = set(refs(inbox(client, q="trom cap")))
    assert expected < commune_wide and len(commune_wide) == 3


def test_search_finds_a_tip_by_its_reference(login, world, make_tip):
    tip = make_tip(world.a1)
    make_tip(world.a1)
    html = inbox(login("leader_a1"), q=tip.reference.lower())
    assert refs(html) == [tip.reference]


def test_search_treats_like_wildcards_as_text(login, world, make_tip):
    make_tip(world.a1, description="Mất 100% số hàng trong kho")
    make_tip(world.a1, description="Mất trộm gà")
    client = login("leader_a1")
    assert len(refs(inbox(client, q="%"))) == 1
    assert len(refs(inbox(client, q="_"))) == 0


def test_category_defaults_set_priority_and_due_dates(world, make_tip):
    when = datetime(2026, 3, 1, 2, 0)
    theft = make_tip(world.a1, now=when)
    fight = make_tip(world.a1, now=when, category=world.fight)
    assert theft.priority == Priority.NORMAL
    assert fight.priority == Priority.URGENT
    # 20 days: the legal handling period for reports of crime.
    assert theft.settle_due_at == when + timedelta(days=20)
    assert theft.response_due_at == when + timedelta(days=1)
    assert theft.search_text == fold(theft.description)


def test_default_periods_come_from_the_configuration(app, world, make_tip, monkeypatch):
    monkeypatch.setitem(app.config, "TIPLINE_TRIAGE_DEFAULTS", {"theft": ("low", 2, 5)})
    when = datetime(2026, 3, 1, 2, 0)
    tip = make_tip(world.a1, now=when)
    assert tip.priority == Priority.LOW
    assert tip.settle_due_at == when + timedelta(days=5)
    fight = make_tip(world.a1, now=when, category=world.fight)
    assert fight.priority == Priority.NORMAL  # the fallback for an unlisted category
    assert fight.settle_due_at == when + timedelta(days=30)


def test_urgent_tips_come_first_and_are_marked(login, world, make_tip):
    old_urgent = make_tip(world.a1, now=datetime(2026, 1, 1, 1, 0), category=world.fight)
    new_normal = make_tip(world.a1, now=datetime(2026, 2, 1, 1, 0))
    html = inbox(login("leader_a1"))
    assert refs(html) == [old_urgent.reference, new_normal.reference]
    card = html[html.index(old_urgent.reference) - 400 : html.index(new_normal.reference)]
    assert "priority-urgent" in card and "Khẩn" in card


def test_sorting_newest_oldest_and_by_due_date(login, world, make_tip):
    a = make_tip(world.a1, now=datetime(2026, 1, 1, 1, 0))
    b = make_tip(world.a1, now=datetime(2026, 1, 5, 1, 0), category=world.fight)
    c = make_tip(world.a1, now=datetime(2026, 1, 3, 1, 0))
    client = login("leader_a1")
    assert refs(inbox(client, sort="newest")) == [b.reference, c.reference, a.reference]
    assert refs(inbox(client, sort="oldest")) == [a.reference, c.reference, b.reference]
    assert refs(inbox(client, sort="due")) == [a.reference, c.reference, b.reference]
    assert client.get("/staff/?sort=sideways").status_code == 400


def test_filters_by_status_category_village_priority(login, world, make_tip):
    theft_a1 = make_tip(world.a1)
    fight_a2 = make_tip(world.a2, category=world.fight)
    triaged = make_tip(world.a1)
    workflow.transition(triaged, Action.TRIAGE, world.user("police_a"))
    db.session.commit()
    client = login("police_a")
    assert set(refs(inbox(client, category="disturbance"))) == {fight_a2.reference}
    assert set(refs(inbox(client, unit="A2"))) == {fight_a2.reference}
    assert set(refs(inbox(client, unit="A1"))) == {theft_a1.reference, triaged.reference}
    assert set(refs(inbox(client, status="triaged"))) == {triaged.reference}
    assert set(refs(inbox(client, priority="urgent"))) == {fight_a2.reference}
    assert set(refs(inbox(client, unit="A1", status="received"))) == {theft_a1.reference}


@pytest.mark.parametrize(
    "args",
    [
        {"status": "lost"},
        {"priority": "very"},
        {"category": "nope"},
        {"unit": "ZZ"},
        {"page": "0"},
        {"page": "x"},
        {"mine": "yes"},
    ],
)
def test_bad_filters_are_a_400_in_vietnamese(login, world, args):
    response = login("leader_a1").get("/staff/", query_string=args)
    assert response.status_code == 400
    assert "không hợp lệ" in response.get_data(as_text=True)


def test_a_page_number_in_other_digits_is_a_400_in_vietnamese(login, world):
    # "²" passes str.isdigit() but not int(): the message was Python's own, in English.
    response = login("leader_a1").get("/staff/", query_string={"page": "²"})
    assert response.status_code == 400
    assert "Số trang không hợp lệ." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "args",
    [
        {},
        {"q": "trom cap", "status": "triaged", "category": "theft", "unit": "A1"},
        {"priority": "urgent", "sort": "due", "mine": "1", "overdue": "1", "open": "1"},
        {"unread": "1", "replies": "1", "sort": "oldest"},
    ],
)
def test_the_filter_reads_back_what_it_writes(ctx, world, args):
    wanted = InboxFilter.from_args(args | {"page": "3"})
    assert wanted.page == 3
    assert wanted.to_args() == args
    assert InboxFilter.from_args(wanted.to_args()) == replace(wanted, page=1)


def test_a_flag_set_to_0_does_not_narrow(ctx, world):
    assert InboxFilter.from_args({"mine": "0", "replies": "", "open": "0"}) == InboxFilter()


def test_paging_keeps_the_filter(app, login, world, make_tip, monkeypatch):
    monkeypatch.setitem(app.config, "TIPLINE_INBOX_PAGE_SIZE", 2)
    tips = [make_tip(world.a1, now=datetime(2026, 1, d, 1, 0)) for d in range(1, 6)]
    make_tip(world.a1, category=world.fight)
    client = login("leader_a1")
    first = inbox(client, category="theft", sort="newest")
    assert refs(first) == [tips[4].reference, tips[3].reference]
    assert 'rel="next"' in first and "category=theft" in first
    third = inbox(client, category="theft", sort="newest", page="3")
    assert refs(third) == [tips[0].reference]
    assert 'rel="next"' not in third and 'rel="prev"' in third


def test_counts_per_filter(login, world, make_tip):
    make_tip(world.a1)
    make_tip(world.a1, category=world.fight)
    mine = make_tip(world.a1)
    workflow.assign(mine, world.user("leader_a1"), world.user("leader_a1"))
    late = make_tip(world.a1, now=utcnow() - timedelta(days=30))
    rejected = make_tip(world.a1)
    workflow.transition(rejected, Action.REJECT, world.user("leader_a1"), reason=RejectReason.SPAM)
    make_tip(world.b1)  # out of scope
    db.session.commit()
    counts = inbox_counts(world.user("leader_a1"))
    assert counts.open == 4
    assert counts.urgent == 1
    assert counts.mine == 1
    assert counts.overdue == 1
    assert counts.by_status[TipStatus.RECEIVED] == 4
    assert TipStatus.REJECTED not in counts.by_status  # closed tips: a filter, not a count
    html = inbox(login("leader_a1"))
    assert re.search(r"Khẩn <span class=\"count\">1</span>", html)
    assert re.search(r"Quá hạn <span class=\"count\">1</span>", html)
    assert re.search(r"Của tôi <span class=\"count\">1</span>", html)
    assert late.reference in inbox(login("leader_a1"), overdue="1")


def test_overdue_filter_and_flag(login, world, make_tip):
    fresh = make_tip(world.a1)
    no_reply = make_tip(world.a1, now=utcnow() - timedelta(days=2))  # response due after 1 day
    answered = make_tip(world.a1, now=utcnow() - timedelta(days=2))
    workflow.add_note(answered, world.user("leader_a1"), "Đã nắm tình hình.")
    past_settle = make_tip(world.a1, now=utcnow() - timedelta(days=25))
    workflow.transition(past_settle, Action.TRIAGE, world.user("leader_a1"))
    db.session.commit()
    client = login("leader_a1")
    html = inbox(client, overdue="1")
    assert set(refs(html)) == {no_reply.reference, past_settle.reference}
    assert fresh.reference not in html and answered.reference not in html
    page = client.get(f"/staff/tips/{no_reply.public_id}").get_data(as_text=True)
    assert "Quá hạn" in page


def test_unread_until_opened(login, world, make_tip):
    tip = make_tip(world.a1)
    other = make_tip(world.a1)
    client = login("leader_a1")
    html = inbox(client, unread="1")
    assert set(refs(html)) == {tip.reference, other.reference}
    assert 'class="unread-count"' in html
    client.get(f"/staff/tips/{tip.public_id}")
    assert refs(inbox(client, unread="1")) == [other.reference]
    # Reading is per person: the police have not opened it.
    assert tip.reference in inbox(login("police_a"), unread="1")
    assert unread_count(world.user("leader_a1")) == 1


def test_unread_replies_filter_shows_tips_with_tipster_activity_after_submission(
    login, world, make_tip
):
    quiet = make_tip(world.a1, now=utcnow() - timedelta(hours=3))
    replied = make_tip(world.a1, now=utcnow() - timedelta(hours=3))
    client = login("leader_a1")
    client.get(f"/staff/tips/{replied.public_id}")
    # What a tipster's reply will do (the tipster-messages feature): move activity_at on.
    replied = db.session.get(Tip, replied.id)
    replied.activity_at = utcnow() + timedelta(seconds=1)
    db.session.commit()
    html = inbox(client, replies="1")
    assert refs(html) == [replied.reference]
    assert quiet.reference not in html


def test_mine_filter_lists_tips_assigned_to_me(login, world, make_tip):
    tip = make_tip(world.a1)
    make_tip(world.a1)
    workflow.assign(tip, world.user("leader_a1"), world.user("member_a1"))
    db.session.commit()
    assert refs(inbox(login("member_a1"), mine="1")) == [tip.reference]
    assert refs(inbox(login("leader_a1"), mine="1")) == []


def test_inbox_fits_a_phone_and_links_the_staff_stylesheet(login, world, make_tip):
    make_tip(world.a1)
    html = inbox(login("leader_a1"))
    assert re.search(r'<link rel="stylesheet" href="/static/staff[.\w]*\.css">', html)
    assert 'name="viewport"' in html


def test_cached_counts_follow_every_event_and_read(app, login, world, make_tip):
    leader = world.user("leader_a1")
    tip = make_tip(world.a1)
    assert cached_inbox_counts(leader).open == 1
    make_tip(world.a1, category=world.fight)
    assert cached_inbox_counts(leader).urgent == 1
    workflow.assign(tip, leader, leader)
    db.session.commit()
    assert cached_inbox_counts(leader).mine == 1
    assert cached_inbox_counts(leader).unread == 2
    login("leader_a1").get(f"/staff/tips/{tip.public_id}")
    assert cached_inbox_counts(world.user("leader_a1")).unread == 1


def test_inbox_counts_and_options_are_served_from_the_cache_until_a_write(app, world, make_tip):
    """The cached path itself runs under test: a second read loads nothing, a write to a
    table the inbox reads (here: a category) loads again."""
    leader = world.user("leader_a1")
    make_tip(world.a1)
    store = cache.cache_for(app)
    cached_inbox_counts(leader)
    inbox_options(leader)
    loads = store.loads
    assert cached_inbox_counts(leader).open == 1
    assert [o.code for o in inbox_options(leader).categories] == ["theft", "disturbance"]
    assert store.loads == loads
    world.fight.name = "Gây rối"
    db.session.commit()
    assert "Gây rối" in [o.name for o in inbox_options(leader).categories]
    assert store.loads == loads + 1
