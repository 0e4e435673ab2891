"""Alerts that escalate: an urgent tip nobody in the village team opened, a deadline near.

Each goes once per tip (an AlertMark row says it went). The worker runs `scan` on the
schedule TIPLINE_SCHEDULE_ALERT_SCANS_MINUTES.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import exists, select

from tipline.accounts.models import RoleAssignment
from tipline.accounts.permissions import VILLAGE_TEAM
from tipline.alerts import outbox
from tipline.alerts.channels.base import DEADLINE_NEAR, UNACKNOWLEDGED
from tipline.alerts.models import AlertMark
from tipline.core.timeutil import utcnow
from tipline.extensions import db
from tipline.tips.models import OPEN_STATUSES, Handler, Priority, Tip, TipRead

# Tips older than this are not looked at again: the escalation job has handed them over.
LOOK_BACK = timedelta(days=7)


@dataclass(frozen=True)
class ScanReport:
    unacknowledged: int
    deadline_near: int


def _not_marked(kind: str):
    return ~exists().where(AlertMark.tip_id == Tip.id, AlertMark.kind == kind)


def opened_by_village_team(tip: Tip) -> bool:
    """Whether someone of the tip's village team (its village or above, village roles) opened it."""
    team = select(RoleAssignment.user_id).where(
        RoleAssignment.role.in_(VILLAGE_TEAM), RoleAssignment.unit_id.in_(tip.unit.ancestor_ids)
    )
    return bool(
        db.session.scalar(
            select(exists().where(TipRead.tip_id == tip.id, TipRead.user_id.in_(team)))
        )
    )


def unacknowledged_urgent(now: datetime | None = None) -> list[Tip]:
    """Alert the commune police of urgent tips no village-team member opened in time."""
    now = now or utcnow()
    minutes = current_app.config["TIPLINE_URGENT_ACK_MINUTES"]
    tips = db.session.scalars(
        select(Tip)
        .where(
            Tip.status.in_(OPEN_STATUSES),
            Tip.priority == Priority.URGENT,
            Tip.handler == Handler.VILLAGE_TEAM,
            Tip.submitted_at <= now - timedelta(minutes=minutes),
            Tip.submitted_at > now - LOOK_BACK,
            # A held tip (possible spam) waits for its release: no mark now, so that a
            # released tip still gets its one alert.
            Tip.held.is_(False),
            _not_marked(UNACKNOWLEDGED),
        )
        .order_by(Tip.id)
    ).all()
    alerted = []
    for tip in tips:
        if opened_by_village_team(tip):
            continue
        outbox.notify_staff(tip, UNACKNOWLEDGED, at=now)
        db.session.add(AlertMark(tip_id=tip.id, kind=UNACKNOWLEDGED, at=now))
        alerted.append(tip)
    db.session.flush()
    return alerted


def deadline_near(now: datetime | None = None) -> list[Tip]:
    """Alert the handler of a tip still unanswered a day before its first-response deadline.

    A deadline shorter than two days is announced halfway through instead, so that a tip
    with one day to answer does not bring its "deadline near" along with "new tip".
    """
    now = now or utcnow()
    lead = timedelta(hours=current_app.config["TIPLINE_DEADLINE_NEAR_HOURS"])
    tips = db.session.scalars(
        select(Tip)
        .where(
            Tip.status.in_(OPEN_STATUSES),
            Tip.first_response_at.is_(None),
            Tip.response_due_at > now,
            Tip.response_due_at <= now + lead,
            Tip.held.is_(False),
            _not_marked(DEADLINE_NEAR),
        )
        .order_by(Tip.id)
    ).all()
    alerted = []
    for tip in tips:
        if tip.response_due_at - now > min(lead, (tip.response_due_at - tip.submitted_at) / 2):
            continue
        outbox.notify_staff(tip, DEADLINE_NEAR, at=now)
        db.session.add(AlertMark(tip_id=tip.id, kind=DEADLINE_NEAR, at=now))
        alerted.append(tip)
    db.session.flush()
    return alerted


def scan(now: datetime | None = None) -> ScanReport:
    """Both scans; the caller commits."""
    return ScanReport(len(unacknowledged_urgent(now)), len(deadline_near(now)))
