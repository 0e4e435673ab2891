"""SMS intake's tables: the gateways, the numbers that wrote, their tips, replies, events.

A resident's number is sealed (tipline/core/sealed.py) beside a keyed hash to find it by;
it is never stored in the clear, never shown to staff (unless the resident asks to be
called back: then it becomes the tip's confidential contact, as on the form), and it
goes when the reply window of its last tip ends, or by retention.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tipline.core.db import Base
from tipline.core.timeutil import to_minute, utcnow
from tipline.places.models import Unit

# Conversation states of a number (SmsSender.state).
IDLE = "idle"
ASK_COMMUNE = "ask_commune"  # a province number asked which commune
CONFIRM_COMMUNE = "confirm_commune"  # "Co phai xa X?" waits for CO or another name


def _public_id() -> str:
    return secrets.token_urlsafe(16)


def minute_now() -> datetime:
    """Now to the minute: the time kept in rows a resident's SMS writes."""
    return to_minute(utcnow())


class SmsGateway(Base):
    """An Android phone running SMS Gateway for Android, serving a commune or the province.

    Its number is public (posters print it); its password and webhook signing key are
    sealed. Replies to what came in on it go out through it.
    """

    __tablename__ = "sms_gateways"

    id: Mapped[int] = mapped_column(primary_key=True)
    # In the webhook's URL: random, so gateways cannot be enumerated.
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=_public_id)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    number: Mapped[str] = mapped_column(String(20))  # as printed, e.g. "0912 345 678"
    # The phone's local server (http://192.168.1.20:8080) or the private server's API.
    base_url: Mapped[str] = mapped_column(String(300))
    username: Mapped[str] = mapped_column(String(100))
    password_sealed: Mapped[str] = mapped_column(Text)
    signing_key_sealed: Mapped[str] = mapped_column(Text)
    sim: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    unit: Mapped[Unit] = relationship()


class SmsSender(Base):
    """One number that wrote to one gateway: its sealed reply address and its short state."""

    __tablename__ = "sms_senders"
    __table_args__ = (UniqueConstraint("gateway_id", "phone_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    gateway_id: Mapped[int] = mapped_column(
        ForeignKey("sms_gateways.id", ondelete="CASCADE"), index=True
    )
    phone_hash: Mapped[str] = mapped_column(String(64))
    # None once nothing may be sent to it any more (its tips' windows ended; a "stop" kept).
    phone_sealed: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), default=IDLE)
    # A province number's tip waiting for its commune (sealed), and the commune guessed.
    pending_sealed: Mapped[str | None] = mapped_column(Text)
    candidate_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    state_expires_at: Mapped[datetime | None]
    # "DUNG": nothing more is sent to this number (a new tip from it lifts the stop).
    stopped_at: Mapped[datetime | None]
    # The first reply says what is kept and who sees it: once per number.
    told_privacy: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=minute_now)

    gateway: Mapped[SmsGateway] = relationship()


class SmsTipLink(Base):
    """A tip that came by SMS, and the number its replies go to (until the window ends)."""

    __tablename__ = "sms_tip_links"

    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), primary_key=True)
    sender_id: Mapped[int] = mapped_column(
        ForeignKey("sms_senders.id", ondelete="CASCADE"), index=True
    )
    # The last staff message already sent by SMS (the next text sends those after it).
    last_message_id: Mapped[int] = mapped_column(default=0, server_default="0")
    # The last note to the tipster (written with a move) already sent by SMS.
    last_note_id: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=minute_now)

    sender: Mapped[SmsSender] = relationship()


class SmsOutgoing(Base):
    """A reply waiting in the outbox (a delivery's target is "out:<id>"): its text sealed.

    The text may carry a follow-up code or what staff wrote: it is blanked once sent.
    """

    __tablename__ = "sms_outgoing"

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[int] = mapped_column(
        ForeignKey("sms_senders.id", ondelete="CASCADE"), index=True
    )
    text_sealed: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=minute_now)


class SmsWebhookEvent(Base):
    """An event already taken (its id's hash, per gateway): a repeat is ignored."""

    __tablename__ = "sms_webhook_events"
    __table_args__ = (
        UniqueConstraint("gateway_id", "event_hash"),
        Index("ix_sms_webhook_events_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    gateway_id: Mapped[int] = mapped_column(ForeignKey("sms_gateways.id", ondelete="CASCADE"))
    event_hash: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
