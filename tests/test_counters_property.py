"""Property: whatever transitions, merges, moves, tipster answers (a "not settled" reopens
a tip once) and undone rejections happen, the counters equal a recount, and the reports'
sums (per unit up the tree, per day, month and year) equal a count of the tips themselves."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tipline.core.errors import TiplineError
from tipline.core.timeutil import local_date
from tipline.extensions import db
from tipline.reports import figures
from tipline.reports.periods import Period
from tipline.tips import counts, settled, workflow
from tipline.tips.models import (
    SETTLED_STATUSES,
    UNCOUNTED_STATUSES,
    Outcome,
    RejectReason,
    Tip,
    TipStatus,
    TipsterAnswer,
)
from tipline.tips.workflow import Action

ACTORS = ["leader_a1", "leader_a2", "police_a", "committee_a", "member_a1", "police_b", "leader_b1"]
UNITS = ["a1", "a2", "b1", "commune_a", "commune_b"]
START = datetime(2025, 12, 31, 15, 0)  # 22:00 on 31 Dec in Hà Nội: days and years turn over


def _recount(tips: list[Tip], root, start: date, end: date) -> dict:
    """The figures straight from the tips, by DOMAIN.md's definitions."""
    inside = [t for t in tips if t.unit.path.startswith(root.path)]
    counted = [t for t in inside if t.status not in UNCOUNTED_STATUSES]

    def within(moment):
        return moment is not None and start <= local_date(moment) <= end

    settled = [t for t in counted if t.status in SETTLED_STATUSES and within(t.closed_at)]

    def open_at_end(t) -> bool:
        if local_date(t.submitted_at) > end:
            return False
        if t.status in SETTLED_STATUSES and local_date(t.closed_at) <= end:
            return False
        # A reopened tip was closed from its earlier closing until its reopening.
        return not (
            t.reopened_at is not None
            and local_date(t.earlier_closed_at) <= end < local_date(t.reopened_at)
        )

    answered = [t for t in counted if t.tipster_answer and within(t.tipster_answer_at)]
    return {
        "received": sum(within(t.submitted_at) for t in counted),
        "verified": sum(within(t.verified_at) for t in counted),
        "settled": len(settled),
        "in_progress": sum(open_at_end(t) for t in counted),
        "outcomes": Counter(t.outcome.value for t in settled if t.status == TipStatus.RESOLVED),
        "answers": Counter(t.tipster_answer.value for t in answered),
    }


def _figures(f) -> dict:
    return {
        "received": f.received,
        "verified": f.verified,
        "settled": f.settled,
        "in_progress": f.in_progress,
        "outcomes": Counter({k: v for k, v in f.outcomes.items() if v}),
        "answers": Counter({k: v for k, v in f.answers.items() if v}),
    }


# The tipster's answers, mixed into the staff's moves, and a shortcut that takes a tip as
# far as it goes towards resolved in one step (so that closings, answers and reopenings
# are common, not the rare end of a random walk).
ANSWERS = [f"answer:{a.value}" for a in TipsterAnswer]
CLOSE = "close"
UNDO = "undo"
FALSE_REPORT = "false_report"  # the commune police reject a tip as a false report
CLOSING_MOVES = (Action.TRIAGE, Action.START_VERIFICATION, Action.VERIFY, Action.RESOLVE)


def _pick(tips: list[Tip], index: int, statuses) -> Tip:
    """The chosen tip, or else one in `statuses` (answers go to closed tips, undos to
    rejected ones: a random walk alone seldom gets there)."""
    if tips[index].status in statuses:
        return tips[index]
    return next((t for t in tips if t.status in statuses), tips[index])


def _police(world, tip: Tip):
    """The commune police of the tip's commune: the one who may always act on it."""
    in_a = tip.unit.path.startswith(world.commune_a.path)
    return world.user("police_a" if in_a else "police_b")


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.integers(0, 4),  # which tip
            st.sampled_from(
                [*Action, *ANSWERS * 3, *[CLOSE] * 4, *[UNDO] * 3, *[FALSE_REPORT] * 2]
            ),
            st.sampled_from(ACTORS),
            st.sampled_from(list(Outcome)),
            st.sampled_from(list(RejectReason)),
            st.integers(0, 4),  # merge target / move target
            # Hours after the previous step: often within a day (undo), sometimes weeks.
            st.one_of(st.integers(0, 8), st.integers(0, 400)),
        ),
        max_size=25,
    ),
    where=st.lists(st.integers(0, 4), min_size=5, max_size=5),
)
# Every path of issue 22 at least once, whatever the random examples find: a closing, a
# "not settled" that reopens, a second closing, a refused second reopening, an answer
# after the window; a false report from verifying and its undo; a bulk-like spam
# rejection undone too late.
@example(
    steps=[
        (0, CLOSE, "police_a", Outcome.MEDIATED, RejectReason.SPAM, 0, 1),
        (0, "answer:not_done", "police_a", Outcome.MEDIATED, RejectReason.SPAM, 0, 30),
        (0, CLOSE, "police_a", Outcome.SANCTIONED, RejectReason.SPAM, 0, 50),
        (0, "answer:not_done", "police_a", Outcome.MEDIATED, RejectReason.SPAM, 0, 2),
        (0, "answer:done", "police_a", Outcome.MEDIATED, RejectReason.SPAM, 0, 3),
        (1, Action.TRIAGE, "leader_a1", Outcome.MEDIATED, RejectReason.SPAM, 0, 1),
        (1, Action.START_VERIFICATION, "leader_a1", Outcome.MEDIATED, RejectReason.SPAM, 0, 1),
        (1, FALSE_REPORT, "police_a", Outcome.MEDIATED, RejectReason.SPAM, 0, 1),
        (1, UNDO, "police_a", Outcome.MEDIATED, RejectReason.SPAM, 0, 5),
        (2, Action.REJECT, "police_b", Outcome.MEDIATED, RejectReason.SPAM, 0, 1),
        (2, UNDO, "police_b", Outcome.MEDIATED, RejectReason.SPAM, 0, 30),
        (3, CLOSE, "police_a", Outcome.WARNED, RejectReason.SPAM, 0, 2),
        (3, "answer:done", "police_a", Outcome.MEDIATED, RejectReason.SPAM, 0, 400),
    ],
    where=[0, 1, 2, 3, 4],
)
def test_counters_and_report_sums_equal_a_recount(world, make_tip, steps, where):
    """Random transitions, merges, moves, answers and undos, legal or not."""
    moment = START
    tips = [
        make_tip(getattr(world, UNITS[w]), now=moment + timedelta(hours=3 * i))
        for i, w in enumerate(where)
    ]
    # Moves start after the last submission: no tip is closed before it was sent.
    moment = START + timedelta(hours=3 * (len(tips) - 1))
    closing = {"note": "Đã xác minh và xử lý.", "note_to_tipster": True}
    for index, action, actor, outcome, reason, other, hours in steps:
        moment = moment + timedelta(hours=hours)
        if action in ANSWERS:
            tip = _pick(tips, index, SETTLED_STATUSES)
            try:
                settled.answer(tip, action.removeprefix("answer:"), None, at=moment)
                db.session.commit()
            except TiplineError:
                db.session.rollback()
            continue
        if action == CLOSE:
            for move in CLOSING_MOVES:
                try:
                    workflow.transition(
                        tips[index],
                        move,
                        _police(world, tips[index]),
                        at=moment,
                        outcome=outcome,
                        **closing,
                    )
                    db.session.commit()
                except TiplineError:
                    db.session.rollback()
            continue
        if action == FALSE_REPORT:
            tip = tips[index]
            try:
                workflow.transition(
                    tip,
                    Action.REJECT,
                    _police(world, tip),
                    reason=RejectReason.FALSE_REPORT,
                    at=moment,
                )
                db.session.commit()
            except TiplineError:
                db.session.rollback()
            continue
        if action == UNDO:
            tip = _pick(tips, index, {TipStatus.REJECTED})
            try:
                workflow.transition(tip, Action.UNDO_REJECTION, _police(world, tip), at=moment)
                db.session.commit()
            except TiplineError:
                db.session.rollback()
            continue
        kwargs = {
            Action.RESOLVE: {"outcome": outcome, **closing},
            Action.MARK_UNFOUNDED: closing,
            Action.REJECT: {"reason": reason},
            Action.MARK_DUPLICATE: {"duplicate_of": tips[other]},
            Action.MOVE: {"to_unit": getattr(world, UNITS[other])},
        }.get(action, {})
        try:
            workflow.transition(tips[index], action, world.user(actor), at=moment, **kwargs)
            db.session.commit()
        except TiplineError:
            db.session.rollback()
    db.session.expire_all()
    for tip in tips:
        assert workflow.replay(tip.events) == tip.status
    # Hypothesis runs every example in the same test: earlier examples' tips are there too.
    tips = db.session.scalars(select(Tip)).all()

    assert counts.differences() == {}

    last = local_date(moment)
    periods = [
        Period(date(2025, 12, 31), last, "all"),
        Period(date(2025, 12, 31), date(2025, 12, 31), "day"),
        Period(date(2026, 1, 1), date(2026, 1, 31), "month"),
        Period(date(2026, 1, 1), date(2026, 12, 31), "year"),
    ]
    for period in periods:
        total, per_commune = figures.unit_figures(world.province, period, by=world.a1.level.COMMUNE)
        assert _figures(total) == _recount(tips, world.province, period.start, period.end)
        for commune in (world.commune_a, world.commune_b):
            got = per_commune.get(commune.id, figures.Figures())
            assert _figures(got) == _recount(tips, commune, period.start, period.end)
        for village in (world.a1, world.b1):
            got, _ = figures.unit_figures(village, period)
            assert _figures(got) == _recount(tips, village, period.start, period.end)

    # Days and months add up to the whole.
    whole = periods[0]
    months = figures.monthly(world.province, whole)
    assert (
        sum(f.received for _, f in months)
        == _recount(tips, world.province, whole.start, whole.end)["received"]
    )
    days = figures.daily(world.province, whole)
    assert sum(f.settled for f in days.values()) == sum(f.settled for _, f in months)
    years = figures.yearly(world.province, whole)
    assert sum(f.verified for f in years.values()) == sum(f.verified for _, f in months)
