"""Staff on a phone (issue 17): the inbox opens on what needs action, search finds what
people type (category names too), each role lands on its own page, a village team's page,
and no menu offers a page its reader may not open."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from tipline.accounts.models import Role
from tipline.core.timeutil import utcnow
from tipline.extensions import db
from tipline.tips import workflow
from tipline.tips.inbox import InboxFilter, Sort, inbox_counts, inbox_page, village_month
from tipline.tips.models import Handler, Outcome, Priority, RejectReason, Tip, TipStatus
from tipline.tips.queries import TipUnit, acting_clause, acting_states, visible_tips
from tipline.tips.workflow import Action

from .conftest import ACCOUNTS

CARD = re.compile(r'<li class="tip-card[^"]*" data-status="(\w+)">\s*<label[^>]*>.*?'
                  r'<span class="ref">(TL-[A-Z0-9-]{9})</span>', re.S)  # fmt: skip


def cards(html: str) -> list[tuple[str, str]]:
    """(reference, data-status) of the inbox's cards, in order."""
    return [(ref, status) for status, ref in CARD.findall(html)]


def inbox(client, **args) -> str:
    response = client.get("/staff/", query_string=args)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_data(as_text=True)


def _move(tip, action, who, **kwargs):
    workflow.transition(tip, action, who, **kwargs)
    db.session.commit()


@pytest.fixture
def varied(world, make_tip):
    """Tips of commune A in every open state, handed over, hidden, closed; one in B."""
    leader, police = world.user("leader_a1"), world.user("police_a")
    tips = {}
    tips["received"] = make_tip(world.a1)
    tips["triaged"] = make_tip(world.a1)
    _move(tips["triaged"], Action.TRIAGE, leader)
    tips["verifying"] = make_tip(world.a1)
    _move(tips["verifying"], Action.TRIAGE, leader)
    _move(tips["verifying"], Action.START_VERIFICATION, leader)
    tips["verified"] = make_tip(world.a2)
    for action in (Action.TRIAGE, Action.START_VERIFICATION, Action.VERIFY):
        _move(tips["verified"], action, police)
    tips["handed_over"] = make_tip(world.a1)
    _move(tips["handed_over"], Action.ESCALATE, leader)
    tips["hidden"] = make_tip(world.a1)
    _move(tips["hidden"], Action.ESCALATE, leader, conflict_of_interest=True)
    tips["commune"] = make_tip(world.commune_a)
    tips["resolved"] = make_tip(world.a1, category=world.fight)
    for action in (Action.TRIAGE, Action.START_VERIFICATION, Action.VERIFY):
        _move(tips["resolved"], action, leader)
    _move(
        tips["resolved"],
        Action.RESOLVE,
        leader,
        outcome=Outcome.MEDIATED,
        note="Đã hòa giải.",
        note_to_tipster=True,
    )
    tips["rejected"] = make_tip(world.a1)
    _move(tips["rejected"], Action.REJECT, leader, reason=RejectReason.SPAM)
    tips["other_commune"] = make_tip(world.b1)
    return tips


# --- "can act" in SQL is the workflow's answer ------------------------------------------


def test_acting_clause_agrees_with_the_workflow_for_every_account_and_tip(world, varied):
    for name in ACCOUNTS:
        user = world.user(name)
        readable = list(db.session.scalars(visible_tips(user)).unique())
        expected = {t.id for t in readable if t.is_open and workflow.allowed_actions(t, user)}
        query = visible_tips(user).where(acting_clause(user)).order_by(None)
        found = {t.id for t in db.session.scalars(query).unique()}
        assert found == expected, name
    # The cases that make the rule: a team member only triages what is new; what is handed
    # to the police is theirs alone; officers and administrators act on nothing.
    member = {t.id for t in db.session.scalars(
        visible_tips(world.user("member_a1")).where(acting_clause(world.user("member_a1")))
    ).unique()}  # fmt: skip
    assert member == {varied["received"].id}
    assert acting_states(Role.VILLAGE_LEADER, Handler.COMMUNE_POLICE) == frozenset()
    assert acting_states(Role.OFFICER, Handler.VILLAGE_TEAM) == frozenset()


def test_the_acting_clause_has_no_tip_outside_the_readers_scope(world, varied):
    police_b = world.user("police_b")
    query = select(Tip.id).join(TipUnit, TipUnit.id == Tip.unit_id).where(acting_clause(police_b))
    assert set(db.session.scalars(query)) == {varied["other_commune"].id}


# --- the default view -------------------------------------------------------------------


def test_leader_opens_on_open_tips_to_act_on_urgent_and_unread_first_then_due(
    login, world, make_tip, varied
):
    now = utcnow()
    read_urgent = make_tip(world.a1, category=world.fight, now=now - timedelta(hours=2))
    unread_urgent = make_tip(world.a1, category=world.fight, now=now - timedelta(hours=1))
    client = login("leader_a1")
    client.get(f"/staff/tips/{read_urgent.public_id}")
    client.get(f"/staff/tips/{varied['triaged'].public_id}")
    listed = cards(inbox(client))
    refs = [ref for ref, _ in listed]
    # Only open tips the leader may move: nothing closed, nothing handed to the police.
    assert {status for _, status in listed} <= {"received", "triaged", "verifying"}
    for gone in ("resolved", "rejected", "handed_over", "hidden", "other_commune", "verified"):
        assert varied[gone].reference not in refs, gone
    # Urgent first (unread before read), then unread, then by the next deadline.
    assert refs[:2] == [unread_urgent.reference, read_urgent.reference]
    assert refs[-1] == varied["triaged"].reference  # read, not urgent
    unread_normal = refs[2:-1]
    assert set(unread_normal) == {varied["received"].reference, varied["verifying"].reference}
    assert dict(listed)[varied["verifying"].reference] == "verifying"


def test_next_deadline_orders_tips_of_the_same_standing(login, world, make_tip):
    soon = make_tip(world.a1, now=utcnow() - timedelta(days=2))
    later = make_tip(world.a1, now=utcnow())
    client = login("leader_a1")
    assert [r for r, _ in cards(inbox(client))] == [soon.reference, later.reference]


def test_closed_tips_only_when_asked(login, world, varied):
    client = login("leader_a1")
    resolved = varied["resolved"].reference
    assert resolved not in inbox(client)
    everything = cards(inbox(client, all="1"))
    assert (resolved, "resolved") in everything
    assert (varied["rejected"].reference, "rejected") in everything
    # Open first, closed after.
    states = [status for _, status in everything]
    assert states.index("resolved") > max(
        i for i, s in enumerate(states) if s not in ("resolved", "rejected")
    )
    assert cards(inbox(client, status="resolved")) == [(resolved, "resolved")]
    # "Open" keeps its meaning: every open tip one reads, acting or not.
    opened = {r for r, _ in cards(inbox(client, open="1"))}
    assert varied["handed_over"].reference in opened and resolved not in opened


def test_commune_police_open_on_their_work_too(login, world, varied):
    listed = dict(cards(inbox(login("police_a"))))
    for name in ("received", "triaged", "verifying", "verified", "handed_over", "hidden"):
        assert varied[name].reference in listed, name
    assert varied["resolved"].reference not in listed
    assert varied["other_commune"].reference not in listed


def test_an_officer_who_acts_on_nothing_opens_on_the_open_tips_of_the_scope(login, world, varied):
    listed = dict(cards(inbox(login("officer"))))
    assert varied["verified"].reference in listed and varied["hidden"].reference in listed
    assert varied["resolved"].reference not in listed


def test_every_card_carries_its_state_code(login, world, varied):
    html = inbox(login("police_a"), all="1")
    found = {status for _, status in cards(html)}
    assert found == {s.value for s in TipStatus} - {"unfounded", "duplicate"}
    assert html.count('class="tip-card') == len(cards(html))


def test_the_counts_name_the_work_to_do(world, varied):
    assert inbox_counts(world.user("leader_a1")).todo == 3
    assert inbox_counts(world.user("member_a1")).todo == 1
    assert inbox_counts(world.user("officer")).todo == 8  # every open tip of the province


def test_the_api_keeps_listing_everything_in_scope(ctx, world, varied):
    police = world.user("police_a")
    wanted = InboxFilter.from_args({})
    assert not wanted.todo and wanted.order == Sort.PRIORITY
    listed = {t.reference for t in inbox_page(police, wanted, 50).tips}
    assert varied["resolved"].reference in listed


def test_filter_summary_and_sheet_start_closed(login, world, varied):
    html = inbox(login("leader_a1"), priority="urgent", mine="1")
    assert re.search(r'<details class="filter-sheet">', html)  # not open
    summary = re.search(r'<span class="active-filters">([^<]*)</span>', html).group(1)
    assert summary == "Cần xử lý · Khẩn · Của tôi"
    html = inbox(login("leader_a1"), status="resolved", sort="oldest")
    summary = re.search(r'<span class="active-filters">([^<]*)</span>', html).group(1)
    assert summary == "Đã giải quyết · Cũ nhất"
    assert "Tất cả, cả tin đã đóng" in inbox(login("leader_a1"), all="1")


def test_the_query_string_reads_back_with_the_new_view_and_order(ctx, world):
    args = {"all": "1", "sort": "todo", "q": "trom"}
    assert InboxFilter.from_args(args, todo_by_default=True).to_args() == args
    assert InboxFilter.from_args({}, todo_by_default=True).to_args() == {}
    assert InboxFilter.from_args({"q": "x"}, todo_by_default=True).order == Sort.NEWEST


@pytest.mark.parametrize("args", [{"all": "2"}, {"sort": "todo!"}])
def test_bad_new_values_are_a_400_in_vietnamese(login, world, args):
    response = login("leader_a1").get("/staff/", query_string=args)
    assert response.status_code == 400
    assert "không hợp lệ" in response.get_data(as_text=True)


# --- search ---------------------------------------------------------------------------------


def test_trom_cap_finds_theft_tips_by_their_category_for_every_reader(login, world, make_tip):
    theft = make_tip(world.a1, description="Mất xe đạp trong đêm")  # category: theft
    closed = make_tip(world.a2, description="Mất con gà")
    police = world.user("police_a")
    _move(closed, Action.TRIAGE, police)
    _move(closed, Action.REJECT, police, reason=RejectReason.OUT_OF_SCOPE)
    fight = make_tip(world.a1, category=world.fight, description="Hai nhóm xô xát")
    for name in ("officer", "police_a"):
        found = {r for r, _ in cards(inbox(login(name), q="trom cap"))}
        assert found == {theft.reference, closed.reference}, name
    client = login("officer")
    assert {r for r, _ in cards(inbox(client, q="Trộm cắp"))} == {
        theft.reference,
        closed.reference,
    }
    assert [r for r, _ in cards(inbox(client, q="xô xát"))] == [fight.reference]
    assert [r for r, _ in cards(inbox(client, q="danh nhau"))] == [fight.reference]
    # Category and text together: each word somewhere.
    assert [r for r, _ in cards(inbox(client, q="trom xe dap"))] == [theft.reference]
    assert cards(inbox(client, q="trom xo xat")) == []


def test_search_matches_the_english_category_name(login, world, make_tip):
    world.theft.name_en = "Theft of property"
    db.session.commit()
    tip = make_tip(world.a1, description="Mất xe đạp")
    assert [r for r, _ in cards(inbox(login("officer"), q="theft"))] == [tip.reference]


def test_the_search_box_shows_examples_that_work(login, world):
    html = inbox(login("leader_a1"))
    placeholder = re.search(r'id="q" name="q" value="" placeholder="([^"]+)"', html).group(1)
    assert "trom cap" in placeholder and "TL-" in placeholder


@pytest.mark.parametrize("name", sorted(ACCOUNTS))
def test_the_inbox_and_its_search_stay_open_to_every_role(login, world, make_tip, name):
    make_tip(world.a1)
    client = login(name)
    assert client.get("/staff/").status_code == 200
    assert client.get("/staff/?q=trom+cap").status_code == 200


# --- landings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "landing"),
    [
        ("leader_a1", "/staff/thon-cua-toi"),
        ("member_a1", "/staff/thon-cua-toi"),
        ("police_a", "/staff/"),
        ("committee_a", "/staff/"),
        ("officer", "/staff/"),
        ("admin", "/admin/"),
    ],
)
def test_each_role_lands_on_its_own_page(client, world, name, landing):
    from .conftest import PASSWORD

    answer = client.post("/staff/login", data={"username": name, "password": PASSWORD})
    assert answer.status_code == 302
    assert answer.headers["Location"] == landing
    # Signed in already: the login page sends one there too.
    assert client.get("/staff/login").headers["Location"] == landing


def test_a_page_asked_for_wins_over_the_landing(client, world):
    from .conftest import PASSWORD

    answer = client.post(
        "/staff/login",
        data={"username": "admin", "password": PASSWORD, "next": "/staff/?q=trom"},
    )
    assert answer.headers["Location"] == "/staff/?q=trom"


# --- a village team's page --------------------------------------------------------------------


def test_village_home_shows_this_month_and_what_waits(login, world, make_tip):
    now = utcnow()
    leader = world.user("leader_a1")
    new = make_tip(world.a1, now=now - timedelta(minutes=5))
    late = make_tip(world.a1, now=now - timedelta(days=3))  # no response after a day
    settled = make_tip(world.a1, now=now - timedelta(minutes=30))
    for action in (Action.TRIAGE, Action.START_VERIFICATION):
        _move(settled, action, leader)
    _move(settled, Action.MARK_UNFOUNDED, leader, note="Không có cơ sở.", note_to_tipster=True)
    make_tip(world.a2)  # another village
    month = village_month(leader, [world.a1], size=5, now=now)
    expected_new = 3 if late.submitted_at.month == now.month else 2
    assert month.received == expected_new
    assert month.settled == 1
    assert month.in_progress == 2
    assert month.overdue == 1
    assert month.waiting_total == 2
    assert [t.reference for t in month.waiting] == [late.reference, new.reference]
    html = login("leader_a1").get("/staff/thon-cua-toi").get_data(as_text=True)
    assert re.search(r'id="home-settled">1<', html)
    assert re.search(r'id="home-waiting">2<', html)
    assert late.reference in html and settled.reference not in html
    assert 'data-status="received"' in html


def test_village_home_is_the_first_link_for_the_village_team_only(login, world):
    def first_link(html):
        return re.search(r'<header class="site">\s*<a class="brand" href="([^"]+)"', html).group(1)

    assert first_link(inbox(login("leader_a1"))) == "/staff/thon-cua-toi"
    assert first_link(inbox(login("police_a"))) == "/staff/"
    assert login("police_a").get("/staff/thon-cua-toi").status_code == 403


# --- menus: no link answers 403 ------------------------------------------------------------


class _Links(HTMLParser):
    """The links inside the page's menus: the header (top bar and bottom bar), every <nav>,
    and the account page's link lists."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.open: list[tuple[str, bool]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("nav", "header", "ul"):
            menu = tag != "ul" or "link-list" in (attrs.get("class") or "")
            self.open.append((tag, menu))
        elif tag == "a" and attrs.get("href") and any(menu for _, menu in self.open):
            self.hrefs.append(attrs["href"])

    def handle_endtag(self, tag):
        if self.open and self.open[-1][0] == tag:
            self.open.pop()


def menu_links(html: str) -> set[str]:
    parser = _Links()
    parser.feed(html)
    return {h for h in parser.hrefs if h.startswith("/") and not h.startswith("//")}


@pytest.mark.parametrize("name", sorted(ACCOUNTS))
def test_no_menu_link_answers_403(login, world, make_tip, name):
    make_tip(world.a1)
    client = login(name)
    seen: set[str] = set()
    todo = ["/staff/", "/staff/tai-khoan-cua-toi", "/staff/bao-cao/", "/admin/"]
    while todo:
        path = todo.pop()
        if path in seen or urlsplit(path).path in ("/staff/logout",):
            continue
        seen.add(path)
        answer = client.get(path)
        if answer.status_code in (301, 302, 303):
            todo.append(answer.headers["Location"])
            continue
        if path in ("/staff/bao-cao/", "/admin/") and answer.status_code in (403, 404):
            continue  # the walk's own starting guesses, not links of a menu
        assert answer.status_code == 200, (name, path, answer.status_code)
        html = answer.get_data(as_text=True)
        if "text/html" in answer.content_type:
            todo += [h for h in menu_links(html) if h.startswith(("/staff", "/admin"))]
    assert "/staff/tai-khoan-cua-toi" in seen and len(seen) >= 6, seen


def test_the_indicator_link_shows_only_to_the_commune_committee(login, world):
    for name, shown in (("committee_a", True), ("police_a", False), ("officer", False)):
        html = login(name).get("/staff/bao-cao/").get_data(as_text=True)
        assert ("/staff/bao-cao/chi-tieu" in html) is shown, name


def test_officer_and_administrator_are_not_offered_tip_recording(login, world):
    for name, shown in (("officer", False), ("admin", False), ("member_a1", True)):
        assert ('href="/staff/record"' in inbox(login(name))) is shown, name


@pytest.mark.parametrize("when", [datetime(2026, 1, 31, 16, 59)])
def test_urgent_closed_tips_never_top_the_default_view(login, world, make_tip, when):
    """The report that started it: closed urgent tips listed above the new unread ones."""
    leader = world.user("leader_a1")
    for _ in range(3):
        old = make_tip(world.a1, category=world.fight, now=when)
        for action in (Action.TRIAGE, Action.START_VERIFICATION, Action.VERIFY):
            _move(old, action, leader)
        _move(
            old,
            Action.RESOLVE,
            leader,
            outcome=Outcome.WARNED,
            note="Đã nhắc nhở.",
            note_to_tipster=True,
        )
    new = make_tip(world.a1)
    assert new.priority == Priority.NORMAL
    assert cards(inbox(login("leader_a1"))) == [(new.reference, "received")]
