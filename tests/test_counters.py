"""Counters against a hand-counted fixture, with the clock frozen; check and rebuild.

The property test (random transitions, merges and moves) is in test_counters_property.py.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
import time_machine
from sqlalchemy import select

from tipline.core.timeutil import local_date
from tipline.extensions import db
from tipline.tips import counts, workflow
from tipline.tips.models import Outcome, RejectReason, TipCount
from tipline.tips.workflow import Action

# 09:00 on 28 Nov 2026 in Hà Nội (02:00 UTC).
NOW = datetime(2026, 11, 28, 2, 0)


# Closing owes the tipster a note.
CLOSING = {"note": "Đã xử lý xong.", "note_to_tipster": True}


def utc(day: str, hhmm: str = "03:00") -> datetime:
    return datetime.fromisoformat(f"{day} {hhmm}")


@pytest.fixture
def story(world, make_tip):
    """A hand-written year of tips, its expected figures worked out below by hand."""
    police, leader = world.user("police_a"), world.user("leader_a1")

    def settle(tip, *, outcome=None, at_day="2026-10-10", unfounded=False):
        # The village leader settles what the village can; police handle the rest.
        actor = leader if tip.unit_id == world.a1.id else police
        workflow.transition(tip, Action.TRIAGE, actor, at=utc(at_day, "01:00"))
        workflow.transition(tip, Action.START_VERIFICATION, actor, at=utc(at_day, "02:00"))
        if unfounded:
            workflow.transition(
                tip, Action.MARK_UNFOUNDED, actor, at=utc(at_day, "04:00"), **CLOSING
            )
            return
        workflow.transition(tip, Action.VERIFY, actor, at=utc(at_day, "03:00"))
        workflow.transition(
            tip, Action.RESOLVE, actor, outcome=outcome, at=utc(at_day, "04:00"), **CLOSING
        )

    tips = {}
    # 1. Received in March, resolved (mediated) in March.
    tips["t1"] = make_tip(world.a1, now=utc("2026-03-02"))
    settle(tips["t1"], outcome=Outcome.MEDIATED, at_day="2026-03-05")
    # 2. Received in October, found unfounded in October (never verified).
    tips["t2"] = make_tip(world.a2, now=utc("2026-10-01"), category=world.fight)
    settle(tips["t2"], unfounded=True, at_day="2026-10-03")
    # 3. Received 31 Oct at 18:30 UTC, which is 1 Nov in Hà Nội: counts in November.
    tips["t3"] = make_tip(world.a1, now=datetime(2026, 10, 31, 18, 30))
    # 4. Verified in November, still open.
    tips["t4"] = make_tip(world.a1, now=utc("2026-11-02"))
    workflow.transition(tips["t4"], Action.TRIAGE, leader, at=utc("2026-11-03"))
    workflow.transition(tips["t4"], Action.START_VERIFICATION, leader, at=utc("2026-11-03"))
    workflow.transition(tips["t4"], Action.VERIFY, leader, at=utc("2026-11-04"))
    # 5. Duplicate of t4: drops out of every figure.
    tips["t5"] = make_tip(world.a1, now=utc("2026-11-05"))
    workflow.transition(
        tips["t5"], Action.MARK_DUPLICATE, leader, duplicate_of=tips["t4"], at=utc("2026-11-06")
    )
    # 6. Rejected as spam: drops out.
    tips["t6"] = make_tip(world.a2, now=utc("2026-11-07"))
    workflow.transition(
        tips["t6"], Action.REJECT, police, reason=RejectReason.SPAM, at=utc("2026-11-07", "05:00")
    )
    # 7. Commune B, sanctioned by police in November.
    tips["t7"] = make_tip(world.b1, now=utc("2026-11-08"))
    police_b = world.user("police_b")
    for action in (Action.TRIAGE, Action.START_VERIFICATION, Action.VERIFY):
        workflow.transition(tips["t7"], action, police_b, at=utc("2026-11-09"))
    workflow.transition(
        tips["t7"],
        Action.RESOLVE,
        police_b,
        outcome=Outcome.SANCTIONED,
        at=utc("2026-11-10"),
        **CLOSING,
    )
    # 8. Received in A1, moved to commune B by police A, then to B1 by police B: counts for B.
    tips["t8"] = make_tip(world.a1, now=utc("2026-11-11"))
    workflow.transition(
        tips["t8"], Action.MOVE, police, to_unit=world.commune_b, at=utc("2026-11-12")
    )
    workflow.transition(
        tips["t8"], Action.MOVE, police_b, to_unit=world.b1, at=utc("2026-11-12", "06:00")
    )
    # 9. Sent to commune A without a village.
    tips["t9"] = make_tip(world.commune_a, now=utc("2026-11-20"))
    # 10. From two years ago, resolved last year: outside the twelve months.
    tips["t10"] = make_tip(world.a1, now=utc("2024-06-01"))
    settle(tips["t10"], outcome=Outcome.WARNED, at_day="2024-06-10")
    db.session.commit()
    return tips


@time_machine.travel(NOW, tick=False)
def test_figures_match_the_hand_count(world, story):
    start, end = date(2025, 12, 1), local_date(NOW)
    total, per_commune = counts.figures_by_commune(world.province, start, end)
    # Received (no duplicates or rejected, in the window): t1 t2 t3 t4 t7 t8 t9.
    assert total.received == 7
    # Verified in the window: t1 (Mar), t4 (Nov), t7 (Nov); t2 was never verified.
    assert total.verified == 3
    # Settled in the window: t1 resolved, t2 unfounded, t7 resolved.
    assert total.settled == 3
    # In progress at the end: t3 t4 t8 t9 (t10 settled long ago).
    assert total.in_progress == 4
    assert total.outcomes == {"mediated": 1, "sanctioned": 1}

    a, b = per_commune[world.commune_a.id], per_commune[world.commune_b.id]
    assert (a.received, a.verified, a.settled, a.in_progress) == (5, 2, 2, 3)
    assert (b.received, b.verified, b.settled, b.in_progress) == (2, 1, 1, 1)

    november = counts.figures_for(world.province, date(2026, 11, 1), date(2026, 11, 30))
    # t3 counts in November (local day), t4 t7 t8 t9.
    assert november.received == 5
    october = counts.figures_for(world.province, date(2026, 10, 1), date(2026, 10, 31))
    assert (october.received, october.settled) == (1, 1)

    village = counts.figures_for(world.a1, start, end)
    assert village.received == 3  # t1, t3, t4 (t8 moved away, t9 has no village)
    assert counts.differences() == {}


@time_machine.travel(NOW, tick=False)
def test_home_page_shows_the_counters(client, world, story):
    html = client.get("/").get_data(as_text=True)
    assert 'id="fig-received">7<' in html
    assert 'id="fig-settled">3<' in html
    assert 'id="fig-in-progress">4<' in html
    # Per-commune figures (where small numbers need more care) are on /so-lieu.
    assert "Phường Bắc Sơn" not in html and 'href="/so-lieu"' in html


@time_machine.travel(NOW, tick=False)
def test_duplicate_drops_out_of_past_figures(world, make_tip):
    leader = world.user("leader_a1")
    original = make_tip(world.a1, now=utc("2026-05-01"))
    later = make_tip(world.a1, now=utc("2026-05-02"))
    may = (date(2026, 5, 1), date(2026, 5, 31))
    assert counts.figures_for(world.province, *may).received == 2
    workflow.transition(later, Action.MARK_DUPLICATE, leader, duplicate_of=original)
    db.session.commit()
    # Marked in November, it leaves May's figure too.
    assert counts.figures_for(world.province, *may).received == 1


def test_check_finds_and_rebuild_repairs_a_tampered_counter(runner, world, story):
    row = db.session.scalars(select(TipCount).where(TipCount.metric == counts.RECEIVED)).first()
    row.count += 5
    db.session.commit()
    result = runner.invoke(args=["tipline", "counters", "check"])
    assert result.exit_code == 1
    assert "stored" in result.output and "expected" in result.output
    result = runner.invoke(args=["tipline", "counters", "rebuild"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["tipline", "counters", "check"])
    assert result.exit_code == 0
    assert "Counters match" in result.output


def test_counts_are_kept_per_village_and_local_day(world, make_tip):
    make_tip(world.a1, now=datetime(2026, 10, 31, 18, 30))  # 01:30 on 1 Nov in Hà Nội
    cells = db.session.scalars(select(TipCount)).all()
    assert [(c.unit_id, c.day, c.metric, c.count) for c in cells] == [
        (world.a1.id, date(2026, 11, 1), "received", 1)
    ]
