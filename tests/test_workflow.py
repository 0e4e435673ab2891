"""The workflow table: every transition from every state, for every role, allowed or refused."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tipline.accounts.models import Role
from tipline.core.errors import NotAllowed, StaleObject, TiplineError
from tipline.extensions import db
from tipline.tips import counts, workflow
from tipline.tips.models import (
    EventKind,
    Handler,
    Outcome,
    RejectReason,
    Tip,
    TipEvent,
    TipStatus,
)
from tipline.tips.queries import tip_for
from tipline.tips.workflow import Action, WorkflowError

S = TipStatus
OPEN = {S.RECEIVED, S.TRIAGED, S.VERIFYING, S.VERIFIED}
VILLAGE_SETTLERS = {"leader_a1", "police_a", "committee_a"}

# The specification, written out independently of workflow.RULES:
# action -> (states it may start from, users who may make it on a tip of village A1).
SPEC: dict[Action, tuple[set[TipStatus], set[str]]] = {
    Action.TRIAGE: ({S.RECEIVED}, {"member_a1"} | VILLAGE_SETTLERS),
    Action.START_VERIFICATION: ({S.TRIAGED}, VILLAGE_SETTLERS),
    Action.VERIFY: ({S.VERIFYING}, VILLAGE_SETTLERS),
    Action.RESOLVE: ({S.VERIFIED}, VILLAGE_SETTLERS),
    Action.MARK_UNFOUNDED: ({S.VERIFYING, S.VERIFIED}, VILLAGE_SETTLERS),
    Action.MARK_DUPLICATE: ({S.RECEIVED, S.TRIAGED}, VILLAGE_SETTLERS),
    Action.REJECT: ({S.RECEIVED, S.TRIAGED}, VILLAGE_SETTLERS),
    Action.ESCALATE: (OPEN, VILLAGE_SETTLERS),
    Action.MOVE: (OPEN, VILLAGE_SETTLERS),
    Action.UNDO_REJECTION: ({S.REJECTED}, {"police_a"}),  # within 24 hours
}
# The commune police may also reject a tip being verified, as a false report.
LATE_REJECT = ({S.VERIFYING, S.VERIFIED}, {"police_a"})
# Closing owes the tipster a note.
NOTE = {"note": "Đã xác minh xong.", "note_to_tipster": True}
# Everyone else: another village's leader, the officer (read only), the admin, other commune.
ALL_USERS = ["member_a1", "leader_a1", "leader_a2", "police_a", "committee_a", "officer", "admin"]
ALL_USERS += ["leader_b1", "police_b"]

# How to bring a fresh tip into each state, through the workflow itself (as police).
PATHS: dict[TipStatus, list[tuple[Action, dict]]] = {
    S.RECEIVED: [],
    S.TRIAGED: [(Action.TRIAGE, {})],
    S.VERIFYING: [(Action.TRIAGE, {}), (Action.START_VERIFICATION, {})],
    S.VERIFIED: [(Action.TRIAGE, {}), (Action.START_VERIFICATION, {}), (Action.VERIFY, {})],
    S.RESOLVED: [
        (Action.TRIAGE, {}),
        (Action.START_VERIFICATION, {}),
        (Action.VERIFY, {}),
        (Action.RESOLVE, {"outcome": Outcome.MEDIATED, **NOTE}),
    ],
    S.UNFOUNDED: [
        (Action.TRIAGE, {}),
        (Action.START_VERIFICATION, {}),
        (Action.MARK_UNFOUNDED, NOTE),
    ],
    S.DUPLICATE: [(Action.MARK_DUPLICATE, {"duplicate_of": "original"})],
    S.REJECTED: [(Action.REJECT, {"reason": RejectReason.SPAM})],
}


def bring_to(tip: Tip, status: TipStatus, world, make_tip) -> Tip:
    police = world.user("police_a")
    for action, kwargs in PATHS[status]:
        if kwargs.get("duplicate_of") == "original":
            kwargs = {"duplicate_of": make_tip(world.a1)}
        workflow.transition(tip, action, police, **kwargs)
    db.session.commit()
    assert tip.status == status
    return tip


def arguments(action: Action, world, make_tip) -> dict:
    """Valid extra arguments for each action."""
    return {
        Action.RESOLVE: {"outcome": Outcome.WARNED},
        Action.REJECT: {"reason": RejectReason.ABUSE},
        Action.MARK_DUPLICATE: {"duplicate_of": make_tip(world.a1)},
        Action.MOVE: {"to_unit": world.a2},
    }.get(action, {})


@pytest.mark.parametrize("status", list(TipStatus), ids=lambda s: s.value)
def test_every_action_from_every_state_for_every_role(world, make_tip, status):
    tip = bring_to(make_tip(world.a1), status, world, make_tip)
    for action, (sources, allowed_users) in SPEC.items():
        for name in ALL_USERS:
            user = world.user(name)
            expected = status in sources and name in allowed_users
            if action == Action.REJECT and status in LATE_REJECT[0]:
                expected = name in LATE_REJECT[1]
            try:
                workflow.check(tip, action, user, outcome=Outcome.WARNED)
                allowed = True
            except TiplineError:
                allowed = False
            assert allowed == expected, f"{action.value} from {status.value} by {name}"
            # The page offers exactly the actions the rules allow.
            assert (action in workflow.allowed_actions(tip, user)) == expected


@pytest.mark.parametrize(
    ("action", "user"),
    [(a, u) for a, (_, users) in SPEC.items() for u in sorted(users)],
    ids=lambda v: v.value if isinstance(v, Action) else v,
)
def test_allowed_transition_records_event_and_moves_state(world, make_tip, action, user):
    sources, _ = SPEC[action]
    start = sorted(sources, key=lambda s: list(TipStatus).index(s))[0]
    tip = bring_to(make_tip(world.a1), start, world, make_tip)
    events_before = len(tip.events)
    event = workflow.transition(
        tip,
        action,
        world.user(user),
        note="Ghi chú",
        note_to_tipster=action in workflow.CLOSINGS,
        **arguments(action, world, make_tip),
    )
    db.session.commit()
    db.session.refresh(tip)
    assert len(tip.events) == events_before + 1
    assert event.actor.username == user
    assert event.from_status == start
    assert event.note.body == "Ghi chú"
    assert tip.status == (event.to_status or start)
    assert counts.differences() == {}


@pytest.mark.parametrize("status", list(TipStatus), ids=lambda s: s.value)
def test_refused_transition_changes_nothing(world, make_tip, status):
    tip = bring_to(make_tip(world.a1), status, world, make_tip)
    version, events = tip.version, db.session.scalar(select(func.count(TipEvent.id)))
    # The team member may only triage: every other action is refused, whatever the state.
    with pytest.raises(TiplineError) as refused:
        workflow.transition(tip, Action.VERIFY, world.user("member_a1"))
    assert str(refused.value.message)  # a message a person can read
    db.session.rollback()
    assert tip.version == version
    assert db.session.scalar(select(func.count(TipEvent.id))) == events


def test_illegal_move_explains_state(world, make_tip):
    tip = make_tip(world.a1)
    with pytest.raises(WorkflowError) as error:
        workflow.transition(tip, Action.RESOLVE, world.user("leader_a1"), outcome=Outcome.WARNED)
    assert "Mới tiếp nhận" in str(error.value.message)


def test_leader_cannot_choose_police_outcome(world, make_tip):
    tip = bring_to(make_tip(world.a1), S.VERIFIED, world, make_tip)
    with pytest.raises(NotAllowed):
        workflow.transition(
            tip, Action.RESOLVE, world.user("leader_a1"), outcome=Outcome.SANCTIONED
        )
    db.session.rollback()
    workflow.transition(
        tip, Action.RESOLVE, world.user("police_a"), outcome=Outcome.SANCTIONED, **NOTE
    )
    assert tip.status == S.RESOLVED and tip.outcome == Outcome.SANCTIONED


@pytest.mark.parametrize("outcome", list(Outcome), ids=lambda o: o.value)
def test_outcome_levels(world, make_tip, outcome):
    tip = bring_to(make_tip(world.a1), S.VERIFIED, world, make_tip)
    village_level = outcome in {Outcome.MEDIATED, Outcome.WARNED, Outcome.RECORDED}
    for name in ("leader_a1", "committee_a"):
        assert (outcome in workflow.allowed_outcomes(tip, world.user(name))) == village_level
    assert outcome in workflow.allowed_outcomes(tip, world.user("police_a"))


def test_resolve_without_outcome_and_reject_without_reason_are_refused(world, make_tip):
    tip = bring_to(make_tip(world.a1), S.VERIFIED, world, make_tip)
    with pytest.raises(WorkflowError):
        workflow.transition(tip, Action.RESOLVE, world.user("police_a"))
    db.session.rollback()
    other = make_tip(world.a1)
    with pytest.raises(WorkflowError):
        workflow.transition(other, Action.REJECT, world.user("police_a"))


def test_escalation_hands_the_tip_to_commune_police_only(world, make_tip):
    tip = bring_to(make_tip(world.a1), S.TRIAGED, world, make_tip)
    workflow.transition(tip, Action.ESCALATE, world.user("leader_a1"))
    db.session.commit()
    assert tip.handler == Handler.COMMUNE_POLICE
    assert tip.status == S.TRIAGED  # escalation moves who handles it, not the state
    assert workflow.allowed_actions(tip, world.user("leader_a1")) == []
    assert workflow.allowed_actions(tip, world.user("committee_a")) == []
    assert Action.START_VERIFICATION in workflow.allowed_actions(tip, world.user("police_a"))
    assert Action.ESCALATE not in workflow.allowed_actions(tip, world.user("police_a"))
    assert tip.events[-1].kind == EventKind.ESCALATED
    assert tip.events[-1].public is False


def test_conflict_of_interest_hides_tip_from_village_team(world, make_tip):
    from tipline.tips.queries import tip_for

    tip = make_tip(world.a1)
    workflow.transition(tip, Action.ESCALATE, world.user("leader_a1"), conflict_of_interest=True)
    db.session.commit()
    assert tip.hidden_from_village
    for name in ("leader_a1", "member_a1"):
        assert tip_for(world.user(name), tip.public_id) is None
    assert tip_for(world.user("police_a"), tip.public_id) is not None


def test_duplicate_merges_into_the_root_of_a_chain(world, make_tip):
    police = world.user("police_a")
    first, second, third = make_tip(world.a1), make_tip(world.a1), make_tip(world.a1)
    workflow.transition(second, Action.MARK_DUPLICATE, police, duplicate_of=first)
    workflow.transition(third, Action.MARK_DUPLICATE, police, duplicate_of=second)
    db.session.commit()
    assert third.duplicate_of_id == first.id


def test_tip_cannot_be_merged_into_itself_or_out_of_scope(world, make_tip):
    tip = make_tip(world.a1)
    with pytest.raises(WorkflowError):
        workflow.transition(tip, Action.MARK_DUPLICATE, world.user("leader_a1"), duplicate_of=tip)
    db.session.rollback()
    elsewhere = make_tip(world.b1)
    with pytest.raises(WorkflowError):
        workflow.transition(
            tip, Action.MARK_DUPLICATE, world.user("leader_a1"), duplicate_of=elsewhere
        )


def test_move_within_commune_by_leader_and_across_communes_by_police(world, make_tip):
    tip = make_tip(world.a1)
    workflow.transition(tip, Action.MOVE, world.user("leader_a1"), to_unit=world.a2)
    db.session.commit()
    assert tip.unit_id == world.a2.id and tip.submitted_unit_id == world.a1.id
    with pytest.raises(NotAllowed):
        workflow.transition(tip, Action.MOVE, world.user("leader_a2"), to_unit=world.b1)
    db.session.rollback()
    workflow.transition(tip, Action.MOVE, world.user("police_a"), to_unit=world.commune_b)
    db.session.commit()
    assert tip.unit_id == world.commune_b.id
    assert counts.differences() == {}


def test_move_target_must_be_one_the_form_offers(world, make_tip):
    """Another commune's police choose its village: a village of another commune is refused."""
    tip = make_tip(world.a1)
    police = world.user("police_a")
    offered = {unit.code for unit in workflow.move_targets(tip, police)}
    assert offered == {"A", "A2", "B"}
    with pytest.raises(WorkflowError, match="Không chuyển được"):
        workflow.transition(tip, Action.MOVE, police, to_unit=world.b1)
    db.session.rollback()
    assert db.session.get(Tip, tip.id).unit_id == world.a1.id


def test_hiding_for_a_conflict_of_interest_survives_moves(world, make_tip):
    """Moved to another commune and back, a hidden tip stays hidden from the village team."""
    tip = make_tip(world.a1)
    police_a, leader = world.user("police_a"), world.user("leader_a1")
    workflow.transition(tip, Action.ESCALATE, police_a, conflict_of_interest=True)
    workflow.transition(tip, Action.MOVE, police_a, to_unit=world.commune_b)
    db.session.commit()
    assert tip.hidden_from_village and tip.handler == Handler.COMMUNE_POLICE
    workflow.transition(tip, Action.MOVE, world.user("police_b"), to_unit=world.commune_a)
    workflow.transition(tip, Action.MOVE, police_a, to_unit=world.a1)
    db.session.commit()
    assert tip.hidden_from_village
    assert tip_for(leader, tip.public_id) is None
    assert workflow.allowed_actions(tip, leader) == []
    assert counts.differences() == {}


def test_stale_version_is_refused_with_a_clear_message(world, make_tip):
    tip = make_tip(world.a1)
    with pytest.raises(StaleObject) as stale:
        workflow.transition(tip, Action.TRIAGE, world.user("leader_a1"), expected_version=0)
    assert "thay đổi" in str(stale.value.message)


@pytest.mark.commits  # two sessions on their own connections
def test_concurrent_transitions_on_one_tip_one_wins(app, world, make_tip):
    """Two staff load the same tip and act at once: the second is told the tip changed."""
    tip_id = make_tip(world.a1).id
    leader_id, police_id = world.users["leader_a1"].id, world.users["police_a"].id
    db.session.remove()
    from tipline.accounts.models import User

    first, second = Session(db.engine), Session(db.engine)
    try:
        tip_one, tip_two = first.get(Tip, tip_id), second.get(Tip, tip_id)
        leader, police = first.get(User, leader_id), second.get(User, police_id)
        # Both pass the rule check against the same loaded state.
        workflow.check(tip_one, Action.TRIAGE, leader)
        workflow.check(tip_two, Action.REJECT, police)
        with _session_as_db(first):
            workflow.transition(tip_one, Action.TRIAGE, leader)
        first.commit()
        with _session_as_db(second), pytest.raises(StaleObject):
            workflow.transition(tip_two, Action.REJECT, police, reason=RejectReason.SPAM)
        second.rollback()
    finally:
        first.close()
        second.close()
    final = db.session.get(Tip, tip_id)
    assert final.status == S.TRIAGED
    kinds = [e.kind for e in final.events]
    assert kinds == [EventKind.SUBMITTED, EventKind.TRIAGED]
    assert counts.differences() == {}


class _session_as_db:
    """Point `db.session` at a given plain Session for the workflow's writes."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def __enter__(self):
        self._saved = db.session
        db.session = self.session
        return self.session

    def __exit__(self, *exc):
        db.session = self._saved
        return False


def test_replay_of_events_gives_the_status(world, make_tip):
    tip = bring_to(make_tip(world.a1), S.RESOLVED, world, make_tip)
    assert workflow.replay(tip.events) == tip.status


def test_every_role_label_is_vietnamese():
    assert Role.VILLAGE_LEADER.label == "Tổ trưởng tổ bảo vệ ANTT"
    assert S.TRIAGED.label == "Đã tiếp nhận, đang xử lý"


# --- triage moves: assignment, priority, automatic escalation -------------------------------


@pytest.mark.parametrize("name", ALL_USERS)
def test_who_may_assign_a_tip_of_village_a1(world, make_tip, name):
    tip = make_tip(world.a1)
    member = world.user("member_a1")
    allowed = name in VILLAGE_SETTLERS
    try:
        workflow.assign(tip, world.user(name), member)
    except NotAllowed:
        assert not allowed
    else:
        assert allowed and tip.assignee_id == member.id


@pytest.mark.parametrize("name", ALL_USERS)
def test_who_may_change_the_priority_of_a_tip_of_village_a1(world, make_tip, name):
    from tipline.tips.models import Priority

    tip = make_tip(world.a1)
    allowed = name in VILLAGE_SETTLERS | {"member_a1"}
    try:
        workflow.set_priority(tip, world.user(name), Priority.URGENT)
    except NotAllowed:
        assert not allowed
    else:
        assert allowed and tip.priority == Priority.URGENT


def test_closed_tips_are_neither_assigned_nor_reprioritised(world, make_tip):
    from tipline.tips.models import Priority

    tip = make_tip(world.a1)
    police = world.user("police_a")
    workflow.transition(tip, Action.REJECT, police, reason=RejectReason.SPAM)
    with pytest.raises(WorkflowError):
        workflow.assign(tip, police, police)
    with pytest.raises(WorkflowError):
        workflow.set_priority(tip, police, Priority.LOW)


def test_automatic_escalation_writes_a_system_event_once(world, make_tip):
    tip = make_tip(world.a1)
    workflow.escalate_unattended(tip, hours=48)
    assert tip.handler == Handler.COMMUNE_POLICE
    event = tip.events[-1]
    assert event.kind == EventKind.ESCALATED and event.actor_id is None
    assert event.note.body.startswith("Tự động chuyển Công an xã")
    with pytest.raises(WorkflowError):
        workflow.escalate_unattended(tip, hours=48)
    assert counts.differences() == {}


def test_search_text_is_made_at_intake(world, make_tip):
    """Intake folds the description and place once (nothing edits them afterwards)."""
    tip = make_tip(world.a1, description="Trộm cắp ở chợ", place="Chợ Đông")
    assert db.session.get(Tip, tip.id).search_text == "trom cap o cho cho dong"
