"""Item 12: a leader's inbox, search, counts and bulk actions never reach outside their scope.

The world: leader_a1 leads village A1. Tips in A2 (same commune), B1 (another commune),
and one of A1 hidden from the village team for a conflict of interest are all outside.
Every tip carries the same searchable word, so a search that forgot the scope would show it.
"""

from __future__ import annotations

import re

from tipline.extensions import db
from tipline.tips import workflow
from tipline.tips.inbox import inbox_counts, unread_count
from tipline.tips.models import Priority, Tip, TipStatus
from tipline.tips.workflow import Action

WORD = "Trộm cắp xe đạp ở ngõ"


def _world(world, make_tip):
    inside = [make_tip(world.a1, description=WORD), make_tip(world.a1, description=WORD)]
    outside = [
        make_tip(world.a2, description=WORD),
        make_tip(world.b1, description=WORD),
        make_tip(world.commune_a, description=WORD),
    ]
    hidden = make_tip(world.a1, description=WORD)
    workflow.transition(hidden, Action.ESCALATE, world.user("police_a"), conflict_of_interest=True)
    db.session.commit()
    return inside, outside + [hidden]


def test_leader_inbox_search_and_filters_stay_in_scope(login, world, make_tip):
    inside, outside = _world(world, make_tip)
    client = login("leader_a1")
    queries = [
        {},
        {"q": "trom cap"},
        {"q": "xe dap", "sort": "oldest"},
        {"status": "received"},
        {"priority": "normal", "open": "1"},
        {"unit": "A2"},
        {"unit": "B1"},
        {"unit": "A"},
        {"category": "theft"},
        {"unread": "1"},
        {"overdue": "1"},
        {"replies": "1"},
    ]
    for outsider in outside:
        queries.append({"q": outsider.reference})
    for args in queries:
        response = client.get("/staff/", query_string=args)
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        listed = set(re.findall(r'value="([\w-]+)"><span class="visually-hidden">', html))
        listed |= set(re.findall(r'<span class="ref">([\w-]+)</span>', html))
        for tip in outside:
            assert tip.reference not in listed and tip.public_id not in listed, (args, tip)
            assert tip.public_id not in html
    html = client.get("/staff/", query_string={"q": "trom cap"}).get_data(as_text=True)
    listed = set(re.findall(r'<span class="ref">([\w-]+)</span>', html))
    assert listed == {t.reference for t in inside}


def test_leader_counts_include_nothing_outside_scope(world, make_tip):
    inside, _outside = _world(world, make_tip)
    counts = inbox_counts(world.user("leader_a1"))
    assert counts.open == counts.unread == counts.by_status[TipStatus.RECEIVED] == len(inside)
    assert unread_count(world.user("leader_a1")) == len(inside)
    # The same query serves the commune police, who see the whole commune (hidden one too).
    police = inbox_counts(world.user("police_a"))
    assert police.open == 5


def test_leader_bulk_actions_never_touch_a_tip_outside_scope(login, world, make_tip):
    inside, outside = _world(world, make_tip)
    client = login("leader_a1")
    ids = [t.public_id for t in inside + outside]
    member = world.user("member_a1")
    client.post("/staff/bulk", data={"tips": ids, "operation": "priority", "priority": "urgent"})
    client.post("/staff/bulk", data={"tips": ids, "operation": "assign", "assignee": member.id})
    response = client.post(
        "/staff/bulk", data={"tips": ids, "operation": "spam"}, follow_redirects=True
    )
    html = response.get_data(as_text=True)
    db.session.expire_all()
    for tip in outside:
        tip = db.session.get(Tip, tip.id)
        assert tip.status != TipStatus.REJECTED
        assert tip.priority != Priority.URGENT
        assert tip.assignee_id is None
        assert tip.reference not in html  # not even named in a refusal
    for tip in inside:
        assert db.session.get(Tip, tip.id).status == TipStatus.REJECTED
    assert f"{len(outside)} tin không tìm thấy" in html


def test_out_of_scope_pages_are_404(login, world, make_tip):
    _inside, outside = _world(world, make_tip)
    client = login("leader_a1")
    for tip in outside:
        for url in (f"/staff/tips/{tip.public_id}", f"/staff/tips/{tip.public_id}/print"):
            assert client.get(url).status_code == 404
        for action in ("assign", "priority"):
            response = client.post(
                f"/staff/tips/{tip.public_id}/{action}", data={"priority": "low", "version": 1}
            )
            assert response.status_code == 404
