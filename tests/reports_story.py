"""A hand-written set of tips for the report tests, its figures worked out by hand."""

from __future__ import annotations

from datetime import datetime

from tipline.extensions import db
from tipline.tips import workflow
from tipline.tips.models import IdentityTier, Outcome, RejectReason
from tipline.tips.workflow import Action

# 09:00 on 28 Nov 2026 in Hà Nội.
NOW = datetime(2026, 11, 28, 2, 0)


# Closing owes the tipster a note.
CLOSING = {"note": "Đã xử lý xong.", "note_to_tipster": True}


def utc(day: str, hhmm: str = "03:00") -> datetime:
    return datetime.fromisoformat(f"{day} {hhmm}")


def build(world, make_tip) -> dict:
    """Commune A: 9 tips in village A1 and A2; commune B: 2 tips (a small number)."""
    leader, police = world.user("leader_a1"), world.user("police_a")
    police_b = world.user("police_b")
    tips = {}

    def settle(tip, actor, day, outcome=Outcome.MEDIATED, unfounded=False):
        workflow.transition(tip, Action.TRIAGE, actor, at=utc(day, "01:00"))
        workflow.transition(tip, Action.START_VERIFICATION, actor, at=utc(day, "02:00"))
        if unfounded:
            workflow.transition(tip, Action.MARK_UNFOUNDED, actor, at=utc(day, "05:00"), **CLOSING)
            return
        workflow.transition(tip, Action.VERIFY, actor, at=utc(day, "03:00"))
        workflow.transition(
            tip, Action.RESOLVE, actor, outcome=outcome, at=utc(day, "05:00"), **CLOSING
        )

    # A1: five tips in March, settled two days later (48 hours after submission).
    for i in range(5):
        tip = make_tip(world.a1, now=utc(f"2026-03-0{i + 1}", "05:00"))
        settle(tip, leader, f"2026-03-0{i + 3}")
        tips[f"a1_{i}"] = tip
    # A2: three tips in October; one unfounded, two open; one from a named tipster.
    tips["a2_0"] = make_tip(world.a2, now=utc("2026-10-01"), category=world.fight)
    settle(tips["a2_0"], police, "2026-10-05", unfounded=True)
    tips["a2_1"] = make_tip(
        world.a2,
        now=utc("2026-10-02"),
        category=world.fight,
        identity_tier=IdentityTier.CONFIDENTIAL,
        name="Nguyễn Văn Lộ",
        phone="0912345678",
    )
    tips["a2_2"] = make_tip(world.a2, now=utc("2026-10-03"), description='=HYPERLINK("http://x")')
    # Commune A without a village: one tip, rejected (drops out).
    tips["a_rej"] = make_tip(world.commune_a, now=utc("2026-10-04"))
    workflow.transition(tips["a_rej"], Action.REJECT, police, reason=RejectReason.SPAM)
    # B1: two tips in November, one sanctioned by police B.
    tips["b1_0"] = make_tip(world.b1, now=utc("2026-11-02"))
    settle(tips["b1_0"], police_b, "2026-11-04", outcome=Outcome.SANCTIONED)
    tips["b1_1"] = make_tip(world.b1, now=utc("2026-11-03"))
    db.session.commit()
    return tips
