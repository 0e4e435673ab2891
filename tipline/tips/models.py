"""Tips, their photos, their append-only history, and the texts kept apart for the purge.

One module on purpose (about 600 lines): these tables are one record, a tip, whose
relationships, constraints and enums refer to each other; split, every part would import
every other.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, time

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tipline.accounts.models import User
from tipline.core.db import Base
from tipline.core.enums import LabelledEnum, enum_column
from tipline.core.timeutil import utcnow
from tipline.places.models import Unit


class TipStatus(LabelledEnum):
    RECEIVED = "received"
    TRIAGED = "triaged"
    VERIFYING = "verifying"
    VERIFIED = "verified"
    RESOLVED = "resolved"
    UNFOUNDED = "unfounded"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"

    @classmethod
    def _labels(cls) -> dict:
        return {
            cls.RECEIVED: _l("Mới tiếp nhận"),
            cls.TRIAGED: _l("Đã tiếp nhận, đang xử lý"),
            cls.VERIFYING: _l("Đang xác minh"),
            cls.VERIFIED: _l("Đã xác minh"),
            cls.RESOLVED: _l("Đã giải quyết"),
            cls.UNFOUNDED: _l("Không có cơ sở"),
            cls.DUPLICATE: _l("Trùng lặp"),
            cls.REJECTED: _l("Không xử lý"),
        }

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATUSES


OPEN_STATUSES = frozenset(
    {TipStatus.RECEIVED, TipStatus.TRIAGED, TipStatus.VERIFYING, TipStatus.VERIFIED}
)
SETTLED_STATUSES = frozenset({TipStatus.RESOLVED, TipStatus.UNFOUNDED})
# Tips in these states count nowhere: they drop out of past figures too.
UNCOUNTED_STATUSES = frozenset({TipStatus.DUPLICATE, TipStatus.REJECTED})


class Outcome(LabelledEnum):
    MEDIATED = "mediated"
    WARNED = "warned"
    RECORDED = "recorded"
    SANCTIONED = "sanctioned"
    CRIMINAL_REFERRAL = "criminal_referral"
    SURRENDERED = "surrendered"
    OTHER = "other"

    @classmethod
    def _labels(cls) -> dict:
        return {
            cls.MEDIATED: _l("Hòa giải thành"),
            cls.WARNED: _l("Nhắc nhở, giáo dục"),
            cls.RECORDED: _l("Ghi nhận thông tin"),
            cls.SANCTIONED: _l("Xử phạt hành chính"),
            cls.CRIMINAL_REFERRAL: _l("Chuyển cơ quan điều tra"),
            cls.SURRENDERED: _l("Đối tượng truy nã ra đầu thú"),
            cls.OTHER: _l("Khác"),
        }


VILLAGE_OUTCOMES = frozenset({Outcome.MEDIATED, Outcome.WARNED, Outcome.RECORDED})


class RejectReason(LabelledEnum):
    SPAM = "spam"
    ABUSE = "abuse"
    OUT_OF_SCOPE = "out_of_scope"
    # Knowingly false (Nghị định 144/2021/NĐ-CP): commune police only, from any open state.
    FALSE_REPORT = "false_report"

    @classmethod
    def _labels(cls) -> dict:
        return {
            cls.SPAM: _l("Tin rác"),
            cls.ABUSE: _l("Nội dung xúc phạm, lạm dụng"),
            cls.OUT_OF_SCOPE: _l("Không thuộc phạm vi ANTT"),
            cls.FALSE_REPORT: _l("Tin báo sai sự thật"),
        }


class TipsterAnswer(LabelledEnum):
    """The tipster's answer to "was it settled?" after a tip is closed (tips.settled)."""

    DONE = "done"
    NOT_DONE = "not_done"
    UNKNOWN = "unknown"

    @classmethod
    def _labels(cls) -> dict:
        return {
            cls.DONE: _l("Đã xong"),
            cls.NOT_DONE: _l("Chưa"),
            cls.UNKNOWN: _l("Không biết"),
        }


class IdentityTier(LabelledEnum):
    ANONYMOUS = "anonymous"
    CONFIDENTIAL = "confidential"
    NAMED = "named"

    @classmethod
    def _labels(cls) -> dict:
        return {
            cls.ANONYMOUS: _l("Ẩn danh"),
            cls.CONFIDENTIAL: _l("Giữ bí mật danh tính"),
            cls.NAMED: _l("Công khai danh tính với tổ xử lý"),
        }


class Handler(LabelledEnum):
    """Who handles a tip now: the team of its village, or the commune police."""

    VILLAGE_TEAM = "village_team"
    COMMUNE_POLICE = "commune_police"

    @classmethod
    def _labels(cls) -> dict:
        return {cls.VILLAGE_TEAM: _l("Tổ bảo vệ ANTT thôn"), cls.COMMUNE_POLICE: _l("Công an xã")}


class EventKind(LabelledEnum):
    SUBMITTED = "submitted"
    TRIAGED = "triaged"
    VERIFYING = "verifying"
    VERIFIED = "verified"
    RESOLVED = "resolved"
    UNFOUNDED = "unfounded"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    ESCALATED = "escalated"
    MOVED = "moved"
    NOTE = "note"
    PHOTO_ADDED = "photo_added"
    ASSIGNED = "assigned"
    PRIORITY = "priority"
    MESSAGE = "message"
    TIPSTER_MESSAGE = "tipster_message"
    IDENTITY_REVEALED = "identity_revealed"
    TIPSTER_ANSWER = "tipster_answer"
    REOPENED = "reopened"
    REJECTION_UNDONE = "rejection_undone"
    # A held tip (possible spam, issue 21) judged "not spam": into the inbox (tips/held.py).
    RELEASED = "released"

    @classmethod
    def _labels(cls) -> dict:
        return {
            cls.SUBMITTED: _l("Gửi tin báo"),
            cls.TRIAGED: _l("Tiếp nhận"),
            cls.VERIFYING: _l("Bắt đầu xác minh"),
            cls.VERIFIED: _l("Xác minh xong"),
            cls.RESOLVED: _l("Giải quyết"),
            cls.UNFOUNDED: _l("Kết luận không có cơ sở"),
            cls.DUPLICATE: _l("Gộp vào tin trùng"),
            cls.REJECTED: _l("Không xử lý"),
            cls.ESCALATED: _l("Chuyển Công an xã"),
            cls.MOVED: _l("Chuyển địa bàn"),
            cls.NOTE: _l("Ghi chú"),
            cls.PHOTO_ADDED: _l("Thêm ảnh"),
            cls.ASSIGNED: _l("Giao người xử lý"),
            cls.PRIORITY: _l("Đổi mức ưu tiên"),
            cls.MESSAGE: _l("Nhắn người báo tin"),
            cls.TIPSTER_MESSAGE: _l("Người báo tin nhắn lại"),
            cls.IDENTITY_REVEALED: _l("Người báo tin cho biết danh tính"),
            cls.TIPSTER_ANSWER: _l("Người báo tin trả lời đã giải quyết chưa"),
            cls.REOPENED: _l("Mở lại tin báo"),
            cls.REJECTION_UNDONE: _l("Hủy quyết định không xử lý"),
            cls.RELEASED: _l("Xác nhận không phải tin rác"),
        }


class Priority(LabelledEnum):
    # The values sort alphabetically in reverse order of urgency (low < normal < urgent),
    # so "ORDER BY priority DESC" puts urgent tips on top and can use a plain index.
    URGENT = "urgent"
    NORMAL = "normal"
    LOW = "low"

    @classmethod
    def _labels(cls) -> dict:
        return {cls.URGENT: _l("Khẩn"), cls.NORMAL: _l("Bình thường"), cls.LOW: _l("Thấp")}


class TipSource(LabelledEnum):
    """How the tip reached Tipline: from the resident, or recorded by staff on their behalf."""

    ONLINE = "online"
    MEETING = "meeting"
    TIP_BOX = "tip_box"
    PHONE = "phone"
    IN_PERSON = "in_person"
    SMS = "sms"  # the resident texted the commune's or the province's number

    @classmethod
    def _labels(cls) -> dict:
        return {
            cls.ONLINE: _l("Người dân gửi trực tuyến"),
            cls.SMS: _l("Người dân nhắn tin SMS"),
            cls.MEETING: _l("Nghe tại cuộc họp"),
            cls.TIP_BOX: _l("Thùng thư góp ý"),
            cls.PHONE: _l("Qua điện thoại"),
            cls.IN_PERSON: _l("Người dân đến báo trực tiếp"),
        }


STAFF_SOURCES = (TipSource.MEETING, TipSource.TIP_BOX, TipSource.PHONE, TipSource.IN_PERSON)


def _public_id() -> str:
    return secrets.token_urlsafe(12)


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str | None] = mapped_column(String(120))
    sort_order: Mapped[int] = mapped_column(default=0)
    # A category in use is retired (no longer offered), never deleted.
    active: Mapped[bool] = mapped_column(default=True)
    # None: the deployment's defaults (TIPLINE_TRIAGE_DEFAULTS) apply.
    default_priority: Mapped[Priority | None] = mapped_column(
        enum_column(Priority, "category_priority")
    )
    response_days: Mapped[int | None]
    settle_days: Mapped[int | None]

    def __repr__(self) -> str:
        return f"<Category {self.code}>"

    @property
    def label(self) -> str:
        """The name in the reader's language (English when one is set and asked for)."""
        return localized_name(self.name, self.name_en)


def localized_name(name: str, name_en: str | None) -> str:
    """A name kept in the database in Vietnamese and, optionally, English."""
    from flask_babel import get_locale

    locale = get_locale() if name_en else None
    if locale is not None and locale.language == "en":
        return name_en
    return name


class TipsterContact(Base):
    """A tipster's name and phone, kept apart so the retention purge can blank them."""

    __tablename__ = "tipster_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    purged_at: Mapped[datetime | None]


_OPEN_SQL = "status IN ('received', 'triaged', 'verifying', 'verified')"


class Tip(Base):
    __tablename__ = "tips"
    __table_args__ = (
        CheckConstraint(
            "(status = 'resolved') = (outcome IS NOT NULL)", name="outcome_iff_resolved"
        ),
        CheckConstraint(
            "(status = 'rejected') = (reject_reason IS NOT NULL)", name="reason_iff_rejected"
        ),
        CheckConstraint(
            "(status = 'duplicate') = (duplicate_of_id IS NOT NULL)", name="target_iff_duplicate"
        ),
        CheckConstraint(
            "(identity_tier = 'anonymous') = (contact_id IS NULL)", name="contact_iff_identified"
        ),
        CheckConstraint("latitude IS NULL OR (latitude BETWEEN -90 AND 90)", name="latitude"),
        CheckConstraint("longitude IS NULL OR (longitude BETWEEN -180 AND 180)", name="longitude"),
        CheckConstraint("(latitude IS NULL) = (longitude IS NULL)", name="coordinates_pair"),
        CheckConstraint("duplicate_of_id IS NULL OR duplicate_of_id <> id", name="not_own_dup"),
        Index("ix_tips_unit_status", "unit_id", "status"),
        # The inbox's default order: urgent first, newest first.
        Index("ix_tips_priority_submitted", "priority", "submitted_at"),
        Index("ix_tips_assignee_status", "assignee_id", "status"),
        # Open tips are few and recent: the inbox counts read them through this index.
        Index(
            "ix_tips_open_unit",
            "unit_id",
            postgresql_where=text(_OPEN_SQL),
            sqlite_where=text(_OPEN_SQL),
        ),
        # Substring search: on PostgreSQL a trigram index (pg_trgm) serves '%...%'
        # (elsewhere it is a plain index, unused by such searches but harmless).
        Index(
            "ix_tips_search_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The id in every URL: random, so tips cannot be enumerated.
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=_public_id)
    # What the tipster reads and quotes ("TL-7K3M-9QX2"): random as well.
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    # HMAC of the follow-up code; the code itself is never stored.
    receipt_hash: Mapped[str] = mapped_column(String(64))
    # HMAC of the form's submission key: one tip per key, however often it is posted.
    submission_key: Mapped[str] = mapped_column(String(64), unique=True)

    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    # A village, or the commune itself when the resident does not know the village.
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    # The unit the resident sent it to; `unit_id` changes when staff move the tip.
    submitted_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    description: Mapped[str] = mapped_column(Text)
    place: Mapped[str | None] = mapped_column(String(300))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    occurred_on: Mapped[date | None] = mapped_column(Date)
    occurred_time: Mapped[time | None] = mapped_column(Time)
    # To the minute: finer times could match a tipster to a sighting.
    submitted_at: Mapped[datetime] = mapped_column(index=True)

    status: Mapped[TipStatus] = mapped_column(
        enum_column(TipStatus, "tip_status"), default=TipStatus.RECEIVED
    )
    handler: Mapped[Handler] = mapped_column(
        enum_column(Handler, "handler"), default=Handler.VILLAGE_TEAM
    )
    # Set when a village team member declared a conflict of interest: hidden from that team.
    hidden_from_village: Mapped[bool] = mapped_column(default=False)
    # Held for review as possible spam ("giữ lại: có thể là tin rác", issue 21): posted
    # without a solved puzzle while its commune or its client sent a flood. Counted like any
    # received tip, but out of the inbox's work and alerts until a staff member releases it
    # (or rejects it as spam).
    held: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Raised when the tipster signs out: every session token issued before stops working.
    tipster_session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    outcome: Mapped[Outcome | None] = mapped_column(enum_column(Outcome, "outcome"))
    reject_reason: Mapped[RejectReason | None] = mapped_column(
        enum_column(RejectReason, "reject_reason")
    )
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("tips.id"), index=True)

    # Milestones written by the workflow from its events; the counters read them.
    first_response_at: Mapped[datetime | None]
    verified_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # Reopened by its tipster ("not settled"), which may happen once: when, and the closing
    # it undid (that closing no longer counts; the tip was not open in between).
    reopened_at: Mapped[datetime | None]
    earlier_closed_at: Mapped[datetime | None]
    # The tipster's answer to "was it settled?" (one per tip, changeable in the window),
    # and when it was last given, to the minute.
    tipster_answer: Mapped[TipsterAnswer | None] = mapped_column(
        enum_column(TipsterAnswer, "tipster_answer")
    )
    tipster_answer_at: Mapped[datetime | None]

    identity_tier: Mapped[IdentityTier] = mapped_column(
        enum_column(IdentityTier, "identity_tier"), default=IdentityTier.ANONYMOUS
    )
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("tipster_contacts.id"))

    # Triage: set from the category's defaults when the tip is recorded (tips.intake).
    priority: Mapped[Priority] = mapped_column(
        enum_column(Priority, "priority"), default=Priority.NORMAL
    )
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    response_due_at: Mapped[datetime | None]
    settle_due_at: Mapped[datetime | None]
    source: Mapped[TipSource] = mapped_column(
        enum_column(TipSource, "tip_source"), default=TipSource.ONLINE
    )
    # The staff member who recorded a tip on a resident's behalf.
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Description and place folded for search ("Trộm cắp" is stored as "trom cap").
    search_text: Mapped[str] = mapped_column(Text, default="")
    # Last thing the tipster did (submission, later a reply): staff who have not opened
    # the tip since then have it unread.
    activity_at: Mapped[datetime | None]

    # Optimistic lock: two staff acting at once cannot both win.
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}

    category: Mapped[Category] = relationship(lazy="joined")
    unit: Mapped[Unit] = relationship(foreign_keys=[unit_id], lazy="joined")
    submitted_unit: Mapped[Unit] = relationship(foreign_keys=[submitted_unit_id])
    contact: Mapped[TipsterContact | None] = relationship()
    duplicate_of: Mapped[Tip | None] = relationship(remote_side=[id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    recorded_by: Mapped[User | None] = relationship(foreign_keys=[recorded_by_id])
    photos: Mapped[list[TipPhoto]] = relationship(
        back_populates="tip", order_by="TipPhoto.id", cascade="all, delete-orphan"
    )
    events: Mapped[list[TipEvent]] = relationship(
        foreign_keys="TipEvent.tip_id", order_by="TipEvent.id", viewonly=True
    )
    messages: Mapped[list[TipMessage]] = relationship(
        order_by="(TipMessage.created_at, TipMessage.id)", viewonly=True
    )

    def __repr__(self) -> str:
        return f"<Tip {self.reference} {self.status.value}>"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class TipPhoto(Base):
    __tablename__ = "tip_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=_public_id)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    # Server-made names of the cleaned image and its thumbnail under UPLOAD_DIR.
    filename: Mapped[str] = mapped_column(String(80))
    thumb_filename: Mapped[str] = mapped_column(String(80))
    width: Mapped[int]
    height: Mapped[int]
    size_bytes: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tip: Mapped[Tip] = relationship(back_populates="photos")


class TipVoiceNote(Base):
    """A voice note sent with a tip: cleaned Ogg Opus in the photo store, under a server-made
    name. A voice can identify a neighbour: who may hear it is in accounts/permissions."""

    __tablename__ = "tip_voice_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=_public_id)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(80))
    seconds: Mapped[int]
    size_bytes: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)  # to the minute


class NoteVisibility(LabelledEnum):
    INTERNAL = "internal"
    TIPSTER = "tipster"

    @classmethod
    def _labels(cls) -> dict:
        return {
            cls.INTERNAL: _l("Ghi chú nội bộ"),
            cls.TIPSTER: _l("Gửi người báo tin"),
        }


class Note(Base):
    """A text attached to an event; kept apart so the retention purge can blank it."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    visibility: Mapped[NoteVisibility] = mapped_column(
        enum_column(NoteVisibility, "note_visibility")
    )
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    purged_at: Mapped[datetime | None]

    tip: Mapped[Tip] = relationship()


class MessageKind(LabelledEnum):
    """What a message between staff and the tipster is."""

    QUESTION = "question"  # staff ask; the tipster is expected to answer
    STATUS_NOTE = "status_note"  # staff tell how things stand
    REPLY = "reply"  # the tipster answers
    INFORMATION = "information"  # the tipster adds something unasked

    @classmethod
    def _labels(cls) -> dict:
        return {
            cls.QUESTION: _l("Câu hỏi"),
            cls.STATUS_NOTE: _l("Thông báo tình hình"),
            cls.REPLY: _l("Trả lời"),
            cls.INFORMATION: _l("Thông tin bổ sung"),
        }

    @property
    def from_tipster(self) -> bool:
        return self in (MessageKind.REPLY, MessageKind.INFORMATION)


STAFF_MESSAGE_KINDS = (MessageKind.QUESTION, MessageKind.STATUS_NOTE)
TIPSTER_MESSAGE_KINDS = (MessageKind.REPLY, MessageKind.INFORMATION)


class TipMessage(Base):
    """A message between staff and the tipster; its text is blanked by the retention purge.

    Staff messages name no staff member to the tipster; tipster messages have no author.
    Times are kept to the minute, like the submission time.
    """

    __tablename__ = "tip_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    kind: Mapped[MessageKind] = mapped_column(enum_column(MessageKind, "message_kind"))
    # The staff member who wrote it; None for the tipster.
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    purged_at: Mapped[datetime | None]

    tip: Mapped[Tip] = relationship()
    author: Mapped[User | None] = relationship()


class TipEvent(Base):
    """One change in a tip's life. Append-only: never updated, never deleted."""

    __tablename__ = "tip_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    kind: Mapped[EventKind] = mapped_column(enum_column(EventKind, "event_kind"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # None for the tipster (who has no account) and for the system.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    from_status: Mapped[TipStatus | None] = mapped_column(enum_column(TipStatus, "from_status"))
    to_status: Mapped[TipStatus | None] = mapped_column(enum_column(TipStatus, "to_status"))
    outcome: Mapped[Outcome | None] = mapped_column(enum_column(Outcome, "event_outcome"))
    reject_reason: Mapped[RejectReason | None] = mapped_column(
        enum_column(RejectReason, "event_reject_reason")
    )
    related_tip_id: Mapped[int | None] = mapped_column(ForeignKey("tips.id"))
    from_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    to_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    note_id: Mapped[int | None] = mapped_column(ForeignKey("notes.id"))
    # Assignment events: who the tip went to (None: nobody any more).
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Priority events: the new priority.
    priority: Mapped[Priority | None] = mapped_column(enum_column(Priority, "event_priority"))
    # Tipster answer events: the answer given.
    answer: Mapped[TipsterAnswer | None] = mapped_column(enum_column(TipsterAnswer, "event_answer"))
    # Whether the tipster's timeline shows this event.
    public: Mapped[bool] = mapped_column(default=False)

    tip: Mapped[Tip] = relationship(foreign_keys=[tip_id])
    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    note: Mapped[Note | None] = relationship()
    related_tip: Mapped[Tip | None] = relationship(foreign_keys=[related_tip_id])
    from_unit: Mapped[Unit | None] = relationship(foreign_keys=[from_unit_id])
    to_unit: Mapped[Unit | None] = relationship(foreign_keys=[to_unit_id])


class IdentityAccess(Base):
    """Every view of a tipster's identity: who, when, which tip."""

    __tablename__ = "identity_access_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    purpose: Mapped[str] = mapped_column(String(40), default="view")

    user: Mapped[User] = relationship()


class TipCount(Base):
    """Counters at the finest grain (unit x category x local day x metric); readers add up."""

    __tablename__ = "tip_counts"

    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    # "received", "verified", "settled", or "outcome:<value>".
    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)

    __table_args__ = (Index("ix_tip_counts_day_metric", "day", "metric"),)


class TipRead(Base):
    """When a staff member last opened a tip: what is newer is unread for them."""

    __tablename__ = "tip_reads"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_tip_reads_tip_id", "tip_id"),)


class ResponseTemplate(Base):
    """A ready-made note to tipsters, kept per commune."""

    __tablename__ = "response_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    unit: Mapped[Unit] = relationship()
