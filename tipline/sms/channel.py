"""SMS replies through the alerts' outbox: the channel "smsreply" and the queue that feeds it.

Two kinds of delivery:
- "out:<id>": a reply of the conversation (a receipt, "which commune?", a status),
  written by `queue` as a notification of kind "sms_text" that is fanned out already,
  with its one delivery: the worker sends it, retries a gateway that fails, and marks it.
- "tip:<tip id>": a tip that came by SMS, as a resident target of the existing alerts
  (a staff message, a status change): the staff's words go as text, since they are the
  conversation itself; a status change says the new state.

Each text goes out through the gateway its number wrote to (its own driver and budget).
The number and the text are sealed at rest and opened only to send; errors name no number.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import select

from tipline.alerts import sms
from tipline.alerts.channels import LABELS, register
from tipline.alerts.channels.base import STAFF_REPLY, Alert, DeliveryError
from tipline.alerts.models import Delivery, Notification
from tipline.core.sealed import SealError, seal, unseal
from tipline.core.timeutil import to_minute, utcnow
from tipline.extensions import db
from tipline.sms import texts
from tipline.sms.gateways import driver_for
from tipline.sms.models import SmsOutgoing, SmsSender, SmsTipLink
from tipline.tips import settled
from tipline.tips.models import STAFF_MESSAGE_KINDS, Note, NoteVisibility, Tip, TipMessage
from tipline.tips.services import public_status

NAME = "smsreply"
SMS_TEXT = "sms_text"  # a notification kind: one reply of the conversation
OUT = "out"
TIP = "tip"


def queue(
    sender: SmsSender, text: str, tip: Tip | None = None, *, asked: bool = False
) -> SmsOutgoing | None:
    """Put one reply in the outbox (same transaction as what it answers); fitted, sealed.

    Nothing is queued for a number that said "DUNG" (the confirmation of the stop is queued
    before the stop is recorded), except the answer to what it asked for itself (`asked`:
    TC, GOI LAI)."""
    if sender.phone_sealed is None or (sender.stopped_at is not None and not asked):
        return None
    if not sender.told_privacy:
        sender.told_privacy = True
        text = f"{text} {texts.privacy()}"
    now = to_minute(utcnow())  # a resident's conversation: no finer time is kept
    row = SmsOutgoing(sender_id=sender.id, text_sealed=seal(texts.fit(text)), created_at=now)
    db.session.add(row)
    db.session.flush()
    notification = Notification(
        kind=SMS_TEXT, tip_id=tip.id if tip is not None else None, created_at=now, fanned_out_at=now
    )
    db.session.add(notification)
    db.session.add(
        Delivery(
            notification=notification,
            channel=NAME,
            target=f"{OUT}:{row.id}",
            created_at=now,
            next_attempt_at=now,
        )
    )
    return row


class SmsReplyChannel:
    name: ClassVar[str] = NAME
    idempotent: ClassVar[bool] = True  # SMS Gateway for Android drops a repeated message id
    label = LABELS["sms"]
    residents_only = True  # no staff settings, no staff targets

    def available(self) -> bool:
        return True  # its targets exist only where a gateway brought a tip

    def staff_targets(self, user_id: int) -> list[str]:
        return []

    def resident_targets(self, tip_id: int) -> list[str]:
        link = db.session.get(SmsTipLink, tip_id)
        if link is None or link.sender.stopped_at is not None or not link.sender.phone_sealed:
            return []
        return [f"{TIP}:{tip_id}"]

    def send(self, target: str, alert: Alert, *, timeout: float) -> None:
        kind, _, ident = target.partition(":")
        row_id = int(ident) if ident.isdigit() else 0
        if kind == OUT:
            row = db.session.get(SmsOutgoing, row_id)
            if row is None or row.text_sealed is None:
                raise DeliveryError("the SMS reply was removed", gone=True)
            sender = db.session.get(SmsSender, row.sender_id)
            # A stop deletes the texts still waiting (conversation.stop_waiting): what is
            # left was queued with or after it (its confirmation, an answer to TC).
            self._check(sender, since=row.created_at)
            text = self._open(row.text_sealed)
            self._send(sender, text, alert, timeout)
            db.session.delete(row)  # committed with the delivery's mark
            return
        if kind == TIP:
            link = db.session.get(SmsTipLink, row_id)
            tip = db.session.get(Tip, row_id)
            if link is None or tip is None:
                raise DeliveryError("the tip's SMS reply address was removed", gone=True)
            self._check(link.sender)
            # One text each, oldest first; each its own key, so a retry after a failure
            # half-way does not send twice what the gateway already took.
            for suffix, text, message_id, note_id in self._tip_texts(tip, link, alert):
                self._send(link.sender, text, alert, timeout, suffix=suffix)
                link.last_message_id = max(link.last_message_id, message_id)
                link.last_note_id = max(link.last_note_id, note_id)
            return
        raise DeliveryError("not an SMS reply target", gone=True)

    def _check(self, sender: SmsSender | None, since: datetime | None = None) -> None:
        if sender is None or sender.phone_sealed is None:
            raise DeliveryError("the SMS reply address was removed", gone=True)
        if sender.stopped_at is not None and (since is None or since < sender.stopped_at):
            raise DeliveryError("the number asked for no more SMS", gone=True)
        if not sender.gateway.active:
            raise DeliveryError("the SMS gateway was turned off", gone=True)

    def _open(self, sealed: str) -> str:
        try:
            return unseal(sealed)
        except SealError:
            raise DeliveryError(
                "the SMS reply cannot be opened with this deployment's TIPLINE_DATA_KEY",
                retry=False,
            ) from None

    def _send(
        self, sender: SmsSender, text: str, alert: Alert, timeout: float, suffix: str = ""
    ) -> None:
        try:
            driver = driver_for(sender.gateway)
        except (sms.SmsSettingsError, SealError):
            raise DeliveryError("the SMS gateway's settings cannot work", retry=False) from None
        phone = self._open(sender.phone_sealed or "")
        sms.send_sms(phone, text, key=alert.key + suffix, timeout=timeout, through=driver)

    def _tip_texts(
        self, tip: Tip, link: SmsTipLink, alert: Alert
    ) -> list[tuple[str, str, int, int]]:
        """Every staff word to the tipster not yet texted, in order, whatever the kind.

        (key suffix, text, message id, note id): staff messages after `last_message_id`
        and notes to the tipster after `last_note_id`; a status change first says the new
        state. Several staff messages or a note made with a move before the worker ran
        are one waiting notification: each still goes as its own text.
        """
        messages = db.session.scalars(
            select(TipMessage)
            .where(
                TipMessage.tip_id == tip.id,
                TipMessage.id > link.last_message_id,
                TipMessage.kind.in_(STAFF_MESSAGE_KINDS),
            )
            .order_by(TipMessage.id)
        ).all()
        notes = db.session.scalars(
            select(Note)
            .where(
                Note.tip_id == tip.id,
                Note.id > link.last_note_id,
                Note.visibility == NoteVisibility.TIPSTER,
            )
            .order_by(Note.id)
        ).all()
        words: list[tuple[datetime, int, str, str, int, int]] = []
        for message in messages:
            if message.body:
                text = texts.staff_message(tip.reference, message.body)
                words.append((message.created_at, 0, f":m{message.id}", text, message.id, 0))
        for note in notes:
            if note.body:
                text = texts.staff_message(tip.reference, note.body)
                words.append((to_minute(note.created_at), 1, f":n{note.id}", text, 0, note.id))
        words.sort(key=lambda w: (w[0], w[1], w[4] or w[5]))
        out = [(suffix, text, m, n) for _, _, suffix, text, m, n in words]
        if alert.kind != STAFF_REPLY or not out:
            update = texts.fit(texts.update(tip.reference, public_status(tip).label))
            out.insert(0, ("", update, 0, 0))
            asked = settled.question(tip)
            if alert.kind != STAFF_REPLY and asked.asked and asked.answer is None:
                # Issue 22: closed as resolved or unfounded, within the reply window.
                out.append((":settled", texts.fit(texts.settled_question(tip.reference)), 0, 0))
        # Nothing unread is lost when a row's body was purged: its id still moves the marks.
        last_m = max((m.id for m in messages), default=0)
        last_n = max((n.id for n in notes), default=0)
        if out and (last_m or last_n):
            suffix, text, m, n = out[-1]
            out[-1] = (suffix, text, max(m, last_m), max(n, last_n))
        return out

    def forget(self, target: str) -> None:
        return None  # the reply address goes with its tip's window, or by retention


CHANNEL = register(SmsReplyChannel())


def drop_waiting(sender: SmsSender) -> None:
    """A stop: the texts still waiting for this number are not sent (their deliveries find
    nothing and end as gone)."""
    for row in db.session.scalars(select(SmsOutgoing).where(SmsOutgoing.sender_id == sender.id)):
        db.session.delete(row)
