"""Forgetting numbers: when a tip's reply window ends, and by the retention purge.

Run after every retention purge (tips/retention.py `also_sweep`: daily, by the worker):
- a tip's reply address goes once the tip takes no more messages (closed longer than
  TIPLINE_TIPSTER_REPLY_DAYS) or its personal data was purged;
- a number with no tip left is forgotten: its row goes, or, if it said "DUNG", only its
  keyed hash stays (so that nothing is sent to it), without the sealed number;
- a conversation that expired loses the text it was holding;
- replies still waiting after two days (a gateway off for that long) and webhook event
  ids older than their window are deleted.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, delete, exists, or_, select, update

from tipline.extensions import db
from tipline.sms.models import IDLE, SmsOutgoing, SmsSender, SmsTipLink, SmsWebhookEvent
from tipline.tips import retention
from tipline.tips.models import OPEN_STATUSES, Tip

OUTGOING_DAYS = 2


def sweep(now: datetime, cutoff: datetime) -> int:
    days = int(current_app.config["TIPLINE_TIPSTER_REPLY_DAYS"])
    window_end = now - timedelta(days=days)
    ended = select(Tip.id).where(
        Tip.status.not_in(list(OPEN_STATUSES)),
        or_(Tip.closed_at.is_(None), Tip.closed_at < window_end, Tip.closed_at < cutoff),
    )
    removed = db.session.execute(
        delete(SmsTipLink)
        .where(SmsTipLink.tip_id.in_(ended))
        .execution_options(synchronize_session=False)
    ).rowcount
    idle = and_(
        ~exists().where(SmsTipLink.sender_id == SmsSender.id),
        or_(SmsSender.state == IDLE, SmsSender.state_expires_at < now),
    )
    removed += db.session.execute(
        delete(SmsSender)
        .where(idle, SmsSender.stopped_at.is_(None))
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.execute(
        update(SmsSender)
        .where(idle, SmsSender.stopped_at.is_not(None))
        .values(phone_sealed=None, pending_sealed=None, state=IDLE)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(SmsSender)
        .where(SmsSender.state != IDLE, SmsSender.state_expires_at < now)
        .values(pending_sealed=None, candidate_unit_id=None, state=IDLE, state_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    removed += db.session.execute(
        delete(SmsOutgoing)
        .where(SmsOutgoing.created_at < now - timedelta(days=OUTGOING_DAYS))
        .execution_options(synchronize_session=False)
    ).rowcount
    window = int(current_app.config["TIPLINE_SMS_WEBHOOK_WINDOW_SECONDS"])
    db.session.execute(
        delete(SmsWebhookEvent)
        .where(SmsWebhookEvent.received_at < now - timedelta(seconds=2 * window))
        .execution_options(synchronize_session=False)
    )
    return removed


retention.also_sweep("sms", sweep)
