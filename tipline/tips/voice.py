"""Voice notes of tips: kept across a form error, attached to the tip, heard by few.

A voice can identify a neighbour (DOMAIN.md, Privacy), so it is treated like identity:
the note of an anonymous or confidential tip is heard only by the commune police (who
write what matters into a note for the village team); a named tipster's note is heard by
whoever may see the name (`can_see_identity`). The retention purge removes every note
with the personal data (tips/retention.py).

The audio itself is cleaned before it is stored (tipline/media/audio.py): one format (Ogg
Opus), no tag, no location, no device. The file sits in the photo store under a
server-made name ending ".ogg".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from tipline.core.errors import TiplineError
from tipline.core.timeutil import to_minute, utcnow
from tipline.extensions import db
from tipline.media.audio import CleanedAudio
from tipline.media.storage import is_voice_name, save_voice, storage_for
from tipline.tips.models import IdentityTier, Tip, TipVoiceNote

_PENDING_SALT = "pending-voice"
# Per tip, the one sent with it included: a few minutes of speech each is plenty, and the
# store is not a voicemail box.
MAX_VOICE_NOTES = 3
PENDING_MAX_AGE = 24 * 3600


@dataclass(frozen=True)
class StoredVoice:
    """A cleaned voice note already written, waiting for its tip (e.g. across a form error)."""

    filename: str
    seconds: int
    size_bytes: int


def store_voice(cleaned: CleanedAudio) -> StoredVoice:
    name = save_voice(storage_for(current_app), cleaned.data)
    return StoredVoice(name, max(1, round(cleaned.seconds)), len(cleaned.data))


def _serializer():
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_PENDING_SALT)


def pending_voice_token(voice: StoredVoice) -> str:
    """A signed token that lets a re-displayed form keep a voice note already stored."""
    return _serializer().dumps([voice.filename, voice.seconds, voice.size_bytes])


def pending_voice(token: str) -> StoredVoice | None:
    from itsdangerous import BadData

    if not token:
        return None
    try:
        name, seconds, size = _serializer().loads(token, max_age=PENDING_MAX_AGE)
    except (BadData, ValueError, TypeError):
        return None
    if not is_voice_name(name):
        return None
    try:
        if not storage_for(current_app).exists(name):
            return None
    except OSError:
        return None
    return StoredVoice(name, int(seconds), int(size))


def attach_voice(tip: Tip, voice: StoredVoice, *, now: datetime | None = None) -> TipVoiceNote:
    """Record the voice note of a tip just created (nothing counted: not a change of state)."""
    note = TipVoiceNote(
        tip_id=tip.id,
        filename=voice.filename,
        seconds=voice.seconds,
        size_bytes=voice.size_bytes,
        created_at=to_minute(now or utcnow()),
    )
    db.session.add(note)
    db.session.flush()
    return note


class VoiceLimit(TiplineError):
    """The tip already has MAX_VOICE_NOTES voice notes."""

    status_code = 422


def add_voice(tip: Tip, voice: StoredVoice, *, now: datetime | None = None) -> TipVoiceNote:
    """A voice note the tipster adds later, from the status page.

    Like a message or a photo added later it is tipster activity: the tip shows among
    "unread replies" and the staff who can act are alerted (workflow). Nothing is counted
    and no event is written (the note sent with the tip writes none either); the public
    timeline does not change. The file is removed when the limit refuses it.
    """
    from tipline.tips import workflow

    count = db.session.scalar(
        select(func.count()).select_from(TipVoiceNote).where(TipVoiceNote.tip_id == tip.id)
    )
    if count >= MAX_VOICE_NOTES:
        discard_unattached(voice)
        raise VoiceLimit(_l("Mỗi tin báo có tối đa %(n)d ghi âm.", n=MAX_VOICE_NOTES))
    at = now or utcnow()
    note = attach_voice(tip, voice, now=at)
    workflow.record_tipster_voice(tip, at)
    return note


def discard_unattached(voice: StoredVoice | None) -> None:
    """Remove the file of a voice note sent with a replay, unless a tip already holds it (a
    form shown again keeps its note by name: it may be the first post's own)."""
    if voice is None:
        return
    held = db.session.scalar(select(TipVoiceNote.id).where(TipVoiceNote.filename == voice.filename))
    if held is None:
        storage_for(current_app).delete(voice.filename)


def voice_notes(tip: Tip) -> list[TipVoiceNote]:
    return list(
        db.session.scalars(
            select(TipVoiceNote).where(TipVoiceNote.tip_id == tip.id).order_by(TipVoiceNote.id)
        )
    )


def can_hear_voice(tip: Tip, user) -> bool:
    """Who may hear a tip's voice note: the commune police for an anonymous or confidential
    tip; for a named tip, whoever may see the tipster's name."""
    from tipline.accounts.permissions import IDENTITY_READERS, can_see_identity, reading_roles

    if tip.identity_tier == IdentityTier.NAMED:
        return can_see_identity(tip, user)
    return bool(reading_roles(tip, user) & IDENTITY_READERS)
