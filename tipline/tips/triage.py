"""Triage beyond the inbox: deadlines and escalation, bulk actions, tips recorded on behalf.

The inbox (filters, pages, counts, unread) is `tips/inbox.py`, duplicates
`tips/duplicates.py`, ready-made replies `tips/replies.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select

from tipline.accounts.models import User
from tipline.accounts.permissions import TRIAGERS, units_with
from tipline.core.errors import TiplineError
from tipline.core.timeutil import utcnow
from tipline.extensions import db
from tipline.places.models import Unit, UnitLevel
from tipline.places.services import communes_of, villages_of
from tipline.tips import workflow
from tipline.tips.models import (
    OPEN_STATUSES,
    Category,
    Handler,
    Priority,
    RejectReason,
    Tip,
)
from tipline.tips.queries import visible_tips
from tipline.tips.services import TipDraft, submit_tip

# --- deadlines and escalation ---------------------------------------------------------


def overdue_clause(now: datetime):
    """Open tips past their first-response or settlement due date."""
    return and_(
        Tip.status.in_(OPEN_STATUSES),
        or_(
            and_(Tip.first_response_at.is_(None), Tip.response_due_at < now),
            Tip.settle_due_at < now,
        ),
    )


def is_overdue(tip: Tip, now: datetime | None = None) -> bool:
    now = now or utcnow()
    if not tip.is_open:
        return False
    late_response = (
        tip.first_response_at is None
        and tip.response_due_at is not None
        and tip.response_due_at < now
    )
    return late_response or (tip.settle_due_at is not None and tip.settle_due_at < now)


def stale_tips(now: datetime, hours: float):
    """Open tips still with the village team that nobody has acted on for `hours`.

    Not held tips (possible spam, tips/held.py): nobody was told of them, and a flood
    handed to the commune police would be hundreds of escalation alerts.
    """
    return (
        select(Tip)
        .where(
            Tip.status.in_(OPEN_STATUSES),
            Tip.held.is_(False),
            Tip.handler == Handler.VILLAGE_TEAM,
            Tip.first_response_at.is_(None),
            Tip.submitted_at <= now - timedelta(hours=hours),
        )
        .order_by(Tip.submitted_at, Tip.id)
    )


def escalate_stale(now: datetime | None = None, hours: float | None = None) -> list[Tip]:
    """Hand every unattended tip to the commune police (meant for cron); the caller commits."""

    now = now or utcnow()
    if hours is None:
        hours = current_app.config["TIPLINE_ESCALATE_AFTER_HOURS"]
    escalated = []
    for tip in db.session.scalars(stale_tips(now, hours)).unique().all():
        workflow.escalate_unattended(tip, hours=hours, at=now)
        escalated.append(tip)
    return escalated


# --- bulk actions ---------------------------------------------------------------------


@dataclass
class BulkResult:
    done: list[Tip] = field(default_factory=list)
    refused: list[tuple[Tip, str]] = field(default_factory=list)
    missing: int = 0


def bulk_apply(
    user: User,
    public_ids: list[str],
    operation: str,
    *,
    assignee: User | None = None,
    priority: Priority | None = None,
) -> BulkResult:
    """Apply one operation to each selected tip through the workflow; a refusal skips a tip.

    Tips are looked up through the scoping query: an id outside the user's scope is
    counted as missing and nothing else is said about it.
    """

    result = BulkResult()
    ids = list(dict.fromkeys(public_ids))[:200]
    found = {
        tip.public_id: tip
        for tip in db.session.scalars(visible_tips(user).where(Tip.public_id.in_(ids))).unique()
    }
    for public_id in ids:
        tip = found.get(public_id)
        if tip is None:
            result.missing += 1
            continue
        try:
            with db.session.begin_nested():
                if operation == "assign":
                    workflow.assign(tip, user, assignee)
                elif operation == "priority":
                    if priority is None:
                        raise workflow.WorkflowError(_no_priority())
                    workflow.set_priority(tip, user, priority)
                elif operation == "spam":
                    workflow.transition(tip, workflow.Action.REJECT, user, reason=RejectReason.SPAM)
                else:
                    raise ValueError(operation)
        except TiplineError as error:
            db.session.refresh(tip)
            result.refused.append((tip, str(error.message)))
            continue
        result.done.append(tip)
    return result


def _no_priority():

    return _l("Hãy chọn mức ưu tiên.")


# --- tips recorded on behalf of residents ---------------------------------------------


@dataclass(frozen=True)
class RecordedTip:
    category: Category
    unit: Unit
    description: str
    place: str | None = None
    occurred_on: object = None


def record_on_behalf(
    user: User, source, batch_key: str, rows: list[RecordedTip], *, now: datetime | None = None
):
    """Record tips heard from residents: same submission service, workflow and counters.

    `batch_key` (from the form) makes a re-sent form record nothing twice.
    """

    receipts = []
    for index, row in enumerate(rows):
        draft = TipDraft(
            submission_key=f"staff:{user.id}:{batch_key}:{index}",
            category=row.category,
            unit=row.unit,
            description=row.description,
            place=row.place,
            occurred_on=row.occurred_on,
            source=source,
            recorded_by_id=user.id,
        )
        receipts.append(submit_tip(draft, now=now))
    return receipts


def recordable_units(user: User) -> list[Unit]:
    """Villages and communes where `user` may record tips (where they may triage)."""

    units: dict[int, Unit] = {}
    for unit in units_with(user, TRIAGERS):
        if unit.level == UnitLevel.VILLAGE:
            units[unit.id] = unit
        elif unit.level == UnitLevel.COMMUNE:
            units[unit.id] = unit
            units.update((v.id, v) for v in villages_of(unit))
        else:
            for commune in communes_of(unit):
                units[commune.id] = commune
    return list(units.values())
