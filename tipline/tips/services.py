"""What residents do: submit a tip, and follow it up with the receipt."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, time

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached, selectinload

from tipline.core import cache
from tipline.core.errors import TiplineError
from tipline.core.faults import crash_point
from tipline.core.timeutil import to_minute, utcnow
from tipline.extensions import db
from tipline.media.photos import ProcessedPhoto
from tipline.media.storage import save_photo, storage_for
from tipline.places.models import Unit
from tipline.places.services import UnitRef
from tipline.tips import workflow
from tipline.tips.intake import apply_intake_defaults
from tipline.tips.models import (
    Category,
    EventKind,
    IdentityTier,
    NoteVisibility,
    Tip,
    TipEvent,
    TipPhoto,
    TipSource,
    TipStatus,
    TipsterContact,
    TipVoiceNote,
    localized_name,
)

# 32 symbols without the look-alikes 0/O and 1/I: five bits a character.
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 16  # 80 bits
REFERENCE_LENGTH = 8  # 40 bits: public, but still not guessable in sequence
MAX_PHOTOS = 3  # per tip, counting those added later


def _encode(data: bytes, length: int) -> str:
    number = int.from_bytes(data, "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, 32)
        chars.append(ALPHABET[index])
    return "".join(chars)


def _receipt_key() -> bytes:
    configured = current_app.config.get("TIPLINE_RECEIPT_KEY")
    if configured:
        return configured.encode()
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, b"tipline-receipt-key", hashlib.sha256).digest()


def _mac(purpose: str, value: str) -> bytes:
    return hmac.new(_receipt_key(), f"{purpose}:{value}".encode(), hashlib.sha256).digest()


def normalize_code(text: str) -> str:
    """What the resident typed, reduced to the alphabet (spaces, dashes and case ignored)."""
    return "".join(ch for ch in text.upper() if ch.isascii() and ch.isalnum())


def format_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def code_for(submission_key: str) -> str:
    """The follow-up code of a submission, derived so that a resubmission shows it again."""
    return _encode(_mac("code", submission_key)[:10], CODE_LENGTH)


def hash_code(code: str) -> str:
    return _mac("receipt", normalize_code(code)).hex()


def hash_submission_key(submission_key: str) -> str:
    return _mac("submission", submission_key).hex()


def new_reference() -> str:
    raw = _encode(secrets.token_bytes(5), REFERENCE_LENGTH)
    return f"TL-{raw[:4]}-{raw[4:]}"


def normalize_reference(text: str) -> str:
    raw = normalize_code(text)
    # The "TL" prefix is optional, and a reference itself may start with T, L ("TLAB-CDEF").
    if len(raw) == REFERENCE_LENGTH + 2 and raw.startswith("TL"):
        raw = raw[2:]
    return f"TL-{raw[:4]}-{raw[4:]}" if len(raw) == REFERENCE_LENGTH else ""


def new_submission_key() -> str:
    return secrets.token_urlsafe(18)


@dataclass
class TipDraft:
    """A validated submission, as the public form or the API hands it over."""

    submission_key: str
    category: Category | CategoryRef
    unit: Unit | UnitRef
    description: str
    place: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    occurred_on: date | None = None
    occurred_time: time | None = None
    identity_tier: IdentityTier = IdentityTier.ANONYMOUS
    name: str | None = None
    phone: str | None = None
    photos: list[ProcessedPhoto | StoredPhoto] = field(default_factory=list)
    # Chosen on the phone when the tip was written offline (16 symbols of ALPHABET); None
    # derives it from the submission key. Either way only its hash is stored.
    follow_up_code: str | None = None
    # How it reached Tipline: the resident online, or staff recording it on their behalf.
    source: TipSource = TipSource.ONLINE
    recorded_by_id: int | None = None
    # Held for review as possible spam: posted without a solved puzzle during a flood
    # (tipline/public/puzzle.py). No staff alert until a staff member releases it.
    held: bool = False


@dataclass(frozen=True)
class CategoryRef:
    """A read-only copy of an active category, safe to share between requests and threads."""

    id: int
    code: str
    name: str
    sort_order: int
    # Every column, so that the copy put in a session has nothing left to load.
    columns: tuple[tuple[str, object], ...] = ()

    @classmethod
    def of(cls, category: Category) -> CategoryRef:
        columns = tuple(
            (column.key, getattr(category, column.key))
            for column in sa_inspect(Category).column_attrs
        )
        return cls(category.id, category.code, category.name, category.sort_order, columns)

    def __getattr__(self, name: str):
        for key, value in self.columns:
            if key == name:
                return value
        raise AttributeError(name)

    @property
    def label(self) -> str:
        """The name in the reader's language (see Category.label)."""
        return localized_name(self.name, self.name_en)

    def in_session(self) -> Category:
        """The category as a persistent instance of this session, without a query."""
        category = Category(**dict(self.columns))
        make_transient_to_detached(category)
        return db.session.merge(category, load=False)


@dataclass(frozen=True)
class StoredPhoto:
    """A photo already cleaned and written, waiting for its tip (e.g. across a form error)."""

    filename: str
    thumb_filename: str
    width: int
    height: int
    size_bytes: int


@dataclass(frozen=True)
class Receipt:
    tip: Tip
    code: str
    created: bool
    # False for a replay more than TIPLINE_RESUBMIT_CODE_MINUTES after the first post:
    # a resident's page then says "already received" with the reference only (a shared
    # phone's Back button must not show the code to whoever holds the phone next).
    code_shown: bool = True

    @property
    def formatted_code(self) -> str:
        return format_code(self.code)


def store_photo(processed: ProcessedPhoto) -> StoredPhoto:
    name, thumb = save_photo(storage_for(current_app), processed)
    return StoredPhoto(name, thumb, processed.width, processed.height, len(processed.data))


class ReceiptMismatch(TiplineError):
    """A replay of a recorded submission that brings another follow-up code."""

    status_code = 409


class FormAlreadySent(TiplineError):
    """A form whose key was already used, sent again with another text: not a replay."""

    status_code = 409


def valid_code(code: str) -> bool:
    return len(code) == CODE_LENGTH and all(ch in ALPHABET for ch in code)


def submit_tip(draft: TipDraft, *, now: datetime | None = None, alone: bool = False) -> Receipt:
    """Record a tip once per submission key; a repeat gives back the same receipt.

    The follow-up code is bound to the submission the first time it arrives. A replay
    (a phone's outbox sending again, hours later) is answered with the receipt only when
    it brings the same code; with another code it learns nothing, not even the reference.

    `alone`: the caller's transaction holds nothing but this tip (a resident's form, a
    partner's POST). The tip is then written without a savepoint (two round trips fewer
    per submission), and the rare collision (the same form twice at once, a reference
    drawn twice) rolls the whole transaction back before looking again. Callers that
    record several tips in one transaction leave it False.
    """
    key_hash = hash_submission_key(draft.submission_key)
    if draft.follow_up_code is not None:
        code = normalize_code(draft.follow_up_code)
        if not valid_code(code):
            raise ValueError("a follow-up code is 16 symbols of ALPHABET")
    else:
        code = code_for(draft.submission_key)
    # Alone, the unique submission key itself finds a replay (the INSERT fails): a first
    # post, by far the common case, costs no look-up.
    existing = None if alone else _by_submission_key(key_hash)
    if existing is not None:
        return _replayed(existing, code, draft, now)

    photos = [p if isinstance(p, StoredPhoto) else store_photo(p) for p in draft.photos]
    crash_point("submit.after_photos")
    submitted_at = to_minute(now or utcnow())
    for _ in range(5):
        tip = _new_tip(draft, key_hash, code, submitted_at, photos)
        try:
            with nullcontext() if alone else db.session.begin_nested():
                db.session.add(tip)
                db.session.flush()
                workflow.record_submission(tip, submitted_at)
                db.session.flush()
        except IntegrityError:
            if alone:
                db.session.rollback()
            existing = _by_submission_key(key_hash)
            if existing is not None:  # the same form again (or twice at once)
                _discard_unattached(photos)  # the first post's photos are the tip's
                return _replayed(existing, code, draft, now)
            taken = db.session.scalar(select(Tip.id).where(Tip.reference == tip.reference))
            if taken is None:
                raise  # not a collision: a real constraint says no
            continue  # a reference collision: draw again
        crash_point("submit.after_flush")
        return Receipt(tip, code, created=True)
    raise RuntimeError("could not allocate a unique tip reference")


def _replayed(existing: Tip, code: str, draft: TipDraft, now: datetime | None) -> Receipt:
    """The receipt of a form sent again: never a second tip.

    Only the same form is a replay: the same text, sent to the same unit. A form
    whose key was used for another text (a page reloaded after its tip was sent, then
    filled in anew) is refused, and the resident's page offers a fresh form.
    """
    if not hmac.compare_digest(existing.receipt_hash, hash_code(code)):
        raise ReceiptMismatch(
            _l(
                "Tin này đã được gửi trước đó với một mã tra cứu khác. "
                "Hãy tra cứu bằng mã bạn nhận được lần đầu."
            )
        )
    if not _same_form(existing, draft):
        raise FormAlreadySent(
            _l(
                "Biểu mẫu này đã được dùng để gửi một tin báo khác. Nội dung bạn vừa nhập "
                "vẫn còn nguyên: hãy bấm Gửi tin báo một lần nữa để gửi thành tin mới."
            )
        )
    window = int(current_app.config["TIPLINE_RESUBMIT_CODE_MINUTES"]) * 60
    age = ((now or utcnow()) - existing.submitted_at).total_seconds()
    return Receipt(existing, code, created=False, code_shown=age <= window)


def _same_form(tip: Tip, draft: TipDraft) -> bool:
    # What staff may change later (unit, category) is not compared: the unit it was sent
    # to and its text are what the form said.
    if tip.submitted_unit_id != draft.unit.id:
        return False
    # A text removed by the retention purge cannot be compared: the key decides alone.
    return not tip.description or tip.description == draft.description


def _discard_unattached(photos: list[StoredPhoto]) -> None:
    """Remove the files of photos sent with a replay, unless a tip already holds them (a
    form shown again keeps its photos by name: they may be the first post's own)."""
    if not photos:
        return
    names = [photo.filename for photo in photos]
    held = set(db.session.scalars(select(TipPhoto.filename).where(TipPhoto.filename.in_(names))))
    storage = storage_for(current_app)
    for photo in photos:
        if photo.filename not in held:
            storage.delete(photo.filename)
            storage.delete(photo.thumb_filename)


def _by_submission_key(key_hash: str) -> Tip | None:
    # With its photos: the receipt shows their number, and reads nothing after the commit.
    return db.session.scalar(
        select(Tip).where(Tip.submission_key == key_hash).options(selectinload(Tip.photos))
    )


def _new_tip(
    draft: TipDraft, key_hash: str, code: str, submitted_at: datetime, photos: list[StoredPhoto]
) -> Tip:
    contact = None
    if draft.identity_tier != IdentityTier.ANONYMOUS:
        contact = TipsterContact(name=draft.name, phone=draft.phone, created_at=submitted_at)
    category = draft.category
    if isinstance(category, CategoryRef):
        category = category.in_session()
    # A cached unit is set by id only: nothing in recording a tip reads the unit itself.
    unit = {"unit": draft.unit} if isinstance(draft.unit, Unit) else {}
    tip = Tip(
        reference=new_reference(),
        receipt_hash=hash_code(code),
        submission_key=key_hash,
        category=category,
        category_id=category.id,
        **unit,
        unit_id=draft.unit.id,
        submitted_unit_id=draft.unit.id,
        description=draft.description,
        place=draft.place,
        latitude=draft.latitude,
        longitude=draft.longitude,
        occurred_on=draft.occurred_on,
        occurred_time=draft.occurred_time,
        submitted_at=submitted_at,
        status=TipStatus.RECEIVED,
        identity_tier=draft.identity_tier,
        contact=contact,
        source=draft.source,
        recorded_by_id=draft.recorded_by_id,
        held=draft.held,
        # Always set, even empty: the receipt then reads the photos without a query.
        photos=[
            TipPhoto(
                filename=photo.filename,
                thumb_filename=photo.thumb_filename,
                width=photo.width,
                height=photo.height,
                size_bytes=photo.size_bytes,
                created_at=submitted_at,
            )
            for photo in photos
        ],
    )
    apply_intake_defaults(tip)
    return tip


class PhotoLimit(TiplineError):
    status_code = 422


def add_photos(tip: Tip, photos: list[StoredPhoto], *, now: datetime | None = None) -> int:
    """Attach photos the tipster adds later, from the status page; returns how many.

    Re-encoding is deterministic, so a replayed upload (a retry after a lost answer)
    has the same size and dimensions as the photo it repeats and is not added twice.
    """
    held = {(p.width, p.height, p.size_bytes) for p in tip.photos}
    fresh = []
    for photo in photos:
        shape = (photo.width, photo.height, photo.size_bytes)
        if shape not in held:
            held.add(shape)
            fresh.append(photo)
    if len(tip.photos) + len(fresh) > MAX_PHOTOS:
        raise PhotoLimit(_l("Mỗi tin báo có tối đa %(n)d ảnh.", n=MAX_PHOTOS))
    if not fresh:
        return 0
    at = to_minute(now or utcnow())
    for photo in fresh:
        tip.photos.append(
            TipPhoto(
                filename=photo.filename,
                thumb_filename=photo.thumb_filename,
                width=photo.width,
                height=photo.height,
                size_bytes=photo.size_bytes,
                created_at=at,
            )
        )
    # Not a change of state: an entry in the tip's public timeline, nothing counted.
    db.session.add(TipEvent(tip=tip, kind=EventKind.PHOTO_ADDED, at=at, public=True))
    # New material from the tipster: staff see the tip among "unread replies".
    workflow.record_tipster_photos(tip, now or utcnow())
    db.session.flush()
    return len(fresh)


# --- follow-up -----------------------------------------------------------------------


def find_by_receipt(reference: str, code: str) -> Tip | None:
    """The tip for a reference and follow-up code, or None; both paths do the same work.

    A wrong code for a known reference and an unknown reference cost the same: one indexed
    query for two short columns (loading the whole tip, with its category and unit, took
    measurably longer than finding no row) and one constant-time compare, against a dummy
    hash when there is no row. Only the right code loads the tip.
    """
    expected = hash_code(code)
    row = db.session.execute(
        select(Tip.id, Tip.receipt_hash).where(Tip.reference == normalize_reference(reference))
    ).first()
    stored = row.receipt_hash if row is not None else _NO_RECEIPT
    if hmac.compare_digest(stored, expected) and row is not None:
        return db.session.get(Tip, row.id)
    return None


_NO_RECEIPT = "0" * 64  # the length of a real hash; no code hashes to it


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    status: TipStatus | None
    kind: EventKind
    note: str | None = None
    merged: bool = False  # an entry of the tip this one was merged into


def public_timeline(tip: Tip) -> list[TimelineEntry]:
    """What the tipster may see: states, dates, and notes written for them."""
    entries = [_public_entry(e) for e in _public_events(tip)]
    if tip.status == TipStatus.DUPLICATE and tip.duplicate_of is not None:
        entries += [
            TimelineEntry(at=e.at, status=e.to_status, kind=e.kind, merged=True)
            for e in _public_events(tip.duplicate_of)
            if e.kind != EventKind.NOTE
        ]
    return entries


def _public_events(tip: Tip) -> list[TipEvent]:
    return list(
        db.session.scalars(
            select(TipEvent)
            .where(TipEvent.tip_id == tip.id, TipEvent.public.is_(True))
            .order_by(TipEvent.at, TipEvent.id)
        )
    )


def _public_entry(event: TipEvent) -> TimelineEntry:
    note = None
    if event.note is not None and event.note.visibility == NoteVisibility.TIPSTER:
        note = event.note.body
    status = event.to_status if event.kind != EventKind.NOTE else None
    return TimelineEntry(at=event.at, status=status, kind=event.kind, note=note)


def public_status(tip: Tip) -> TipStatus:
    """The status the tipster sees: a merged tip shows the status of the tip it joined."""
    if tip.status == TipStatus.DUPLICATE and tip.duplicate_of is not None:
        return tip.duplicate_of.status
    return tip.status


# --- photos waiting for their tip ------------------------------------------------------

_PENDING_SALT = "pending-photo"
PENDING_MAX_AGE = 24 * 3600


def _serializer():
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_PENDING_SALT)


def pending_photo_token(photo: StoredPhoto) -> str:
    """A signed token that lets a re-displayed form keep a photo already cleaned and stored."""
    return _serializer().dumps(
        [photo.filename, photo.thumb_filename, photo.width, photo.height, photo.size_bytes]
    )


def pending_photo(token: str) -> StoredPhoto | None:
    from itsdangerous import BadData

    try:
        name, thumb, width, height, size = _serializer().loads(token, max_age=PENDING_MAX_AGE)
    except (BadData, ValueError, TypeError):
        return None
    try:
        if not storage_for(current_app).exists(name):
            return None
    except OSError:
        return None
    return StoredPhoto(name, thumb, int(width), int(height), int(size))


def active_categories() -> list[Category]:
    return list(
        db.session.scalars(
            select(Category).where(Category.active).order_by(Category.sort_order, Category.name)
        )
    )


def category_by_code(code: str) -> Category | None:
    return db.session.scalar(select(Category).where(Category.code == code, Category.active))


def cached_categories() -> tuple[CategoryRef, ...]:
    """`active_categories()`, from the reference cache."""
    return cache.reference(
        "categories",
        lambda: tuple(CategoryRef.of(c) for c in active_categories()),
        tables=(Category.__tablename__,),
    )


def cached_category(code: str) -> CategoryRef | None:
    """An active category by code, from the reference cache."""
    return next((c for c in cached_categories() if c.code == code), None)


def prune_orphan_photos(older_than_seconds: float, *, now: float | None = None) -> list[str]:
    """Delete stored photos no tip refers to (forms abandoned after an error), once old."""
    import time

    storage = storage_for(current_app)
    used = set()
    for name, thumb in db.session.execute(select(TipPhoto.filename, TipPhoto.thumb_filename)):
        used.update((name, thumb))
    # Voice notes share the store (server-made names ending .ogg): theirs are in use too.
    used.update(db.session.scalars(select(TipVoiceNote.filename)))
    limit = (now if now is not None else time.time()) - older_than_seconds
    removed = []
    for name, modified in list(storage.list()):
        if name not in used and modified < limit:
            storage.delete(name)
            removed.append(name)
    return removed
