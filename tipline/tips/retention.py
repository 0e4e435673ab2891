"""The retention limit: personal data of closed tips is removed once it is old enough.

What goes: the tipster's name and phone, the texts of notes (to the tipster and
internal) and of messages between staff and the tipster, and, when the deployment
says so, the photos. What stays: the tip's states, dates, category and unit, its
events (the rows remain; a purged note keeps its date and visibility, a purged
message its kind and minute, but both lose their text), the identity-access log, and
therefore every counter and the public timeline's states and dates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select

from tipline.core.timeutil import utcnow
from tipline.extensions import db
from tipline.media.storage import storage_for
from tipline.tips.models import (
    OPEN_STATUSES,
    Note,
    Tip,
    TipMessage,
    TipPhoto,
    TipsterContact,
    TipVoiceNote,
)


@dataclass
class PurgeReport:
    tips: int = 0
    contacts: int = 0
    notes: int = 0
    messages: int = 0
    photos: int = 0
    voice_notes: int = 0  # always removed: a voice is personal data (DOMAIN.md, Privacy)
    files: int = 0
    swept: dict[str, int] = field(default_factory=dict)  # rows removed by each of SWEEPS


# Personal data that other rooms tie to tips (a resident's push address, say): each
# registers `sweep(now, cutoff) -> rows removed`, run after every purge (tips import no
# other room, so they come to it).
SWEEPS: dict[str, Callable[[datetime, datetime], int]] = {}


def also_sweep(name: str, sweep: Callable[[datetime, datetime], int]) -> None:
    SWEEPS[name] = sweep


def purge_cutoff(days: int, now: datetime | None = None) -> datetime:
    return (now or utcnow()) - timedelta(days=days)


def purge_closed_tips(
    *,
    days: int | None = None,
    photos: bool | None = None,
    now: datetime | None = None,
    batch: int = 500,
) -> PurgeReport:
    """Remove the personal data of tips closed `days` ago or longer (idempotent).

    Commits after each batch so a province-sized purge neither holds one long
    transaction nor loses its progress if it is interrupted.
    """
    config = current_app.config
    days = config["TIPLINE_RETENTION_DAYS"] if days is None else days
    photos = config["TIPLINE_RETENTION_PHOTOS"] if photos is None else photos
    if days < 0:
        raise ValueError("retention days must not be negative")
    cutoff = purge_cutoff(days, now)
    purged_at = now or utcnow()
    storage = storage_for(current_app)
    report = PurgeReport()
    last_id = 0
    while True:
        tip_ids = list(
            db.session.scalars(
                select(Tip.id)
                .where(
                    Tip.id > last_id,
                    Tip.status.not_in(OPEN_STATUSES),
                    Tip.closed_at.is_not(None),
                    Tip.closed_at <= cutoff,
                    or_(*_personal_data_left(photos)),
                )
                .order_by(Tip.id)
                .limit(batch)
            )
        )
        if not tip_ids:
            break
        last_id = tip_ids[-1]
        report.tips += len(tip_ids)
        _purge_batch(tip_ids, photos, purged_at, storage, report)
        db.session.commit()
    for name, sweep in SWEEPS.items():
        report.swept[name] = sweep(purged_at, cutoff)
        db.session.commit()
    return report


def _personal_data_left(photos: bool) -> list:
    """Conditions under which a closed tip still holds something to remove."""
    conditions = [
        Tip.contact.has(TipsterContact.purged_at.is_(None)),
        select(Note.id).where(Note.tip_id == Tip.id, Note.body.is_not(None)).exists(),
        select(TipMessage.id)
        .where(TipMessage.tip_id == Tip.id, TipMessage.body.is_not(None))
        .exists(),
        select(TipVoiceNote.id).where(TipVoiceNote.tip_id == Tip.id).exists(),
    ]
    if photos:
        conditions.append(select(TipPhoto.id).where(TipPhoto.tip_id == Tip.id).exists())
    return conditions


def _purge_batch(tip_ids, photos: bool, purged_at: datetime, storage, report: PurgeReport):
    contacts = db.session.scalars(
        select(TipsterContact)
        .join(Tip, Tip.contact_id == TipsterContact.id)
        .where(Tip.id.in_(tip_ids), TipsterContact.purged_at.is_(None))
    )
    for contact in contacts:
        contact.name = None
        contact.phone = None
        contact.purged_at = purged_at
        report.contacts += 1
    notes = db.session.scalars(select(Note).where(Note.tip_id.in_(tip_ids), Note.body.is_not(None)))
    for note in notes:
        note.body = None
        note.purged_at = purged_at
        report.notes += 1
    messages = db.session.scalars(
        select(TipMessage).where(TipMessage.tip_id.in_(tip_ids), TipMessage.body.is_not(None))
    )
    for message in messages:
        message.body = None
        message.purged_at = purged_at
        report.messages += 1
    # Voice notes always go with the personal data, photos when the deployment says so.
    # Rows go in this transaction; files after it commits (see below).
    voice_names: list[str] = []
    for note in db.session.scalars(select(TipVoiceNote).where(TipVoiceNote.tip_id.in_(tip_ids))):
        voice_names.append(note.filename)
        db.session.delete(note)
        report.voice_notes += 1
    if voice_names and not photos:
        db.session.flush()
        db.session.commit()
        _delete_files(storage, voice_names, report)
    if photos:
        # Rows go in this transaction; files go after it commits, so a failure in
        # between leaves orphan files (which `photos prune` removes), never rows
        # pointing at missing files.
        names: list[str] = []
        for photo in db.session.scalars(select(TipPhoto).where(TipPhoto.tip_id.in_(tip_ids))):
            names += [photo.filename, photo.thumb_filename]
            db.session.delete(photo)
            report.photos += 1
        db.session.flush()
        db.session.commit()
        _delete_files(storage, names + voice_names, report)
    db.session.flush()


def _delete_files(storage, names: list[str], report: PurgeReport) -> None:
    for name in names:
        try:
            storage.delete(name)
        except OSError:
            current_app.logger.warning("retention: file %s left for the sweeper", name)
            continue
        report.files += 1
