"""Held tips (issue 21): "giữ lại: có thể là tin rác".

A tip posted without a solved puzzle while its commune or its client sent a flood is held
(`Tip.held`, set by the submission). It is received and counted like any tip (DOMAIN.md:
only a rejection takes it out of the figures), but it stays out of the inbox's lists
(tips/inbox.py) and alerts nobody (alerts/outbox.py) until a staff member who may act on
it either says "not spam" (`release`: an event, then the new-tip alert it did not get) or
rejects it as spam (the workflow's rejection, which the commune police may undo within
24 hours).

A rejected held tip stays held: undoing the rejection puts it back where it was, waiting
for review, not into the inbox (a flood rejected by mistake and undone must not arrive
as hundreds of new tips, nor skip the look that releases them one by one or in bulk).

Before its release a held tip takes no workflow move but a rejection (or its undoing):
triaging or escalating a tip nobody has judged would leave real work hidden among spam.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _l

from tipline.accounts.models import User
from tipline.accounts.permissions import SETTLERS, acting_roles
from tipline.core.errors import NotAllowed, TiplineError
from tipline.core.timeutil import utcnow
from tipline.extensions import db
from tipline.tips import workflow
from tipline.tips.models import RejectReason, Tip, TipEvent
from tipline.tips.queries import visible_tips
from tipline.tips.workflow import Action, WorkflowError

# One bulk post: a flood of a few hundred tips is one page of the held view and one post.
MAX_BULK = 500

RELEASE = "release"
SPAM = "spam"
UNDO = "undo"
OPERATIONS = (RELEASE, SPAM, UNDO)

NOT_HELD = _l("Tin báo này không bị giữ lại.")
NOT_YOURS = _l("Bạn không có quyền làm việc này với các tin đã chọn. Chưa tin nào bị thay đổi.")


def may_release(tip: Tip, user: User) -> bool:
    """Whether `user` may say a held tip is not spam: those who may reject it (a village
    leader, the commune police or committee), as the workflow's rules name them."""
    return bool(acting_roles(tip, user) & SETTLERS)


def check_release(tip: Tip, user: User) -> None:
    """Raise NotAllowed or WorkflowError saying why `user` may not release `tip` now."""
    if not may_release(tip, user):
        raise NotAllowed(_l("Bạn không có quyền xác nhận tin này không phải tin rác."))
    if not tip.held:
        raise WorkflowError(NOT_HELD)
    if not tip.is_open:
        raise WorkflowError(
            _l("Tin này đã bị loại: hãy hủy quyết định loại trước (Công an xã, trong 24 giờ).")
        )


def release(
    tip: Tip, actor: User, *, expected_version: int | None = None, at: datetime | None = None
) -> TipEvent:
    """ "Không phải tin rác": the tip joins the inbox, with an event and the alert that
    a new tip gets (urgent or not, as at submission). Flushes; the caller commits.

    Not a first response: the tipster has heard nothing yet, so the deadline runs on.
    """
    workflow.check_version(tip, expected_version)
    check_release(tip, actor)
    return workflow.record_release(tip, actor, at or utcnow())


# --- several held tips at once ----------------------------------------------------------


class BulkRefused(TiplineError):
    """A bulk post refused as a whole: nothing was changed."""

    def __init__(self, status: int, message) -> None:
        super().__init__(message)
        self.status_code = status


@dataclass
class BulkOutcome:
    done: list[Tip] = field(default_factory=list)
    # Tips that changed since the page was read (released, rejected or undone by someone
    # else, past the 24 hours of an undo): skipped, each with why.
    skipped: list[tuple[Tip, str]] = field(default_factory=list)


def select_for_bulk(user: User, public_ids: list[str], operation: str) -> list[Tip]:
    """The tips a bulk post names, or BulkRefused (400, 403, 404) and nothing changes.

    Every id must name a tip in the user's scope (404 otherwise, as for an id that does
    not exist: nothing says whose it is), and the user must be one who may make this
    move on every one of them (403). A tip that is no longer held, or whose state no
    longer allows the move, is not an error here: `apply_bulk` skips it and says so.
    """
    if operation not in OPERATIONS:
        raise BulkRefused(400, _l("Hãy chọn thao tác."))
    ids = list(dict.fromkeys(i for i in public_ids if i))
    if not ids:
        raise BulkRefused(400, _l("Hãy chọn ít nhất một tin báo."))
    if len(ids) > MAX_BULK:
        raise BulkRefused(400, _l("Mỗi lần xử lý được tối đa %(n)d tin.", n=MAX_BULK))
    if any(len(i) > 40 for i in ids):
        raise BulkRefused(404, _not_found(len(ids)))
    found = {
        tip.public_id: tip
        for tip in db.session.scalars(visible_tips(user).where(Tip.public_id.in_(ids))).unique()
    }
    missing = len(ids) - len(found)
    if missing:
        raise BulkRefused(404, _not_found(missing))
    tips = [found[i] for i in ids]
    if not all(_may(tip, user, operation) for tip in tips):
        raise BulkRefused(403, NOT_YOURS)
    return tips


def _not_found(count: int):
    return _l("%(n)d tin không tìm thấy trong phạm vi của bạn. Chưa tin nào bị thay đổi.", n=count)


def _may(tip: Tip, user: User, operation: str) -> bool:
    """Whether the user's roles allow the move on this tip (its state aside)."""
    if operation == RELEASE:
        return may_release(tip, user)
    action = Action.REJECT if operation == SPAM else Action.UNDO_REJECTION
    try:
        workflow.check(tip, action, user, reason=RejectReason.SPAM)
    except NotAllowed:
        return False
    except TiplineError:
        return True  # a matter of state: skipped, and said, by apply_bulk
    return True


def apply_bulk(
    user: User, tips: list[Tip], operation: str, *, at: datetime | None = None
) -> BulkOutcome:
    """Make one move on each tip (`select_for_bulk`'s), each through its own rule; a tip
    the move no longer fits is skipped. Flushes; the caller commits."""
    at = at or utcnow()
    outcome = BulkOutcome()
    for tip in tips:
        try:
            with db.session.begin_nested():
                if not tip.held:
                    raise WorkflowError(NOT_HELD)
                if operation == RELEASE:
                    release(tip, user, at=at)
                elif operation == SPAM:
                    workflow.transition(tip, Action.REJECT, user, reason=RejectReason.SPAM, at=at)
                else:
                    workflow.transition(tip, Action.UNDO_REJECTION, user, at=at)
        except TiplineError as error:
            db.session.refresh(tip)
            outcome.skipped.append((tip, str(error.message)))
            continue
        outcome.done.append(tip)
    return outcome
