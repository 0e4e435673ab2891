"""The short conversation with one number: a tip, "which commune?", TC, DUNG, GOI LAI.

A resident texts in plain words, with or without marks. On a commune's number the tip is
that commune's. On the province's number the reply asks which commune, the answer is
matched by name without marks or case, and an unsure match is confirmed ("Co phai xa X?
Tra loi CO hoac gui lai ten xa"). That state is kept per number (a keyed hash, never the
number) and expires after TIPLINE_SMS_CONVERSATION_MINUTES.

Words understood (without marks, any case): "TC <reference> <code>" from any phone and
"TC" alone from the number that sent the tip (its public status); "DUNG" (no more
messages to this number); "GOI LAI" (call me back: the tip becomes confidential and its
number a contact that only the commune police see). A text while staff wait for an answer
to their question is that answer; any other text is a new tip.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from tipline.core.sealed import lookup_hash, seal, unseal
from tipline.core.text import clean_text, fold
from tipline.core.timeutil import to_minute, utcnow
from tipline.extensions import db
from tipline.places.models import Unit, UnitLevel
from tipline.public.guard import TooManyAttempts, receipt_lookup
from tipline.sms import texts
from tipline.sms.channel import drop_waiting, queue
from tipline.sms.models import (
    ASK_COMMUNE,
    CONFIRM_COMMUNE,
    IDLE,
    SmsGateway,
    SmsSender,
    SmsTipLink,
)
from tipline.tips import settled, workflow
from tipline.tips.messages import has_open_question, public_messages
from tipline.tips.models import (
    Category,
    IdentityTier,
    MessageKind,
    Tip,
    TipSource,
    TipsterAnswer,
)
from tipline.tips.services import (
    CODE_LENGTH,
    REFERENCE_LENGTH,
    TipDraft,
    format_code,
    normalize_code,
    normalize_reference,
    public_status,
    submit_tip,
)

MAX_TIP_LENGTH = 2000  # a long SMS is a few hundred characters; more is not an SMS
STOP_WORDS = frozenset({"dung", "stop", "huy", "ngung"})
CALLBACK_WORDS = frozenset({"goi lai", "goilai", "goi lai cho toi", "goi lai toi"})
YES_WORDS = frozenset({"co", "c", "ok", "phai", "dung roi", "yes", "vang", "u"})
KIND_WORDS = ("thi tran", "dac khu", "phuong", "xa")
_TC = re.compile(r"^tc(?:\s|$)")
# Issue 22's "was it settled?" by SMS: XONG / CHUA / KHONG BIET, a reference after it if
# the number sent several tips.
SETTLED_WORDS = {
    "xong": TipsterAnswer.DONE,
    "da xong": TipsterAnswer.DONE,
    "chua": TipsterAnswer.NOT_DONE,
    "chua xong": TipsterAnswer.NOT_DONE,
    "khong biet": TipsterAnswer.UNKNOWN,
    "kb": TipsterAnswer.UNKNOWN,
}
_SETTLED = re.compile(
    r"^(?P<word>" + "|".join(sorted(SETTLED_WORDS, key=len, reverse=True)) + r")"
    r"(?:\s+(?P<reference>(?:tl)?[\s-]*[0-9a-z]{4}[\s-]*[0-9a-z]{4}))?$"
)


@dataclass(frozen=True)
class Outcome:
    """What one message did (the webhook's answer names it; tests read it)."""

    action: str  # "tip", "ask", "confirm", "status", "answer", "stop", "callback", …
    tip: Tip | None = None


def phone_hash(phone: str) -> str:
    return lookup_hash(phone, "sms-sender")


def meaningful(text: str) -> bool:
    """True when the text has a letter or a digit (not only marks, emoji or spaces)."""
    return any(unicodedata.category(ch)[0] in ("L", "N") for ch in text)


def sender_for(gateway: SmsGateway, phone: str, now: datetime) -> SmsSender:
    key = phone_hash(phone)
    sender = db.session.scalar(
        select(SmsSender).where(SmsSender.gateway_id == gateway.id, SmsSender.phone_hash == key)
    )
    if sender is None:
        sender = SmsSender(gateway_id=gateway.id, phone_hash=key, state=IDLE, told_privacy=False)
        sender.gateway = gateway
        db.session.add(sender)
    if sender.phone_sealed is None:
        sender.phone_sealed = seal(phone)
    sender.updated_at = now
    db.session.flush()
    return sender


def handle(gateway: SmsGateway, phone: str, text: str, event_key: str) -> Outcome:
    """Act on one SMS from `phone` (E.164) that came in on `gateway`; queue its reply."""
    # To the minute: every row a resident's SMS writes keeps no finer time (SECURITY.md).
    now = to_minute(utcnow())
    sender = sender_for(gateway, phone, now)
    text = clean_text(text) or ""
    if not meaningful(text):
        queue(sender, texts.empty())
        return Outcome("empty")
    words = fold(text)
    if words in STOP_WORDS:
        return _stop(sender, now)
    if _TC.match(words):
        return _status(sender, text)
    if words in CALLBACK_WORDS:
        return _callback(sender, now)
    settled_answer = _settled(sender, words, now)
    if settled_answer is not None:
        return settled_answer
    if sender.stopped_at is not None:
        sender.stopped_at = None  # the resident writes again: replies may go again
    if sender.state != IDLE and sender.state_expires_at and sender.state_expires_at > now:
        return _commune_answer(sender, words, event_key, now)
    _clear_state(sender)
    answered = _answer(sender, text, now)
    if answered is not None:
        return answered
    if gateway.unit.level == UnitLevel.COMMUNE:
        return _new_tip(sender, gateway.unit, text[:MAX_TIP_LENGTH], event_key, now)
    sender.state = ASK_COMMUNE
    sender.pending_sealed = seal(text[:MAX_TIP_LENGTH])
    sender.state_expires_at = now + timedelta(
        minutes=int(current_app.config["TIPLINE_SMS_CONVERSATION_MINUTES"])
    )
    queue(sender, texts.ask_commune())
    return Outcome("ask")


def _clear_state(sender: SmsSender) -> None:
    sender.state = IDLE
    sender.pending_sealed = None
    sender.candidate_unit_id = None
    sender.state_expires_at = None


def _stop(sender: SmsSender, now: datetime) -> Outcome:
    _clear_state(sender)
    sender.stopped_at = None  # a second DUNG is confirmed too
    drop_waiting(sender)  # nothing queued before the stop goes out after it
    db.session.flush()
    row = queue(sender, texts.stopped())  # the last text this number gets
    sender.stopped_at = row.created_at if row is not None else now
    return Outcome("stop")


def _latest_link(sender: SmsSender) -> SmsTipLink | None:
    return db.session.scalar(
        select(SmsTipLink)
        .where(SmsTipLink.sender_id == sender.id)
        .order_by(SmsTipLink.created_at.desc(), SmsTipLink.tip_id.desc())
        .limit(1)
    )


def _status(sender: SmsSender, text: str) -> Outcome:
    """TC <reference> <code> from any phone; TC (or TC <its reference>) from the sender."""
    rest = normalize_code(text)[2:]  # without "TC"
    tip = None
    if rest.startswith("TL") and len(rest) == REFERENCE_LENGTH + 2 + CODE_LENGTH:
        rest = rest[2:]
    if len(rest) == REFERENCE_LENGTH + CODE_LENGTH:
        reference, code = rest[:REFERENCE_LENGTH], rest[REFERENCE_LENGTH:]
        try:
            # The follow-up guard counts wrong codes per reference, as on the web.
            tip = receipt_lookup(reference, code, client=f"sms:{sender.phone_hash}")
        except TooManyAttempts as refused:
            with force_locale("vi"):
                queue(sender, str(refused.message), asked=True)
            return Outcome("too_many")
    elif not rest or normalize_reference(rest):
        link = _own_link(sender, normalize_reference(rest) if rest else None)
        tip = db.session.get(Tip, link.tip_id) if link is not None else None
    if tip is None:
        queue(sender, texts.not_found(), asked=True)
        return Outcome("not_found")
    with force_locale("vi"):
        label = public_status(tip).label
    queue(sender, texts.status(tip.reference, label), tip, asked=True)
    return Outcome("status", tip)


def _own_link(sender: SmsSender, reference: str | None) -> SmsTipLink | None:
    if reference is None:
        return _latest_link(sender)
    return db.session.scalar(
        select(SmsTipLink)
        .join(Tip, Tip.id == SmsTipLink.tip_id)
        .where(SmsTipLink.sender_id == sender.id, Tip.reference == reference)
    )


def _settled(sender: SmsSender, words: str, now: datetime) -> Outcome | None:
    """XONG / CHUA / KHONG BIET for a tip of this number whose question is open (issue 22);
    None when no such tip waits for it (the words are then a tip or an answer as usual)."""
    match = _SETTLED.match(words)
    if match is None:
        return None
    reference = match["reference"]
    if reference:
        link = _own_link(sender, normalize_reference(reference.upper()))
        links = [link] if link is not None else []
    else:
        links = db.session.scalars(
            select(SmsTipLink)
            .where(SmsTipLink.sender_id == sender.id)
            .order_by(SmsTipLink.created_at.desc(), SmsTipLink.tip_id.desc())
        ).all()
    for link in links:
        tip = db.session.get(Tip, link.tip_id)
        if tip is None or settled.window_end(tip) is None:
            continue
        choice = SETTLED_WORDS[match["word"]]
        try:
            settled.answer(tip, choice.value, at=now)
        except settled.AnswerRefused as refused:
            with force_locale("vi"):
                queue(sender, str(refused.message), tip)
            return Outcome("settled_refused", tip)
        with force_locale("vi"):
            label = str(choice.label)
        reopened = tip.reopened_at is not None and choice == TipsterAnswer.NOT_DONE
        queue(sender, texts.settled_received(tip.reference, label, reopened), tip)
        return Outcome("settled", tip)
    return None


def _callback(sender: SmsSender, now: datetime) -> Outcome:
    """GOI LAI: the latest tip becomes confidential; its number a contact for the police."""
    link = _latest_link(sender)
    tip = db.session.get(Tip, link.tip_id) if link is not None else None
    if tip is None or not workflow.accepts_messages(tip, now):
        queue(sender, texts.no_tip(), asked=True)
        return Outcome("no_tip")
    if tip.identity_tier == IdentityTier.ANONYMOUS:
        phone = unseal(sender.phone_sealed or "")
        local = "0" + phone[3:] if phone.startswith("+84") else phone
        with force_locale("vi"):
            name = _("Người báo tin qua SMS (xin gọi lại)")
        workflow.reveal_identity(tip, name, local, at=now)
    queue(sender, texts.callback(tip.reference), tip, asked=True)
    return Outcome("callback", tip)


def _answer(sender: SmsSender, text: str, now: datetime) -> Outcome | None:
    """The answer to a staff question still waiting, into the tip's conversation."""
    link = _latest_link(sender)
    tip = db.session.get(Tip, link.tip_id) if link is not None else None
    if tip is None or not workflow.accepts_messages(tip, now):
        return None
    if not has_open_question(public_messages(tip)):
        return None
    workflow.receive_tipster_message(tip, text[: workflow.MAX_MESSAGE_LENGTH], MessageKind.REPLY)
    queue(sender, texts.answer_received(tip.reference), tip)
    return Outcome("answer", tip)


def _category() -> Category:
    code = current_app.config.get("TIPLINE_SMS_CATEGORY") or "other"
    category = db.session.scalar(
        select(Category).where(Category.code == code, Category.active.is_(True))
    )
    if category is None:  # the last active category: "Khác" in the usual list
        category = db.session.scalar(
            select(Category)
            .where(Category.active.is_(True))
            .order_by(Category.sort_order.desc(), Category.id.desc())
            .limit(1)
        )
    if category is None:
        raise LookupError("no active category for SMS tips")
    return category


def _new_tip(sender: SmsSender, commune: Unit, text: str, event_key: str, now: datetime) -> Outcome:
    draft = TipDraft(
        submission_key=f"sms-{event_key}",
        category=_category(),
        unit=commune,
        description=text,
        identity_tier=IdentityTier.ANONYMOUS,
        source=TipSource.SMS,
    )
    receipt = submit_tip(draft, now=now)
    tip = receipt.tip
    if db.session.get(SmsTipLink, tip.id) is None:
        db.session.add(SmsTipLink(tip_id=tip.id, sender_id=sender.id, created_at=now))
        db.session.flush()
    queue(sender, texts.receipt(tip.reference, format_code(receipt.code)), tip)
    return Outcome("tip", tip)


# --- a province number: which commune? ---------------------------------------------------


def _bare(name: str) -> str:
    folded = fold(name)
    for word in KIND_WORDS:
        if folded.startswith(word + " "):
            return folded[len(word) + 1 :]
    return folded


def display_name(commune: Unit) -> str:
    """ "xã An Bình", whether the unit's name carries its kind or not."""
    name, kind = commune.name, commune.kind
    if fold(name).startswith(fold(kind) + " "):
        name = name[len(kind) + 1 :]
    return f"{kind} {name}"


def communes_of(province: Unit) -> list[Unit]:
    return list(
        db.session.scalars(
            select(Unit).where(
                province.subtree_clause(),
                Unit.level == UnitLevel.COMMUNE,
                Unit.active.is_(True),
            )
        )
    )


def match_commune(province: Unit, answer: str) -> tuple[Unit | None, bool]:
    """The commune an answer names, and whether that is sure (one exact match)."""
    wanted = _bare(answer)
    if not wanted:
        return None, False
    communes = communes_of(province)
    exact = [
        c for c in communes if _bare(f"{c.kind} {c.name}") == wanted or _bare(c.name) == wanted
    ]
    if len(exact) == 1:
        return exact[0], True
    if exact:
        return exact[0], False
    names = {_bare(c.name): c for c in communes}
    close = difflib.get_close_matches(wanted, list(names), n=1, cutoff=0.6)
    if close:
        return names[close[0]], False
    inside = [c for n, c in names.items() if wanted in n or n in wanted]
    return (inside[0], False) if inside else (None, False)


def _commune_answer(sender: SmsSender, words: str, event_key: str, now: datetime) -> Outcome:
    gateway = sender.gateway
    if sender.state == CONFIRM_COMMUNE and words in YES_WORDS and sender.candidate_unit_id:
        commune = db.session.get(Unit, sender.candidate_unit_id)
        return _pending_tip(sender, commune, event_key, now)
    commune, sure = match_commune(gateway.unit, words)
    if commune is None:
        queue(sender, texts.unknown_commune())
        return Outcome("unknown_commune")
    if sure:
        return _pending_tip(sender, commune, event_key, now)
    sender.state = CONFIRM_COMMUNE
    sender.candidate_unit_id = commune.id
    queue(sender, texts.confirm_commune(display_name(commune)))
    return Outcome("confirm")


def _pending_tip(sender: SmsSender, commune: Unit | None, event_key: str, now: datetime) -> Outcome:
    pending = unseal(sender.pending_sealed) if sender.pending_sealed else ""
    _clear_state(sender)
    if commune is None or not pending:
        queue(sender, texts.unknown_commune())
        return Outcome("unknown_commune")
    return _new_tip(sender, commune, pending, event_key, now)
