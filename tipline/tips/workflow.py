"""The state machine of a tip: the only place a status changes.

`transition(tip, action, actor, ...)` checks the rule, writes the event, moves the
counters and flushes, all in the caller's transaction. The rules name the roles
that may make each move; `allowed_actions` tells a page which buttons to show.

One module on purpose (over 600 lines): it is the only place where a tip's state or
handling changes (moves, assignments, messages, a revealed identity), so that every
change writes its event and its counters the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError

from tipline.accounts.models import Role, User
from tipline.accounts.permissions import (
    SETTLERS,
    TRIAGERS,
    acting_roles,
    can_assign,
    can_be_assigned,
    can_message,
    can_move_across_communes,
    can_note,
    can_set_priority,
    reading_roles,
)
from tipline.alerts import outbox
from tipline.alerts.channels.base import (
    ESCALATED,
    NEW_TIP,
    STAFF_REPLY,
    STATUS_CHANGE,
    TIPSTER_REPLY,
    URGENT_TIP,
)
from tipline.core.enums import LabelledEnum
from tipline.core.errors import NotAllowed, StaleObject, TiplineError
from tipline.core.text import clean_text
from tipline.core.timeutil import to_minute, utcnow
from tipline.extensions import db
from tipline.places.models import Unit, UnitLevel
from tipline.places.services import communes_of, root_unit, villages_of
from tipline.tips import counts
from tipline.tips.models import (
    OPEN_STATUSES,
    SETTLED_STATUSES,
    STAFF_MESSAGE_KINDS,
    TIPSTER_MESSAGE_KINDS,
    VILLAGE_OUTCOMES,
    EventKind,
    Handler,
    IdentityTier,
    MessageKind,
    Note,
    NoteVisibility,
    Outcome,
    Priority,
    RejectReason,
    Tip,
    TipEvent,
    TipMessage,
    TipStatus,
    TipsterAnswer,
    TipsterContact,
)


class Action(LabelledEnum):
    TRIAGE = "triage"
    START_VERIFICATION = "start_verification"
    VERIFY = "verify"
    RESOLVE = "resolve"
    MARK_UNFOUNDED = "mark_unfounded"
    MARK_DUPLICATE = "mark_duplicate"
    REJECT = "reject"
    ESCALATE = "escalate"
    MOVE = "move"
    UNDO_REJECTION = "undo_rejection"

    @classmethod
    def _labels(cls) -> dict:
        return {
            cls.TRIAGE: _l("Tiếp nhận"),
            cls.START_VERIFICATION: _l("Bắt đầu xác minh"),
            cls.VERIFY: _l("Xác nhận đã xác minh"),
            cls.RESOLVE: _l("Giải quyết xong"),
            cls.MARK_UNFOUNDED: _l("Không có cơ sở"),
            cls.MARK_DUPLICATE: _l("Gộp vào tin trùng"),
            cls.REJECT: _l("Không xử lý"),
            cls.ESCALATE: _l("Chuyển Công an xã"),
            cls.MOVE: _l("Chuyển địa bàn"),
            cls.UNDO_REJECTION: _l("Hủy quyết định không xử lý"),
        }


class WorkflowError(TiplineError):
    """A move the rules do not allow, with a message for the person who tried it."""

    status_code = 409


MAX_MESSAGE_LENGTH = 2000
NOT_ASSIGNABLE = _l("Không giao được tin báo cho người này.")


@dataclass(frozen=True)
class Rule:
    sources: frozenset[TipStatus]
    target: TipStatus | None  # None: the status stays (escalation, move)
    roles: frozenset[Role]
    event: EventKind


# A tip held as possible spam (issue 21, tips/held.py) takes these moves only until a
# staff member releases it: triaging or escalating an unjudged tip would hide real work
# among a flood's spam.
HELD_MOVES = frozenset({Action.REJECT, Action.UNDO_REJECTION})
HELD_FIRST = _l(
    "Tin này đang bị giữ lại (có thể là tin rác). Hãy bấm “Không phải tin rác” "
    "trước khi xử lý, hoặc loại tin này."
)

RULES: dict[Action, Rule] = {
    Action.TRIAGE: Rule(
        frozenset({TipStatus.RECEIVED}), TipStatus.TRIAGED, TRIAGERS, EventKind.TRIAGED
    ),
    Action.START_VERIFICATION: Rule(
        frozenset({TipStatus.TRIAGED}), TipStatus.VERIFYING, SETTLERS, EventKind.VERIFYING
    ),
    Action.VERIFY: Rule(
        frozenset({TipStatus.VERIFYING}), TipStatus.VERIFIED, SETTLERS, EventKind.VERIFIED
    ),
    Action.RESOLVE: Rule(
        frozenset({TipStatus.VERIFIED}), TipStatus.RESOLVED, SETTLERS, EventKind.RESOLVED
    ),
    Action.MARK_UNFOUNDED: Rule(
        frozenset({TipStatus.VERIFYING, TipStatus.VERIFIED}),
        TipStatus.UNFOUNDED,
        SETTLERS,
        EventKind.UNFOUNDED,
    ),
    Action.MARK_DUPLICATE: Rule(
        frozenset({TipStatus.RECEIVED, TipStatus.TRIAGED}),
        TipStatus.DUPLICATE,
        SETTLERS,
        EventKind.DUPLICATE,
    ),
    # From verifying or verified only as a false report, by the commune police (check).
    Action.REJECT: Rule(OPEN_STATUSES, TipStatus.REJECTED, SETTLERS, EventKind.REJECTED),
    Action.ESCALATE: Rule(OPEN_STATUSES, None, SETTLERS, EventKind.ESCALATED),
    Action.MOVE: Rule(OPEN_STATUSES, None, SETTLERS, EventKind.MOVED),
    # Back to the state before the rejection (None here: `rejected_from` says which).
    Action.UNDO_REJECTION: Rule(
        frozenset({TipStatus.REJECTED}),
        None,
        frozenset({Role.COMMUNE_POLICE}),
        EventKind.REJECTION_UNDONE,
    ),
}

# Where any settler may reject a tip; later, only the commune police, as a false report.
EARLY_STATUSES = frozenset({TipStatus.RECEIVED, TipStatus.TRIAGED})
# Closing moves that owe the tipster a note.
CLOSINGS = frozenset({Action.RESOLVE, Action.MARK_UNFOUNDED})
UNDO_HOURS = 24

# Events the tipster's timeline shows (states and dates only).
PUBLIC_EVENTS = frozenset(
    {
        EventKind.SUBMITTED,
        EventKind.TRIAGED,
        EventKind.VERIFYING,
        EventKind.VERIFIED,
        EventKind.RESOLVED,
        EventKind.UNFOUNDED,
        EventKind.DUPLICATE,
        EventKind.REJECTED,
        EventKind.REOPENED,
        EventKind.REJECTION_UNDONE,
    }
)


def check(
    tip: Tip,
    action: Action,
    actor: User,
    *,
    outcome: Outcome | None = None,
    reason: RejectReason | None = None,
    at: datetime | None = None,
) -> Rule:
    """Return the rule for `action`, or raise WorkflowError/NotAllowed saying why not."""
    rule = RULES[action]
    roles = acting_roles(tip, actor) & rule.roles
    if not roles:
        raise NotAllowed(_l("Bạn không có quyền thực hiện thao tác này với tin báo này."))
    check_held(tip, action)
    if tip.status not in rule.sources:
        raise WorkflowError(
            _l(
                "Không thể “%(action)s” khi tin đang ở trạng thái “%(status)s”.",
                action=action.label,
                status=tip.status.label,
            )
        )
    if action == Action.REJECT:
        _check_rejection(tip, roles, reason, action)
    if action == Action.UNDO_REJECTION:
        rejected_from(tip, at or utcnow())
    if action == Action.ESCALATE and tip.handler == Handler.COMMUNE_POLICE:
        raise WorkflowError(_l("Tin này đã do Công an xã xử lý."))
    if action == Action.RESOLVE:
        if outcome is None:
            raise WorkflowError(_l("Hãy chọn kết quả giải quyết."))
        if outcome not in VILLAGE_OUTCOMES and Role.COMMUNE_POLICE not in roles:
            raise NotAllowed(
                _l("Kết quả “%(outcome)s” thuộc thẩm quyền Công an xã.", outcome=outcome.label)
            )
    return rule


def _check_rejection(tip: Tip, roles: set[Role], reason: RejectReason | None, action) -> None:
    police = Role.COMMUNE_POLICE in roles
    if reason == RejectReason.FALSE_REPORT and not police:
        raise NotAllowed(_l("Chỉ Công an xã được kết luận tin báo sai sự thật."))
    if tip.status in EARLY_STATUSES:
        return
    if not police:
        raise WorkflowError(
            _l(
                "Không thể “%(action)s” khi tin đang ở trạng thái “%(status)s”.",
                action=action.label,
                status=tip.status.label,
            )
        )
    if reason is not None and reason != RejectReason.FALSE_REPORT:
        raise WorkflowError(
            _l("Tin đang xác minh chỉ có thể không xử lý với lý do “Tin báo sai sự thật”.")
        )


def reject_reasons(tip: Tip, actor: User) -> list[RejectReason]:
    """The reasons `actor` may give to reject `tip` now (the form offers only these)."""
    police = Role.COMMUNE_POLICE in acting_roles(tip, actor)
    if tip.status not in EARLY_STATUSES:
        return [RejectReason.FALSE_REPORT] if police else []
    return [r for r in RejectReason if police or r != RejectReason.FALSE_REPORT]


def rejected_from(tip: Tip, at: datetime) -> TipStatus:
    """The state a rejected tip was in before, if its rejection may still be undone at `at`."""
    event = db.session.scalar(
        select(TipEvent)
        .where(TipEvent.tip_id == tip.id, TipEvent.kind == EventKind.REJECTED)
        .order_by(TipEvent.at.desc(), TipEvent.id.desc())
        .limit(1)
    )
    if event is None or event.from_status not in OPEN_STATUSES:
        raise WorkflowError(_l("Không tìm thấy quyết định không xử lý để hủy."))
    if at - event.at > timedelta(hours=UNDO_HOURS):
        raise WorkflowError(
            _l(
                "Chỉ hủy được quyết định không xử lý trong %(n)d giờ sau khi ra quyết định.",
                n=UNDO_HOURS,
            )
        )
    return event.from_status


def check_held(tip: Tip, action: Action) -> None:
    """Refuse a move on a held tip other than a rejection or its undoing (HELD_MOVES)."""
    if tip.held and action not in HELD_MOVES:
        raise WorkflowError(HELD_FIRST)


def check_version(tip: Tip, expected_version: int | None) -> None:
    """StaleObject when the page that asked for a change showed an older version of the tip."""
    if expected_version is not None and tip.version != expected_version:
        raise StaleObject(_CHANGED)


def allowed_actions(tip: Tip, actor: User) -> list[Action]:
    allowed = []
    for action in Action:
        try:
            check(tip, action, actor, outcome=Outcome.RECORDED)
        except TiplineError:
            continue
        allowed.append(action)
    return allowed


def allowed_outcomes(tip: Tip, actor: User) -> list[Outcome]:
    if Role.COMMUNE_POLICE in acting_roles(tip, actor):
        return list(Outcome)
    return [o for o in Outcome if o in VILLAGE_OUTCOMES]


def transition(
    tip: Tip,
    action: Action,
    actor: User,
    *,
    note: str | None = None,
    note_to_tipster: bool = False,
    outcome: Outcome | None = None,
    reason: RejectReason | None = None,
    duplicate_of: Tip | None = None,
    to_unit: Unit | None = None,
    conflict_of_interest: bool = False,
    expected_version: int | None = None,
    at: datetime | None = None,
) -> TipEvent:
    """Make one move in the tip's life: check it, record it, count it, flush."""
    check_version(tip, expected_version)
    at = at or utcnow()
    rule = check(tip, action, actor, outcome=outcome, reason=reason, at=at)
    to_status = rule.target
    if action == Action.UNDO_REJECTION:
        to_status = rejected_from(tip, at)
    if action in CLOSINGS and not (note and note.strip() and note_to_tipster):
        raise WorkflowError(
            _l("Khi đóng tin, hãy viết vài dòng cho người báo tin: đã làm gì, kết quả ra sao.")
        )
    before = counts.contributions(tip)
    event = TipEvent(
        tip=tip,
        kind=rule.event,
        at=at,
        actor=actor,
        from_status=tip.status,
        to_status=to_status or tip.status,
        public=rule.event in PUBLIC_EVENTS,
    )

    if action == Action.RESOLVE:
        tip.outcome = event.outcome = outcome
    elif action == Action.REJECT:
        if reason is None:
            raise WorkflowError(_l("Hãy chọn lý do không xử lý."))
        tip.reject_reason = event.reject_reason = reason
    elif action == Action.MARK_DUPLICATE:
        target = _merge_target(tip, duplicate_of, actor)
        tip.duplicate_of = target
        event.related_tip = target
    elif action == Action.ESCALATE:
        tip.handler = Handler.COMMUNE_POLICE
        if conflict_of_interest:
            tip.hidden_from_village = True
    elif action == Action.MOVE:
        _move(tip, to_unit, actor, event)
    elif action == Action.UNDO_REJECTION:
        tip.reject_reason = None
        tip.closed_at = None

    if to_status is not None:
        tip.status = to_status
        if to_status == TipStatus.VERIFIED and tip.verified_at is None:
            tip.verified_at = at
        if to_status not in OPEN_STATUSES:
            tip.closed_at = at
    if tip.first_response_at is None:
        tip.first_response_at = at
    if note and note.strip():
        event.note = _note(tip, note, note_to_tipster, at)
    db.session.add(event)
    _alert_on_move(tip, action, event)
    # A closing's STATUS_CHANGE alert (above) is also the resident's "was it settled?":
    # content-free, it brings them to the status page, where the question is (tips.settled).
    counts.apply_difference(before, counts.contributions(tip))
    _flush()
    return event


def record_tipster_answer(
    tip: Tip, answer: TipsterAnswer, line: str | None, *, at: datetime
) -> TipEvent:
    """The tipster answers "was it settled?" (tips.settled checks the window first).

    "Not settled" reopens the tip, once: back to verifying, with the commune police, a
    public event and an alert to them. Its earlier closing no longer counts (counts).
    """
    if answer == TipsterAnswer.NOT_DONE and tip.reopened_at is not None:
        raise WorkflowError(REOPENED_ONCE)
    if tip.status not in SETTLED_STATUSES:
        raise WorkflowError(NOT_CLOSED)
    minute = to_minute(at)
    before = counts.contributions(tip)
    event = TipEvent(
        tip=tip,
        kind=EventKind.TIPSTER_ANSWER,
        at=minute,
        from_status=tip.status,
        to_status=tip.status,
        answer=answer,
        public=False,
    )
    if line:
        event.note = _note(tip, line, False, minute)
    db.session.add(event)
    tip.tipster_answer = answer
    tip.tipster_answer_at = minute
    tip.activity_at = _minute_up(at)
    if answer == TipsterAnswer.NOT_DONE:
        _reopen(tip, minute)
    counts.apply_difference(before, counts.contributions(tip))
    _flush()
    return event


def _reopen(tip: Tip, at: datetime) -> None:
    event = TipEvent(
        tip=tip,
        kind=EventKind.REOPENED,
        at=at,
        from_status=tip.status,
        to_status=TipStatus.VERIFYING,
        public=True,
    )
    text = _l("Bạn cho biết việc chưa được giải quyết: tin được mở lại, Công an xã xác minh lại.")
    event.note = _note(tip, str(text), True, at)
    db.session.add(event)
    tip.earlier_closed_at = tip.closed_at
    tip.reopened_at = at
    tip.closed_at = None
    tip.outcome = None
    tip.status = TipStatus.VERIFYING
    tip.handler = Handler.COMMUNE_POLICE
    if tip.assignee is not None and not can_be_assigned(tip, tip.assignee):
        tip.assignee = None
        tip.assignee_id = None
    outbox.notify_staff(tip, ESCALATED, at=at)


REOPENED_ONCE = _l(
    "Tin báo này đã được mở lại một lần nên không mở lại được nữa. "
    "Nếu việc vẫn chưa xong, hãy nhắn cho người xử lý hoặc gửi một tin báo mới."
)
NOT_CLOSED = _l(
    "Tin báo này chưa được đóng (giải quyết xong hoặc kết luận không có cơ sở) "
    "nên chưa có gì để trả lời."
)


def add_note(
    tip: Tip, actor: User, body: str, *, to_tipster: bool = False, at: datetime | None = None
) -> TipEvent:
    """Add a note: internal, or written for the tipster's timeline."""
    if not can_note(tip, actor, to_tipster=to_tipster):
        raise NotAllowed(_l("Bạn không có quyền ghi chú vào tin báo này."))
    if not body.strip():
        raise WorkflowError(_l("Nội dung ghi chú đang trống."))
    at = at or utcnow()
    event = TipEvent(
        tip=tip,
        kind=EventKind.NOTE,
        at=at,
        actor=actor,
        note=_note(tip, body, to_tipster, at),
        public=to_tipster,
    )
    db.session.add(event)
    if to_tipster:
        outbox.notify_residents(tip, STAFF_REPLY, at=at)
    if tip.first_response_at is None:
        tip.first_response_at = at
    _flush()
    return event


def record_submission(tip: Tip, at: datetime) -> TipEvent:
    """The first event of every tip; called by the submission service."""
    event = TipEvent(
        tip=tip, kind=EventKind.SUBMITTED, at=at, to_status=TipStatus.RECEIVED, public=True
    )
    db.session.add(event)
    counts.apply_difference(counts.Counter(), counts.contributions(tip))
    # A tip held as possible spam alerts nobody: a flood must not ring every phone. Its
    # commune police hear of the flood once (FLOOD), and of the tip if it is released.
    if not tip.held:
        _notify_new(tip, at)
    return event


def record_release(tip: Tip, actor: User, at: datetime) -> TipEvent:
    """A held tip judged "not spam" (tips/held.py checks who and when): it joins the inbox,
    with an event and the new-tip alert it did not get at submission. Not a first
    response: the tipster has heard nothing yet, so the deadline runs on. Flushes."""
    tip.held = False
    event = _record(tip, actor, EventKind.RELEASED, at, first_response=False)
    _notify_new(tip, at)
    return event


def _notify_new(tip: Tip, at: datetime) -> None:
    outbox.notify_staff(tip, URGENT_TIP if tip.priority == Priority.URGENT else NEW_TIP, at=at)


def _alert_on_move(tip: Tip, action: Action, event: TipEvent) -> None:
    """Queue the alerts a move owes: the police on an escalation, the tipster on news."""
    if action == Action.ESCALATE:
        outbox.notify_staff(tip, ESCALATED, at=event.at)
    if event.public and event.to_status != event.from_status:
        outbox.notify_residents(tip, STATUS_CHANGE, at=event.at)
    elif event.note is not None and event.note.visibility == NoteVisibility.TIPSTER:
        outbox.notify_residents(tip, STAFF_REPLY, at=event.at)


def assign(tip: Tip, actor: User, assignee: User | None, *, at: datetime | None = None) -> TipEvent:
    """Give the tip to a team member (or to nobody); the assignee must be able to act on it."""
    if not can_assign(tip, actor):
        raise NotAllowed(_l("Bạn không có quyền giao tin báo này."))
    if not tip.is_open:
        raise WorkflowError(_l("Tin báo đã đóng, không giao được nữa."))
    if assignee is not None and not can_be_assigned(tip, assignee):
        # No name: the answer is the same as for an id that names nobody (staff names
        # outside one's commune are not the caller's to learn).
        raise WorkflowError(NOT_ASSIGNABLE)
    if (assignee.id if assignee else None) == tip.assignee_id:
        raise WorkflowError(_l("Tin báo đã được giao như vậy."))
    at = at or utcnow()
    tip.assignee = assignee
    tip.assignee_id = assignee.id if assignee else None
    return _record(tip, actor, EventKind.ASSIGNED, at, assignee=assignee)


def set_priority(tip: Tip, actor: User, priority: Priority, *, at=None) -> TipEvent:
    if not can_set_priority(tip, actor):
        raise NotAllowed(_l("Bạn không có quyền đổi mức ưu tiên của tin báo này."))
    if not tip.is_open:
        raise WorkflowError(_l("Tin báo đã đóng, không đổi mức ưu tiên được nữa."))
    if tip.priority == priority:
        raise WorkflowError(_l("Tin báo đã ở mức ưu tiên này."))
    tip.priority = priority
    return _record(tip, actor, EventKind.PRIORITY, at or utcnow(), priority=priority)


def escalate_unattended(tip: Tip, *, hours: float, at: datetime | None = None) -> TipEvent:
    """The system hands a tip nobody acted on to the commune police (the cron command)."""
    if not tip.is_open or tip.handler == Handler.COMMUNE_POLICE:
        raise WorkflowError(_l("Tin này đã do Công an xã xử lý."))
    at = at or utcnow()
    event = TipEvent(
        tip=tip,
        kind=EventKind.ESCALATED,
        at=at,
        actor=None,
        from_status=tip.status,
        to_status=tip.status,
        public=False,
    )
    text = _l(
        "Tự động chuyển Công an xã: không ai xử lý tin trong %(hours)s giờ.",
        hours=f"{hours:g}",
    )
    event.note = _note(tip, str(text), False, at)
    tip.handler = Handler.COMMUNE_POLICE
    db.session.add(event)
    outbox.notify_staff(tip, ESCALATED, at=at)
    _flush()
    return event


def _record(
    tip: Tip, actor: User, kind: EventKind, at: datetime, *, first_response: bool = True, **fields
) -> TipEvent:
    event = TipEvent(
        tip=tip,
        kind=kind,
        at=at,
        actor=actor,
        from_status=tip.status,
        to_status=tip.status,
        public=False,
        **fields,
    )
    db.session.add(event)
    if first_response and tip.first_response_at is None:
        tip.first_response_at = at
    _flush()
    return event


def _note(tip: Tip, body: str, to_tipster: bool, at: datetime) -> Note:
    visibility = NoteVisibility.TIPSTER if to_tipster else NoteVisibility.INTERNAL
    note = Note(tip=tip, visibility=visibility, body=body.strip(), created_at=at)
    db.session.add(note)
    return note


def _merge_target(tip: Tip, target: Tip | None, actor: User) -> Tip:
    if target is None:
        raise WorkflowError(_l("Hãy chọn tin báo gốc để gộp vào."))
    seen = {tip.id}
    while target.duplicate_of is not None and target.id not in seen:
        seen.add(target.id)
        target = target.duplicate_of
    if target.id in seen:
        raise WorkflowError(_l("Không thể gộp một tin báo vào chính nó."))
    if target.status == TipStatus.REJECTED:
        raise WorkflowError(_l("Không thể gộp vào một tin đã bị từ chối xử lý."))
    if not reading_roles(target, actor):
        # Same words as a missing tip: a reference outside one's scope reveals nothing.
        raise WorkflowError(_l("Không tìm thấy tin báo gốc."))
    return target


def move_targets(tip: Tip, actor: User) -> list[Unit]:
    """Where `actor` may move `tip`: the commune itself or one of its villages, and, for
    commune police and committee, another commune (its own staff then choose the village)."""
    commune = tip.unit.commune
    targets: list[Unit] = []
    if commune is not None:
        targets.append(commune)
        targets += villages_of(commune)
    if can_move_across_communes(tip, actor):
        root = root_unit()
        if root is not None:
            targets += [c for c in communes_of(root) if commune is None or c.id != commune.id]
    return [unit for unit in targets if unit.id != tip.unit_id and unit.active]


def _move(tip: Tip, to_unit: Unit | None, actor: User, event: TipEvent) -> None:
    if to_unit is None or to_unit.level not in (UnitLevel.VILLAGE, UnitLevel.COMMUNE):
        raise WorkflowError(_l("Hãy chọn thôn hoặc xã nhận tin."))
    if not to_unit.active:
        raise WorkflowError(_l("Địa bàn này không còn hoạt động."))
    if to_unit.id == tip.unit_id:
        raise WorkflowError(_l("Tin báo đã thuộc địa bàn này."))
    same_commune = to_unit.commune is not None and to_unit.commune == tip.unit.commune
    if not same_commune and not can_move_across_communes(tip, actor):
        raise NotAllowed(_l("Chỉ Công an xã hoặc Ban chỉ đạo xã được chuyển tin sang xã khác."))
    if to_unit.id not in {unit.id for unit in move_targets(tip, actor)}:
        # A village of another commune, a retired unit…: only what the form offers.
        raise WorkflowError(_l("Không chuyển được tin báo đến địa bàn này."))
    event.from_unit = tip.unit
    event.to_unit = to_unit
    tip.unit = to_unit
    tip.unit_id = to_unit.id  # the counters read the id before the flush
    if not same_commune and not tip.hidden_from_village:
        # The new commune starts afresh: its own village team and police decide. A tip
        # hidden for a conflict of interest stays hidden and with the police wherever it
        # goes: moving it back and forth must not hand it to the implicated team.
        tip.handler = Handler.VILLAGE_TEAM
    if tip.assignee is not None and not can_be_assigned(tip, tip.assignee):
        tip.assignee = None  # the assignee has no say over the new place
        tip.assignee_id = None


# --- messages between staff and the tipster, and a revealed identity ------------------


def accepts_messages(tip: Tip, now: datetime | None = None) -> bool:
    """Open tips take messages; a closed one for TIPLINE_TIPSTER_REPLY_DAYS after closing.

    The grace period lets the tipster answer a last question or thank the team; after
    it, something new about the matter is a new tip.
    """
    if tip.is_open or tip.closed_at is None:
        return tip.is_open
    days = current_app.config["TIPLINE_TIPSTER_REPLY_DAYS"]
    return (now or utcnow()) < tip.closed_at + timedelta(days=days)


def _message_text(body: str | None) -> str:
    text = clean_text(body) or ""
    if not text:
        raise WorkflowError(_l("Nội dung tin nhắn đang trống."))
    if len(text) > MAX_MESSAGE_LENGTH:
        raise WorkflowError(_l("Tin nhắn tối đa %(n)d ký tự.", n=MAX_MESSAGE_LENGTH))
    return text


def _closed_for_messages() -> WorkflowError:
    return WorkflowError(
        _l(
            "Tin báo này đã đóng nên không nhận thêm tin nhắn. "
            "Nếu có việc mới, hãy gửi một tin báo mới."
        )
    )


def send_message(
    tip: Tip, actor: User, body: str, kind: MessageKind, *, at: datetime | None = None
) -> TipMessage:
    """Staff write to the tipster: a question, or a note on how things stand."""
    if not can_message(tip, actor):
        raise NotAllowed(_l("Bạn không có quyền nhắn người báo tin của tin báo này."))
    if kind not in STAFF_MESSAGE_KINDS:
        raise WorkflowError(_l("Hãy chọn loại tin nhắn."))
    text = _message_text(body)
    at = at or utcnow()
    if not accepts_messages(tip, at):
        raise _closed_for_messages()
    # To the minute: the tipster's page shows these times, like every time it shows.
    message = TipMessage(tip=tip, kind=kind, author=actor, body=text, created_at=to_minute(at))
    db.session.add(message)
    db.session.add(
        TipEvent(
            tip=tip,
            kind=EventKind.MESSAGE,
            at=at,
            actor=actor,
            from_status=tip.status,
            to_status=tip.status,
            public=False,
        )
    )
    if tip.first_response_at is None:
        tip.first_response_at = at
    outbox.notify_residents(tip, STAFF_REPLY, at=at)
    _flush()
    return message


def _tipster_activity(tip: Tip, at: datetime) -> None:
    """Mark the tip unread for staff ("unread replies") and queue their alert.

    Rounded up to the next minute: no exact second of the tipster is kept, and a staff
    member who opened the tip earlier in the same minute still finds it unread.
    """
    tip.activity_at = _minute_up(at)
    # The end of the minute too: a staff member who opened the tip earlier in that
    # minute still has the alert unread (alerts.inbox compares it with TipRead).
    outbox.notify_staff(tip, TIPSTER_REPLY, at=tip.activity_at)


def _minute_up(at: datetime) -> datetime:
    minute = to_minute(at)
    return minute if minute == at else minute + timedelta(minutes=1)


def receive_tipster_message(
    tip: Tip, body: str, kind: MessageKind, *, at: datetime | None = None
) -> TipMessage:
    """The tipster answers or adds information from the status page (no actor: no account)."""
    if kind not in TIPSTER_MESSAGE_KINDS:
        raise WorkflowError(_l("Hãy chọn loại tin nhắn."))
    text = _message_text(body)
    at = at or utcnow()
    if not accepts_messages(tip, at):
        raise _closed_for_messages()
    minute = to_minute(at)
    message = TipMessage(tip=tip, kind=kind, author=None, body=text, created_at=minute)
    db.session.add(message)
    db.session.add(
        TipEvent(
            tip=tip,
            kind=EventKind.TIPSTER_MESSAGE,
            at=minute,
            from_status=tip.status,
            to_status=tip.status,
            public=False,
        )
    )
    _tipster_activity(tip, at)
    _flush()
    return message


def record_tipster_photos(tip: Tip, at: datetime) -> None:
    """Photos the tipster added later count as tipster activity (the event is the service's)."""
    _tipster_activity(tip, at)


def record_tipster_voice(tip: Tip, at: datetime) -> None:
    """A voice note the tipster added later counts as tipster activity (tips/voice.py)."""
    _tipster_activity(tip, at)


def reveal_identity(tip: Tip, name: str, phone: str, *, at: datetime | None = None) -> TipEvent:
    """An anonymous tipster gives a name and phone: the tip becomes confidential, never named.

    Nothing is counted differently; the event carries no personal data and is not on the
    tipster's public timeline. Only commune police see the contact (permissions.can_see_identity).
    """
    if tip.identity_tier != IdentityTier.ANONYMOUS:
        raise WorkflowError(_l("Tin báo này đã có danh tính người báo tin."))
    at = at or utcnow()
    if not accepts_messages(tip, at):
        raise _closed_for_messages()
    name, phone = (clean_text(name) or ""), (clean_text(phone) or "")
    if not name or not phone:
        raise WorkflowError(_l("Hãy ghi họ tên và số điện thoại."))
    minute = to_minute(at)
    contact = TipsterContact(name=name, phone=phone, created_at=minute)
    db.session.add(contact)
    tip.contact = contact
    tip.identity_tier = IdentityTier.CONFIDENTIAL
    event = TipEvent(
        tip=tip,
        kind=EventKind.IDENTITY_REVEALED,
        at=minute,
        from_status=tip.status,
        to_status=tip.status,
        public=False,
    )
    db.session.add(event)
    tip.activity_at = _minute_up(at)
    _flush()
    return event


def _flush() -> None:
    try:
        db.session.flush()
    except StaleDataError as exc:
        raise StaleObject(_CHANGED) from exc
    except OperationalError as exc:
        # SQLite: another writer committed after this transaction first read.
        if "database is locked" in str(exc.orig):
            raise StaleObject(_CHANGED) from exc
        raise


_CHANGED = _l("Tin báo này vừa được người khác thay đổi. Hãy xem lại rồi thử lại.")


def replay(events: Iterable[TipEvent]) -> TipStatus | None:
    """The status a tip's events lead to; the counters check compares it with `tip.status`."""
    status = None
    for event in events:
        if event.to_status is not None:
            status = event.to_status
    return status
