"""Closing says why, "was it settled?", reopening once, false reports and undone rejections
(issue 22): the workflow's rules, and the counters against a recount on every path."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from tipline.core.errors import NotAllowed
from tipline.core.timeutil import local_date
from tipline.extensions import db
from tipline.reports import figures
from tipline.reports.periods import Period
from tipline.tips import counts, settled, triage, workflow
from tipline.tips.models import (
    EventKind,
    Handler,
    Outcome,
    RejectReason,
    TipEvent,
    TipStatus,
    TipsterAnswer,
)
from tipline.tips.services import public_timeline
from tipline.tips.workflow import Action, WorkflowError

NOTE = {"note": "Đã xác minh, hai bên đã hòa giải tại nhà văn hóa.", "note_to_tipster": True}
T0 = datetime(2026, 11, 2, 2, 0)  # 09:00 on 2 Nov 2026 in Hà Nội


def at(days: float, hours: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours)


def verified(world, make_tip, unit=None, *, day: float = 0, **kwargs):
    """A tip of village A1 (or `unit`) taken to verified by its leader (or the police)."""
    tip = make_tip(unit or world.a1, now=at(day), **kwargs)
    actor = world.user("leader_a1" if tip.unit_id == world.a1.id else "police_a")
    workflow.transition(tip, Action.TRIAGE, actor, at=at(day, 1))
    workflow.transition(tip, Action.START_VERIFICATION, actor, at=at(day, 2))
    workflow.transition(tip, Action.VERIFY, actor, at=at(day, 3))
    db.session.commit()
    return tip


def resolve(tip, actor, when, outcome=Outcome.MEDIATED):
    workflow.transition(tip, Action.RESOLVE, actor, outcome=outcome, at=when, **NOTE)
    db.session.commit()


def figures_on(unit, start: date, end: date):
    return figures.unit_figures(unit, Period(start, end, "x"))[0]


def recount_is_clean():
    assert counts.differences() == {}


# --- 1. closing says why ---------------------------------------------------------------


@pytest.mark.parametrize("action", [Action.RESOLVE, Action.MARK_UNFOUNDED])
def test_closing_needs_a_note_written_for_the_tipster(world, make_tip, action):
    tip = verified(world, make_tip)
    leader = world.user("leader_a1")
    extra = {"outcome": Outcome.MEDIATED} if action == Action.RESOLVE else {}
    for note in ({}, {"note": "   ", "note_to_tipster": True}, {"note": "Nội bộ"}):
        with pytest.raises(WorkflowError, match="người báo tin"):
            workflow.transition(tip, action, leader, at=at(1), **extra, **note)
        db.session.rollback()
    assert tip.status == TipStatus.VERIFIED
    workflow.transition(tip, action, leader, at=at(1), **extra, **NOTE)
    db.session.commit()
    assert tip.status != TipStatus.VERIFIED
    assert public_timeline(tip)[-1].note == NOTE["note"]


# --- 2 and 3. the answer, and a reopening ------------------------------------------------


def test_closing_queues_the_residents_content_free_alert_that_asks(world, make_tip):
    from tipline.alerts.channels.base import STATUS_CHANGE
    from tipline.alerts.models import Notification

    tip = verified(world, make_tip)
    for earlier in db.session.scalars(select(Notification).where(Notification.tip_id == tip.id)):
        earlier.fanned_out_at = at(0, 4)  # the worker took the earlier news
    db.session.commit()
    resolve(tip, world.user("leader_a1"), at(1))
    waiting = db.session.scalars(
        select(Notification).where(
            Notification.tip_id == tip.id,
            Notification.user_id.is_(None),
            Notification.fanned_out_at.is_(None),
        )
    ).all()
    assert [n.kind for n in waiting] == [STATUS_CHANGE]


def test_done_is_recorded_and_may_be_changed_inside_the_window(world, make_tip):
    tip = verified(world, make_tip)
    resolve(tip, world.user("leader_a1"), at(1))
    assert settled.question(tip, at(2)).asked
    settled.answer(tip, "done", "Cảm ơn các anh", at=at(2))
    db.session.commit()
    assert (tip.tipster_answer, tip.status) == (TipsterAnswer.DONE, TipStatus.RESOLVED)
    settled.answer(tip, "unknown", None, at=at(3))
    db.session.commit()
    assert tip.tipster_answer == TipsterAnswer.UNKNOWN
    events = [e for e in tip.events if e.kind == EventKind.TIPSTER_ANSWER]
    assert [e.answer for e in events] == [TipsterAnswer.DONE, TipsterAnswer.UNKNOWN]
    assert events[0].note.body == "Cảm ơn các anh" and not events[0].public
    recount_is_clean()


def test_not_settled_reopens_with_the_commune_police_and_counters_follow(world, make_tip):
    # Submitted 2 Nov, verified 2 Nov, closed 4 Nov, reopened 7 Nov, closed again 10 Nov.
    tip = verified(world, make_tip)
    leader, police = world.user("leader_a1"), world.user("police_a")
    resolve(tip, leader, at(2))
    settled.answer(tip, "not_done", "Vẫn còn tụ tập", at=at(5))
    db.session.commit()
    assert tip.status == TipStatus.VERIFYING
    assert tip.handler == Handler.COMMUNE_POLICE and tip.outcome is None
    reopened = [e for e in tip.events if e.kind == EventKind.REOPENED]
    assert len(reopened) == 1 and reopened[0].public
    assert public_timeline(tip)[-1].status == TipStatus.VERIFYING
    # The village leader no longer acts; the commune police do, and were alerted.
    assert workflow.allowed_actions(tip, leader) == []
    assert Action.VERIFY in workflow.allowed_actions(tip, police)
    from tipline.alerts import delivery
    from tipline.alerts.models import Notification

    delivery.fan_out(100)
    alerted = db.session.scalars(select(Notification).where(Notification.tip_id == tip.id)).all()
    assert any(n.kind == "escalated" and n.user_id == police.id for n in alerted)
    recount_is_clean()

    nov = (date(2026, 11, 1), date(2026, 11, 30))
    month = figures_on(world.commune_a, *nov)
    assert (month.received, month.verified, month.settled) == (1, 1, 0)
    # Not in progress between the earlier closing and the reopening; in progress after.
    assert figures_on(world.commune_a, date(2026, 11, 1), date(2026, 11, 5)).in_progress == 0
    assert figures_on(world.commune_a, date(2026, 11, 1), date(2026, 11, 7)).in_progress == 1

    workflow.transition(tip, Action.VERIFY, police, at=at(7))
    workflow.transition(tip, Action.RESOLVE, police, outcome=Outcome.SANCTIONED, at=at(8), **NOTE)
    db.session.commit()
    recount_is_clean()
    month = figures_on(world.commune_a, *nov)
    assert (month.received, month.verified, month.settled) == (1, 1, 1)
    assert +month.outcomes == {"sanctioned": 1}
    assert month.in_progress == 0
    # Settled on its new closing date only.
    days = figures.daily(world.commune_a, Period(*nov, "x"))
    assert [d for d, f in days.items() if f.settled] == [local_date(at(8))]
    assert tip.verified_at == at(0, 3)  # stays verified from the first time


def test_second_reopening_is_refused_and_changes_nothing(world, make_tip):
    tip = verified(world, make_tip)
    police = world.user("police_a")
    resolve(tip, world.user("leader_a1"), at(1))
    settled.answer(tip, "not_done", None, at=at(2))
    db.session.commit()
    workflow.transition(tip, Action.MARK_UNFOUNDED, police, at=at(3), **NOTE)
    db.session.commit()
    assert settled.question(tip, at(4)).asked and not settled.question(tip, at(4)).may_reopen
    version, events = tip.version, len(tip.events)
    with pytest.raises(settled.AnswerRefused, match="mở lại một lần"):
        settled.answer(tip, "not_done", None, at=at(4))
    db.session.rollback()
    db.session.expire_all()
    assert (tip.status, tip.version, len(tip.events)) == (TipStatus.UNFOUNDED, version, events)
    # Other answers are still taken: the earlier "not settled" may become "done".
    settled.answer(tip, "done", None, at=at(5))
    db.session.commit()
    assert tip.tipster_answer == TipsterAnswer.DONE
    recount_is_clean()


def test_answer_after_the_window_is_refused(app, world, make_tip):
    tip = verified(world, make_tip)
    resolve(tip, world.user("leader_a1"), at(1))
    days = app.config["TIPLINE_TIPSTER_REPLY_DAYS"]
    assert not settled.question(tip, at(1 + days)).asked
    with pytest.raises(settled.AnswerRefused, match="Đã quá"):
        settled.answer(tip, "not_done", None, at=at(1 + days))
    db.session.rollback()
    assert tip.status == TipStatus.RESOLVED and tip.tipster_answer is None


def test_answer_to_a_tip_never_closed_is_refused(world, make_tip):
    tip = make_tip(world.a1, now=at(0))
    rejected = make_tip(world.a1, now=at(0))
    workflow.transition(rejected, Action.REJECT, world.user("leader_a1"), reason=RejectReason.SPAM)
    db.session.commit()
    for candidate in (tip, rejected):
        assert not settled.question(candidate, at(1)).asked
        with pytest.raises(settled.AnswerRefused, match="chưa được đóng"):
            settled.answer(candidate, "done", None, at=at(1))
        db.session.rollback()
        assert candidate.tipster_answer is None


def test_answer_must_be_one_of_the_choices_and_the_line_short(world, make_tip):
    tip = verified(world, make_tip)
    resolve(tip, world.user("leader_a1"), at(1))
    with pytest.raises(settled.BadAnswer):
        settled.answer(tip, "maybe", None, at=at(2))
    with pytest.raises(settled.BadAnswer):
        settled.answer(tip, "done", "x" * 301, at=at(2))
    assert tip.tipster_answer is None


# --- 5. false reports ----------------------------------------------------------------------


def test_false_report_is_the_commune_polices_from_any_open_state(world, make_tip):
    tip = verified(world, make_tip)
    leader, police = world.user("leader_a1"), world.user("police_a")
    assert Action.REJECT not in workflow.allowed_actions(tip, leader)
    with pytest.raises(WorkflowError):
        workflow.transition(tip, Action.REJECT, leader, reason=RejectReason.SPAM)
    with pytest.raises(NotAllowed):
        workflow.transition(tip, Action.REJECT, leader, reason=RejectReason.FALSE_REPORT)
    with pytest.raises(WorkflowError, match="sai sự thật"):
        workflow.transition(tip, Action.REJECT, police, reason=RejectReason.SPAM)
    db.session.rollback()
    assert workflow.reject_reasons(tip, police) == [RejectReason.FALSE_REPORT]
    assert workflow.reject_reasons(tip, leader) == []
    fresh = make_tip(world.a1, now=at(0))
    assert RejectReason.FALSE_REPORT not in workflow.reject_reasons(fresh, leader)
    assert RejectReason.FALSE_REPORT in workflow.reject_reasons(fresh, police)

    workflow.transition(tip, Action.REJECT, police, reason=RejectReason.FALSE_REPORT, at=at(1))
    db.session.commit()
    assert (tip.status, tip.reject_reason) == (TipStatus.REJECTED, RejectReason.FALSE_REPORT)
    month = figures_on(world.commune_a, date(2026, 11, 1), date(2026, 11, 30))
    assert (month.received, month.verified) == (1, 0)  # the fresh tip only
    recount_is_clean()


# --- 6. undo -------------------------------------------------------------------------------


def test_police_undo_a_rejection_within_24_hours_back_to_the_earlier_state(
    world, make_tip, time_machine
):
    tip = verified(world, make_tip)
    police = world.user("police_a")
    workflow.transition(tip, Action.REJECT, police, reason=RejectReason.FALSE_REPORT, at=at(1))
    db.session.commit()
    time_machine.move_to(at(1, 1), tick=False)
    assert Action.UNDO_REJECTION in workflow.allowed_actions(tip, police)
    # The village leader may not, even inside the window.
    with pytest.raises(NotAllowed):
        workflow.transition(tip, Action.UNDO_REJECTION, world.user("leader_a1"), at=at(1, 2))
    db.session.rollback()
    workflow.transition(tip, Action.UNDO_REJECTION, police, at=at(1, 23.5))
    db.session.commit()
    assert (tip.status, tip.reject_reason, tip.closed_at) == (TipStatus.VERIFIED, None, None)
    kinds = [e.kind for e in tip.events][-2:]
    assert kinds == [EventKind.REJECTED, EventKind.REJECTION_UNDONE]
    assert tip.events[-1].to_status == TipStatus.VERIFIED and tip.events[-1].public
    month = figures_on(world.commune_a, date(2026, 11, 1), date(2026, 11, 30))
    assert (month.received, month.verified, month.in_progress) == (1, 1, 1)
    recount_is_clean()


def test_undo_after_24_hours_is_refused_and_changes_nothing(world, make_tip):
    tip = make_tip(world.a1, now=at(0))
    police = world.user("police_a")
    workflow.transition(tip, Action.REJECT, police, reason=RejectReason.ABUSE, at=at(1))
    db.session.commit()
    assert Action.UNDO_REJECTION not in workflow.allowed_actions(tip, police)  # now is later
    with pytest.raises(WorkflowError, match="24 giờ"):
        workflow.transition(tip, Action.UNDO_REJECTION, police, at=at(2, 0.01))
    db.session.rollback()
    assert tip.status == TipStatus.REJECTED and len(tip.events) == 2
    recount_is_clean()


def test_a_bulk_spam_rejection_can_be_undone_tip_by_tip(world, make_tip):
    tips = [make_tip(world.a1, now=at(0)) for _ in range(3)]
    workflow.transition(tips[0], Action.TRIAGE, world.user("leader_a1"), at=at(0, 1))
    police = world.user("police_a")
    result = triage.bulk_apply(police, [t.public_id for t in tips], "spam")
    db.session.commit()
    assert len(result.done) == 3
    for tip in tips:
        workflow.transition(tip, Action.UNDO_REJECTION, police)
    db.session.commit()
    assert [t.status for t in tips] == [TipStatus.TRIAGED, TipStatus.RECEIVED, TipStatus.RECEIVED]
    recount_is_clean()


def test_events_replay_to_the_status_on_every_path(world, make_tip):
    tip = verified(world, make_tip)
    police = world.user("police_a")
    resolve(tip, world.user("leader_a1"), at(1))
    settled.answer(tip, "not_done", None, at=at(2))
    workflow.transition(tip, Action.REJECT, police, reason=RejectReason.FALSE_REPORT, at=at(3))
    workflow.transition(tip, Action.UNDO_REJECTION, police, at=at(3, 1))
    db.session.commit()
    db.session.expire_all()
    assert workflow.replay(tip.events) == tip.status == TipStatus.VERIFYING
    events = db.session.scalars(select(TipEvent).where(TipEvent.tip_id == tip.id)).all()
    assert [e.kind for e in events][-4:] == [
        EventKind.TIPSTER_ANSWER,
        EventKind.REOPENED,
        EventKind.REJECTED,
        EventKind.REJECTION_UNDONE,
    ]
    recount_is_clean()
