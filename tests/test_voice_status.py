"""A voice note added from the status page (issue 21): within the tipster's session, cleaned
like the tip form's, a few per tip, staff alerted as for a message; never without a session."""

from __future__ import annotations

import io
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tipline.alerts.channels.base import TIPSTER_REPLY
from tipline.alerts.models import Notification
from tipline.extensions import db
from tipline.tips import workflow
from tipline.tips.models import TipVoiceNote
from tipline.tips.services import ALPHABET
from tipline.tips.voice import MAX_VOICE_NOTES
from tipline.tips.workflow import Action

from .audio_samples import phone_m4a

PERSON = "Nguyễn Văn Hàng Xóm"


def sign_in(client, tip, code: str):
    response = client.post("/tra-cuu", data={"reference": tip.reference, "code": code})
    assert response.status_code == 200
    return response


def signed_in_tip(client, make_tip, world, **draft):
    code = "".join(secrets.choice(ALPHABET) for _ in range(16))
    tip = make_tip(world.a1, follow_up_code=code, **draft)
    db.session.commit()
    sign_in(client, tip, code)
    tip.code = code  # for a test that signs in again
    return tip


def send_voice(client, data: bytes, filename: str = "ghi-am.m4a"):
    return client.post(
        "/tra-cuu/tin/ghi-am",
        data={"voice": (io.BytesIO(data), filename, "audio/mp4")},
        content_type="multipart/form-data",
    )


def notes_of(tip) -> list[TipVoiceNote]:
    return list(db.session.scalars(select(TipVoiceNote).where(TipVoiceNote.tip_id == tip.id)))


def test_the_status_page_offers_the_recorder_and_says_who_hears(client, make_tip, world):
    signed_in_tip(client, make_tip, world)
    response = client.get("/tra-cuu/tin")
    html = response.get_data(as_text=True)
    assert 'action="/tra-cuu/tin/ghi-am"' in html and "data-voice-recorder" in html
    assert "chỉ Công an xã được nghe" in html
    assert f"Còn thêm được {MAX_VOICE_NOTES} ghi âm." in html
    # The page may use the microphone (this site only) and play the recording's preview.
    assert "microphone=(self)" in response.headers["Permissions-Policy"]
    assert "media-src 'self' blob:" in response.headers["Content-Security-Policy"]


def test_a_voice_note_from_the_status_page_is_kept_clean_and_alerts_the_staff(
    client, make_tip, world
):
    tip = signed_in_tip(client, make_tip, world)
    before = tip.activity_at
    response = send_voice(client, phone_m4a(seconds=2.0))
    assert response.status_code == 303 and response.location.endswith("/tra-cuu/tin?da-gui=voice")
    assert "Đã gửi ghi âm của bạn." in client.get(response.location).get_data(as_text=True)
    [note] = notes_of(tip)
    assert note.filename.endswith(".ogg") and 1 <= note.seconds <= 3
    assert note.created_at.second == 0  # to the minute, like every time of the tipster's
    db.session.refresh(tip)
    assert tip.activity_at != before  # "unread replies" for the staff
    replies = select(Notification).where(
        Notification.tip_id == tip.id, Notification.kind == TIPSTER_REPLY
    )
    waiting = db.session.scalars(replies).all()
    assert len(waiting) == 1 and waiting[0].for_staff


def test_a_tip_takes_a_few_voice_notes_and_the_next_is_refused_with_a_reason(
    client, make_tip, world
):
    tip = signed_in_tip(client, make_tip, world)
    for _ in range(MAX_VOICE_NOTES):
        assert send_voice(client, phone_m4a(seconds=1.0)).status_code == 303
    refused = send_voice(client, phone_m4a(seconds=1.0))
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert f"Mỗi tin báo có tối đa {MAX_VOICE_NOTES} ghi âm." in html
    assert len(notes_of(tip)) == MAX_VOICE_NOTES
    # Once full, the form is gone from the page.
    assert 'action="/tra-cuu/tin/ghi-am"' not in client.get("/tra-cuu/tin").get_data(as_text=True)


def test_not_audio_or_nothing_gets_a_clear_error_and_stores_nothing(client, make_tip, world):
    tip = signed_in_tip(client, make_tip, world)
    bad = send_voice(client, b"<html>not audio</html>" * 20, "ghi-am.mp3")
    assert bad.status_code == 422
    assert 'class="error"' in bad.get_data(as_text=True)
    empty = client.post("/tra-cuu/tin/ghi-am", data={}, content_type="multipart/form-data")
    assert empty.status_code == 422
    assert "Hãy ghi âm hoặc chọn một tệp ghi âm." in empty.get_data(as_text=True)
    assert notes_of(tip) == []


def test_without_a_session_nothing_is_decoded_or_stored(client, make_tip, world):
    tip = make_tip(world.a1)
    db.session.commit()
    response = send_voice(client, phone_m4a(seconds=1.0))
    assert response.status_code == 401  # the "session ended" page, as for a photo
    assert notes_of(tip) == []


def test_a_tip_closed_past_its_reply_window_takes_no_voice_note(
    app, client, make_tip, world, time_machine
):
    now = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)
    time_machine.move_to(now, tick=False)
    tip = signed_in_tip(client, make_tip, world)
    police = world.user("police_a")
    workflow.transition(tip, Action.TRIAGE, police)
    workflow.transition(tip, Action.START_VERIFICATION, police)
    workflow.transition(
        tip, Action.MARK_UNFOUNDED, police, note="Không có cơ sở.", note_to_tipster=True
    )
    db.session.commit()
    days = app.config["TIPLINE_TIPSTER_REPLY_DAYS"]
    time_machine.move_to(now + timedelta(days=days - 1), tick=False)
    sign_in(client, tip, tip.code)
    assert send_voice(client, phone_m4a(seconds=1.0)).status_code == 303  # the grace period
    time_machine.move_to(now + timedelta(days=days, minutes=1), tick=False)
    sign_in(client, tip, tip.code)
    refused = send_voice(client, phone_m4a(seconds=1.0))
    assert refused.status_code == 409
    assert "không nhận thêm ghi âm" in refused.get_data(as_text=True)
    assert len(notes_of(tip)) == 1
