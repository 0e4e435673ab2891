"""Voice notes through the app (issue 21): the tip form takes a recording or a phone's audio
file and keeps only clean Ogg Opus; hostile files are refused with nothing lost and nothing
stored; only those allowed hear a note; retention removes notes and their files; the
microphone and blob: media are allowed on the form's pages only."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import av
import pytest
from sqlalchemy import func, select

from tipline.accounts.permissions import can_see_identity
from tipline.extensions import db
from tipline.media.audio import clean_audio
from tipline.media.storage import storage_for
from tipline.tips import workflow
from tipline.tips.models import IdentityTier, Outcome, Tip, TipEvent, TipVoiceNote
from tipline.tips.services import prune_orphan_photos
from tipline.tips.voice import attach_voice, store_voice
from tipline.tips.workflow import Action

from .audio_samples import PERSON, encode, ogg_declaring, phone_m4a, wav_with_rate
from .test_audio import RECORDERS
from .test_public import (
    FormValues,
    assert_values_kept,
    field_error,
    post_tip,
    receipt_of,
    the_tip,
    tip_count,
    tip_form,
)

ONLY_POLICE = "Có ghi âm (chỉ Công an xã nghe được)"


def voice_upload(data: bytes, filename: str = "ghi-am.m4a", mimetype: str = "audio/mp4"):
    return (io.BytesIO(data), filename, mimetype)


def stored_files(app) -> set[str]:
    return {name for name, _ in storage_for(app).list()}


def read_back(app, name: str) -> dict:
    data = storage_for(app).get(name)
    with av.open(io.BytesIO(data)) as container:
        tags = dict(container.metadata)
        for stream in container.streams:
            tags |= dict(stream.metadata)
        return {
            "format": container.format.name,
            "codecs": [s.codec_context.name for s in container.streams],
            "tags": tags,
            "data": data,
        }


def tip_with_voice(make_tip, world, tier: IdentityTier, **draft) -> tuple[Tip, TipVoiceNote]:
    if tier != IdentityTier.ANONYMOUS:
        draft.setdefault("name", "Lê Thị Giọng")
        draft.setdefault("phone", "0912345678")
    tip = make_tip(world.a1, identity_tier=tier, **draft)
    note = attach_voice(
        tip, store_voice(clean_audio(phone_m4a(), max_seconds=120, max_bytes=10**7))
    )
    db.session.commit()
    return tip, note


# ------------------------------------------------------------------------------ the form


@pytest.mark.parametrize("name", list(RECORDERS))
def test_every_recorder_format_sent_with_the_form_is_kept_as_clean_ogg_opus(
    app, client, world, name
):
    response = post_tip(client, tip_form(voice=voice_upload(RECORDERS[name](), "x.bin", "")))
    assert response.status_code == 200, response.get_data(as_text=True)
    tip = the_tip(receipt_of(response)[0])
    notes = list(db.session.scalars(select(TipVoiceNote).where(TipVoiceNote.tip_id == tip.id)))
    assert len(notes) == 1
    note = notes[0]
    assert re.fullmatch(r"[A-Za-z0-9_-]{24}\.ogg", note.filename)
    assert 1 <= note.seconds <= 3
    assert note.created_at.second == 0 and note.created_at.microsecond == 0
    seen = read_back(app, note.filename)
    assert seen["format"] == "ogg"
    assert seen["codecs"] == ["opus"]
    assert seen["tags"] == {}
    assert PERSON.encode() not in seen["data"]
    assert note.size_bytes == len(seen["data"])


def test_a_phone_note_loses_its_place_and_owner_through_the_form(app, client, world):
    response = post_tip(client, tip_form(voice=voice_upload(phone_m4a())))
    assert response.status_code == 200
    tip = the_tip(receipt_of(response)[0])
    note = db.session.scalar(select(TipVoiceNote).where(TipVoiceNote.tip_id == tip.id))
    data = read_back(app, note.filename)["data"]
    for trace in (b"loci", b"\xa9xyz", b"+19.8067", b"Nguyen", b"Phone", b"Ghi am"):
        assert trace not in data


def test_a_voice_note_changes_no_counter_and_adds_no_event(client, world):
    plain = the_tip(receipt_of(post_tip(client, tip_form()))[0])
    spoken = the_tip(receipt_of(post_tip(client, tip_form(voice=voice_upload(phone_m4a()))))[0])
    kinds = [
        [e.kind for e in db.session.scalars(select(TipEvent).where(TipEvent.tip_id == t.id))]
        for t in (plain, spoken)
    ]
    assert kinds[0] == kinds[1]
    assert spoken.status == plain.status


HOSTILE = {
    "three hours declared as seconds": lambda: ogg_declaring(
        encode("ogg", "libopus", rate=48000), 3 * 3600
    ),
    "a sample rate of zero": lambda: wav_with_rate(0),
    "a second that lasts hours": lambda: wav_with_rate(1),
    "a truncated m4a": lambda: phone_m4a()[: len(phone_m4a()) // 2],
    "html named .m4a": lambda: b"<html><script>alert(1)</script></html>" * 20,
    "a zip named .m4a": lambda: b"PK\x03\x04" + bytes(400),
    "empty": lambda: b"",
    "a video without sound": lambda: encode("mp4", "aac", video=True, audio=False),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_audio_through_the_form_is_refused_with_nothing_lost_or_stored(
    app, client, world, name
):
    before = stored_files(app)
    sent = tip_form()
    response = post_tip(client, {**sent, "voice": voice_upload(HOSTILE[name]())})
    html = response.get_data(as_text=True)
    assert response.status_code == 422, html
    message = field_error(html, "voice")
    assert message and "Traceback" not in message
    assert_values_kept(html, sent)
    assert FormValues(html).values["voice_token"] == ""
    assert tip_count() == 0
    assert db.session.scalar(select(func.count(TipVoiceNote.id))) == 0
    assert stored_files(app) == before


def test_a_video_renamed_m4a_keeps_its_sound_only(app, client, world):
    video = encode("mp4", "aac", video=True, metadata={"artist": PERSON})
    response = post_tip(client, tip_form(voice=voice_upload(video)))
    assert response.status_code == 200
    tip = the_tip(receipt_of(response)[0])
    note = db.session.scalar(select(TipVoiceNote).where(TipVoiceNote.tip_id == tip.id))
    seen = read_back(app, note.filename)
    assert seen["codecs"] == ["opus"] and seen["tags"] == {}


def test_a_voice_note_is_kept_across_a_form_error(app, client, world):
    sent = tip_form(description="")
    response = post_tip(client, {**sent, "voice": voice_upload(phone_m4a())})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "đã được giữ lại" in html
    again = FormValues(html).values
    assert again["voice_token"]
    assert tip_count() == 0
    again["description"] = "Có người lạ đi qua lại nhiều lần trong đêm."
    response = post_tip(client, again)
    assert response.status_code == 200, response.get_data(as_text=True)
    tip = the_tip(receipt_of(response)[0])
    assert (
        db.session.scalar(select(func.count(TipVoiceNote.id)).where(TipVoiceNote.tip_id == tip.id))
        == 1
    )


def test_a_refused_file_leaves_a_kept_note_as_it_is(client, world):
    html = post_tip(client, tip_form(description="", voice=voice_upload(phone_m4a()))).get_data(
        as_text=True
    )
    again = FormValues(html).values
    response = post_tip(client, {**again, "voice": voice_upload(b"not audio" * 40)})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(html, "voice")
    assert FormValues(html).values["voice_token"] == again["voice_token"]


def test_a_forged_voice_token_keeps_nothing(client, world):
    response = post_tip(client, tip_form(voice_token="abc.def.ghi"))
    assert response.status_code == 200
    tip = the_tip(receipt_of(response)[0])
    assert (
        db.session.scalar(select(func.count(TipVoiceNote.id)).where(TipVoiceNote.tip_id == tip.id))
        == 0
    )


def test_the_form_without_javascript_offers_an_audio_file_and_says_who_hears_it(client, world):
    html = client.get("/gui-tin?xa=A&phieu=" + "k" * 32).get_data(as_text=True)
    files = re.findall(r'<input[^>]*type="file"[^>]*>', html)
    assert len(files) == 2
    assert 'name="photo"' in files[0]  # the photo input stays the first file input
    assert 'name="voice"' in files[1] and 'accept="audio/*' in files[1]
    text = unescape(re.sub(r"\s+", " ", html))
    assert "Giọng nói được giữ nguyên như khi bạn nói" in text
    assert "chỉ Công an xã được nghe" in text
    # The recorder is the script's: hidden without it.
    assert re.search(r"<p [^>]*data-voice-recorder[^>]*hidden", html)


# ---------------------------------------------------------------------------- headers


def test_microphone_and_blob_media_are_allowed_on_the_recording_pages_only(client, world):
    """The tip form and the session's status page (tests/test_voice_status.py) record."""
    form = client.get("/gui-tin?xa=A&phieu=" + "k" * 32)
    assert "microphone=(self)" in form.headers["Permissions-Policy"]
    assert "media-src 'self' blob:" in form.headers["Content-Security-Policy"]
    posted = post_tip(client, tip_form(description=""))
    assert "microphone=(self)" in posted.headers["Permissions-Policy"]
    for other in ("/", "/tra-cuu", "/staff/login"):
        response = client.get(other)
        assert "microphone=()" in response.headers["Permissions-Policy"], other
        assert "blob:" not in response.headers["Content-Security-Policy"], other


# ---------------------------------------------------------------------- who hears it


@pytest.mark.parametrize("tier", [IdentityTier.ANONYMOUS, IdentityTier.CONFIDENTIAL])
def test_only_the_commune_police_hear_an_anonymous_or_confidential_note(
    app, world, make_tip, login, tier
):
    tip, note = tip_with_voice(make_tip, world, tier)
    url = f"/staff/giong-noi/{note.public_id}"
    police = login("police_a")
    response = police.get(url)
    assert response.status_code == 200
    assert response.mimetype == "audio/ogg"
    assert "no-store" in response.headers["Cache-Control"]
    assert response.data == storage_for(app).get(note.filename)
    page = police.get(f"/staff/tips/{tip.public_id}").get_data(as_text=True)
    assert f'<audio controls preload="none" src="{url}"' in page
    for name in ("member_a1", "leader_a1", "committee_a", "officer", "admin", "police_b"):
        client = login(name)
        assert client.get(url).status_code == 404, name
        page = client.get(f"/staff/tips/{tip.public_id}")
        if page.status_code == 200:
            assert ONLY_POLICE in page.get_data(as_text=True), name
            assert url not in page.get_data(as_text=True)


def test_a_named_note_is_heard_by_whoever_may_see_the_name(app, world, make_tip, login):
    tip, note = tip_with_voice(make_tip, world, IdentityTier.NAMED)
    url = f"/staff/giong-noi/{note.public_id}"
    heard = set()
    for name in ("member_a1", "leader_a1", "leader_a2", "police_a", "committee_a", "officer"):
        allowed = can_see_identity(db.session.get(Tip, tip.id), world.user(name))
        status = login(name).get(url).status_code
        assert status == (200 if allowed else 404), name
        if allowed:
            heard.add(name)
    assert "police_a" in heard
    assert "leader_a2" not in heard


def test_a_missing_note_and_anonymous_visitors_get_nothing(app, world, make_tip, client, login):
    _tip, note = tip_with_voice(make_tip, world, IdentityTier.ANONYMOUS)
    assert client.get(f"/staff/giong-noi/{note.public_id}").status_code == 302
    assert login("police_a").get("/staff/giong-noi/not-a-real-id").status_code == 404


def test_the_printable_record_says_a_note_exists(world, make_tip, login):
    tip, _note = tip_with_voice(make_tip, world, IdentityTier.CONFIDENTIAL)
    page = login("leader_a1").get(f"/staff/tips/{tip.public_id}/print")
    assert page.status_code == 200
    assert "Có ghi âm của người báo tin" in page.get_data(as_text=True)


# ------------------------------------------------------------------------- retention


def _close(tip: Tip, world, at: datetime) -> None:
    leader = world.user("leader_a1")
    for offset, action in enumerate([Action.TRIAGE, Action.START_VERIFICATION, Action.VERIFY]):
        workflow.transition(tip, action, leader, at=at - timedelta(days=2 - offset))
    workflow.transition(
        tip,
        Action.RESOLVE,
        leader,
        outcome=Outcome.MEDIATED,
        note="Hai bên đã hòa giải.",
        note_to_tipster=True,
        at=at,
    )
    db.session.commit()


@pytest.mark.parametrize("photos", [False, True])
def test_retention_removes_voice_notes_and_their_files(app, world, make_tip, photos):
    from tipline.tips.retention import purge_closed_tips

    closed = datetime(2025, 1, 10, 3, 0, tzinfo=UTC)
    tip, note = tip_with_voice(make_tip, world, IdentityTier.NAMED, now=closed - timedelta(days=3))
    name = note.filename
    _close(tip, world, closed)
    assert storage_for(app).exists(name)
    report = purge_closed_tips(days=30, photos=photos)
    assert report.voice_notes == 1
    assert db.session.scalar(select(func.count(TipVoiceNote.id))) == 0
    assert not storage_for(app).exists(name)
    assert purge_closed_tips(days=30, photos=photos).tips == 0  # nothing left to remove


def test_orphan_voice_files_are_pruned_and_attached_ones_kept(app, world, make_tip):
    _tip, note = tip_with_voice(make_tip, world, IdentityTier.ANONYMOUS)
    orphan = store_voice(clean_audio(phone_m4a(), max_seconds=120, max_bytes=10**7))
    removed = prune_orphan_photos(-60)  # everything counts as old
    assert orphan.filename in removed
    assert note.filename not in removed
    assert storage_for(app).exists(note.filename)
    assert not storage_for(app).exists(orphan.filename)


def test_no_voice_file_is_left_outside_the_store(app):
    root = Path(app.config["UPLOAD_DIR"])
    assert all(p.suffix in {".jpg", ".ogg"} for p in root.rglob("*") if p.is_file())


def test_a_replayed_form_keeps_one_note_and_leaves_no_extra_file(app, client, world):
    sent = tip_form()
    first = post_tip(client, {**sent, "voice": voice_upload(phone_m4a())})
    assert first.status_code == 200
    files = stored_files(app)
    again = post_tip(client, {**sent, "voice": voice_upload(phone_m4a())})
    assert again.status_code == 200
    assert receipt_of(again)[0] == receipt_of(first)[0]
    assert db.session.scalar(select(func.count(TipVoiceNote.id))) == 1
    assert stored_files(app) == files


def test_the_outbox_json_answer_names_a_refused_voice_note(client, world):
    response = post_tip(
        client,
        tip_form(voice=voice_upload(b"\x00" * 300)),
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 422
    assert response.get_json()["fields"]["voice"]
    assert tip_count() == 0
