"""Voice notes: every recorder's format becomes a clean Opus note; hostile audio is
refused or cleaned, never a crash (tipline/media/audio.py)."""

from __future__ import annotations

import io

import av
import pytest

from tipline.media.audio import AudioError, clean_audio, sniff

from .audio_samples import PERSON, PLACE, encode, ogg_declaring, phone_m4a, tone, wav_with_rate

LIMITS = {"max_seconds": 120, "max_bytes": 10 * 1024 * 1024}

RECORDERS = {
    # what phones' recorders and browsers' MediaRecorder write
    "m4a/aac (Android, iPhone)": lambda: phone_m4a(),
    "3gp/amr (basic phones)": lambda: encode(
        "3gp", "libopencore_amrnb", rate=8000, metadata={"artist": PERSON}
    ),
    "amr": lambda: encode("amr", "libopencore_amrnb", rate=8000),
    "ogg/opus (Firefox)": lambda: encode("ogg", "libopus", rate=48000, metadata={"artist": PERSON}),
    "webm/opus (Chrome)": lambda: encode("webm", "libopus", rate=48000, metadata={"title": PERSON}),
    "mp3": lambda: encode("mp3", "libmp3lame", metadata={"artist": PERSON}),
    "wav": lambda: encode("wav", "pcm_s16le", metadata={"artist": PERSON}),
}


def _tags(data: bytes) -> dict:
    with av.open(io.BytesIO(data)) as container:
        tags = dict(container.metadata)
        for stream in container.streams:
            tags |= {f"{stream.type}:{key}": value for key, value in stream.metadata.items()}
        kinds = [stream.type for stream in container.streams]
        return {"tags": tags, "streams": kinds, "format": container.format.name}


@pytest.fixture(autouse=True)
def _context(app):
    with app.test_request_context():
        yield


@pytest.mark.parametrize("name", list(RECORDERS))
def test_every_recorder_format_becomes_a_clean_opus_note(name):
    original = RECORDERS[name]()
    note = clean_audio(original, **LIMITS)
    assert note.mimetype == "audio/ogg"
    assert note.data.startswith(b"OggS") and b"OpusHead" in note.data
    assert 1.9 <= note.seconds <= 2.2
    seen = _tags(note.data)
    assert seen["streams"] == ["audio"]
    assert seen["tags"] == {}
    assert PERSON.encode() not in note.data


def test_a_phone_note_loses_its_place_its_owner_and_its_dates():
    original = phone_m4a()
    assert b"loci" in original and PERSON.encode() in original  # what the phone wrote
    note = clean_audio(original, **LIMITS)
    for trace in (b"loci", b"\xa9xyz", PERSON.encode(), PLACE.encode(), b"Ghi am", b"Phone"):
        assert trace not in note.data
    # the only text in the container is the Opus header's vendor field, naming no version
    assert b"Lavf" not in note.data and b"Lavc" not in note.data


def test_content_decides_not_the_name_or_the_declared_type():
    assert sniff(phone_m4a()[:16]) == "mov"
    assert sniff(b"<!doctype html><p>") is None
    assert sniff(b"PK\x03\x04zip") is None
    with pytest.raises(AudioError) as refused:
        clean_audio(b"<html><body>not a sound</body></html>", **LIMITS)
    assert refused.value.code == "unsupported"
    assert "m4a" in str(refused.value.message)


def test_a_video_renamed_m4a_keeps_its_sound_only():
    video = encode("mp4", "aac", video=True, metadata={"artist": PERSON, "location": PLACE})
    assert _tags(video)["streams"] == ["video", "audio"]
    note = clean_audio(video, **LIMITS)
    assert _tags(note.data)["streams"] == ["audio"]
    assert PERSON.encode() not in note.data


def test_a_video_without_sound_is_refused():
    with pytest.raises(AudioError) as refused:
        clean_audio(encode("mp4", "aac", video=True, audio=False), **LIMITS)
    assert refused.value.code == "unsupported"


def test_a_long_note_passing_for_a_short_one_is_stopped_while_decoding():
    long = encode("ogg", "libopus", rate=48000, seconds=30)
    lying = ogg_declaring(long, seconds=5)
    with av.open(io.BytesIO(lying)) as container:
        assert container.duration == 5_000_000  # what the file claims
    with pytest.raises(AudioError) as refused:
        clean_audio(lying, max_seconds=10, max_bytes=LIMITS["max_bytes"])
    assert refused.value.code == "too_long"


def test_a_declared_length_over_the_cap_is_refused_before_decoding():
    with pytest.raises(AudioError) as refused:
        clean_audio(
            encode("ogg", "libopus", rate=48000, seconds=15),
            max_seconds=10,
            max_bytes=LIMITS["max_bytes"],
        )
    assert refused.value.code == "too_long"
    assert "10" in str(refused.value.message)


@pytest.mark.parametrize("rate", [0, 10_000_000])
def test_a_header_that_lies_about_its_sample_rate_is_refused(rate):
    with pytest.raises(AudioError) as refused:
        clean_audio(wav_with_rate(rate), **LIMITS)
    assert refused.value.code == "corrupt"


def test_a_sample_rate_that_makes_a_second_last_hours_is_refused():
    with pytest.raises(AudioError) as refused:
        clean_audio(wav_with_rate(1), **LIMITS)
    assert refused.value.code == "too_long"


def test_polyglots_are_cleaned_to_sound_alone():
    mp3 = encode("mp3", "libmp3lame")
    with_zip = mp3 + b"PK\x03\x04" + bytes(200) + b"PK\x05\x06" + bytes(18)
    with_html = b"ID3\x03\x00\x00\x00\x00\x00\x20<html><script>alert(1)</script>" + mp3
    for polyglot in (with_zip, with_html):
        note = clean_audio(polyglot, **LIMITS)
        assert b"PK\x03\x04" not in note.data and b"<script" not in note.data
        assert _tags(note.data)["tags"] == {}


def test_a_truncated_recording_keeps_what_was_recorded_or_is_refused():
    ogg = encode("ogg", "libopus", rate=48000, seconds=4)
    note = clean_audio(ogg[: len(ogg) // 2], **LIMITS)
    assert 0.5 < note.seconds < 4
    m4a = phone_m4a()
    with pytest.raises(AudioError) as refused:  # an M4A's index comes last: nothing to read
        clean_audio(m4a[: len(m4a) // 2], **LIMITS)
    assert refused.value.code == "corrupt"


@pytest.mark.parametrize(
    "data, code",
    [
        (b"", "empty"),
        (b"OggS", "corrupt"),
        (b"#!AMR\n", "silent"),
        (b"RIFF\x00\x00\x00\x00WAVEjunk", "corrupt"),
        (bytes(11 * 1024 * 1024), "too_large"),
    ],
)
def test_broken_and_oversized_files_get_a_clear_refusal(data, code):
    with pytest.raises(AudioError) as refused:
        clean_audio(data, **LIMITS)
    assert refused.value.code == code
    assert str(refused.value.message)


def test_a_file_of_many_tiny_packets_is_bounded():
    # 1,000 frames of 8 samples each: many packets, almost no sound.
    pcm = tone(1000 * 8 / 16000)
    header = wav_with_rate(16000, seconds=0)[:44]
    note = clean_audio(header[:40] + len(pcm).to_bytes(4, "little") + pcm, **LIMITS)
    assert note.seconds == pytest.approx(0.5, abs=0.1)


def test_a_slow_file_hits_the_time_limit():
    ogg = encode("ogg", "libopus", rate=48000, seconds=3)
    with pytest.raises(AudioError) as refused:
        clean_audio(ogg, max_seconds=120, max_bytes=LIMITS["max_bytes"], time_limit=-1)
    assert refused.value.code == "too_slow"
