"""Voice notes: detect, bound, decode and re-encode them with nothing of the upload kept.

A phone recorder writes far more than a voice into its file: titles, the artist (often
the owner's name), the encoder and device, creation dates and, in M4A files, the place
it was recorded (a binary `loci` or `©xyz` box). Every accepted note is therefore decoded
and encoded again, as Opus in a fresh Ogg container, mono, at a speech bit rate: only the
sound goes through. Video tracks are dropped (a video renamed .m4a keeps its sound only).

The container is detected from the content (never the name or the declared type) and
FFmpeg is told which demuxer to use, so it never probes its way into a playlist or
concatenation demuxer that could open other files. Uploads are hostile until decoded:
the size is checked first, the declared duration before decoding, then the decoded
duration, the sample rate, the number of packets and the wall time while decoding, and
one note is decoded at a time per process, so a worker's peak is one note's.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import av
from flask_babel import lazy_gettext as _l

__all__ = ["AudioError", "CleanedAudio", "clean_audio", "sniff"]

log = logging.getLogger(__name__)

OUTPUT_MIMETYPE = "audio/ogg"
OUTPUT_EXTENSION = "ogg"
OUTPUT_RATE = 48_000
OUTPUT_BIT_RATE = 24_000  # speech in mono: clear at 16-24 kbit/s

# What the demuxer may be and what the audio may be coded in: phone recorders (M4A/AAC,
# 3GP/AMR), browsers' MediaRecorder (WebM/Opus, Ogg/Opus, MP4/AAC), MP3 and WAV.
_DECODERS = frozenset(
    {
        "aac",
        "aac_latm",
        "amrnb",
        "amrwb",
        "amr_nb",
        "amr_wb",
        "opus",
        "libopus",
        "vorbis",
        "mp3",
        "mp3float",
        "pcm_s16le",
        "pcm_s24le",
        "pcm_s32le",
        "pcm_f32le",
        "pcm_u8",
        "pcm_mulaw",
        "pcm_alaw",
    }
)
_MAX_RATE = 192_000
_MIN_RATE = 4_000
_MAX_CHANNELS = 8
# Slack between the declared and the decoded length before a note counts as too long
# (encoder priming and padding).
_SLACK_SECONDS = 2.0
# A packet carries at least ~10 ms of sound in every accepted codec; many more packets
# than that for the allowed length is a file built to cost time.
_PACKETS_PER_SECOND = 120
# Damaged packets skipped before the whole file counts as broken.
_MAX_DAMAGED_PACKETS = 16

DECODE_WAIT_SECONDS = 20.0
_DECODE_SLOT = threading.BoundedSemaphore(1)


class AudioError(ValueError):
    """A voice note that is refused; `message` is a sentence a resident can read."""

    def __init__(self, code: str, message) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class CleanedAudio:
    data: bytes
    seconds: float
    mimetype: str = OUTPUT_MIMETYPE
    extension: str = OUTPUT_EXTENSION


def _unsupported() -> AudioError:
    return AudioError(
        "unsupported",
        _l(
            "Tệp này không phải ghi âm được nhận. Hãy gửi tệp ghi âm từ điện thoại "
            "(m4a, amr, ogg, webm, mp3 hoặc wav)."
        ),
    )


def _corrupt() -> AudioError:
    return AudioError(
        "corrupt", _l("Không đọc được tệp ghi âm này (tệp bị hỏng hoặc chưa ghi xong).")
    )


def _too_long(max_seconds: int) -> AudioError:
    return AudioError(
        "too_long",
        _l("Ghi âm dài quá %(n)s giây. Hãy ghi ngắn hơn.", n=max_seconds),
    )


def sniff(head: bytes) -> str | None:
    """The FFmpeg demuxer for these first bytes, or None when they are no accepted audio."""
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head.startswith(b"#!AMR"):
        return "amr"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "wav"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "mov"
    if head.startswith(b"ID3"):
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06:
        return "mp3"  # an MPEG audio frame header (layer bits set)
    return None


@contextmanager
def _decode_slot() -> Iterator[None]:
    if not _DECODE_SLOT.acquire(timeout=DECODE_WAIT_SECONDS):
        raise AudioError(
            "busy", _l("Máy chủ đang bận xử lý ghi âm khác. Vui lòng gửi lại sau ít phút.")
        )
    try:
        yield
    finally:
        _DECODE_SLOT.release()


def _declared_seconds(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return None


def clean_audio(
    data: bytes,
    *,
    max_seconds: int,
    max_bytes: int,
    time_limit: float = 20.0,
) -> CleanedAudio:
    """The note's sound alone, as Opus in Ogg; AudioError if refused."""
    if not data:
        raise AudioError("empty", _l("Tệp ghi âm trống."))
    if len(data) > max_bytes:
        raise AudioError(
            "too_large",
            _l("Tệp ghi âm quá lớn (tối đa %(mb)s MB).", mb=round(max_bytes / 1024 / 1024, 1)),
        )
    demuxer = sniff(data[:16])
    if demuxer is None:
        raise _unsupported()
    with _decode_slot():
        return _reencode(data, demuxer, max_seconds=max_seconds, time_limit=time_limit)


def _reencode(data: bytes, demuxer: str, *, max_seconds: int, time_limit: float) -> CleanedAudio:
    started = time.monotonic()
    try:
        source = av.open(io.BytesIO(data), "r", format=demuxer, metadata_errors="ignore")
    except (av.error.FFmpegError, ValueError, UnicodeDecodeError) as error:
        log.info("voice note refused: container %s unreadable (%s)", demuxer, type(error).__name__)
        raise _corrupt() from None
    try:
        if not source.streams.audio:
            raise _unsupported()
        stream = source.streams.audio[0]
        codec = stream.codec_context
        if codec.name not in _DECODERS:
            raise _unsupported()
        declared = _declared_seconds(source, stream)
        if declared is not None and declared > max_seconds + _SLACK_SECONDS:
            raise _too_long(max_seconds)
        return _transcode(source, stream, max_seconds=max_seconds, deadline=started + time_limit)
    except AudioError:
        raise
    except (av.error.FFmpegError, ValueError):
        raise _corrupt() from None
    finally:
        source.close()


def _transcode(source, stream, *, max_seconds: int, deadline: float) -> CleanedAudio:
    output = io.BytesIO()
    # bitexact: no encoder version in the container; no metadata is ever copied across.
    target = av.open(output, "w", format="ogg", options={"fflags": "+bitexact"})
    encoder = target.add_stream("libopus", rate=OUTPUT_RATE, options={"application": "voip"})
    encoder.layout = "mono"
    encoder.bit_rate = OUTPUT_BIT_RATE
    resampler = av.AudioResampler(format="s16", layout="mono", rate=OUTPUT_RATE)
    cap_samples = (max_seconds + _SLACK_SECONDS) * OUTPUT_RATE
    max_packets = int((max_seconds + _SLACK_SECONDS) * _PACKETS_PER_SECOND) + 64
    samples = packets = damaged = 0
    try:
        for packet in source.demux(stream):
            packets += 1
            if packets > max_packets:
                raise _too_long(max_seconds)
            if time.monotonic() > deadline:
                raise AudioError(
                    "too_slow", _l("Tệp ghi âm này xử lý quá lâu. Hãy gửi một ghi âm ngắn hơn.")
                )
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                # A damaged packet (a recording cut short, junk after the sound): skip
                # it, as players do; a file of little else is refused below.
                damaged += 1
                if damaged > _MAX_DAMAGED_PACKETS:
                    raise _corrupt() from None
                continue
            for frame in frames:
                rate = frame.sample_rate or 0
                if not _MIN_RATE <= rate <= _MAX_RATE or frame.layout.nb_channels > _MAX_CHANNELS:
                    raise _corrupt()
                frame.pts = None
                for chunk in resampler.resample(frame):
                    samples += chunk.samples
                    if samples > cap_samples:
                        raise _too_long(max_seconds)
                    for out in encoder.encode(chunk):
                        target.mux(out)
        for chunk in resampler.resample(None):
            samples += chunk.samples
            for out in encoder.encode(chunk):
                target.mux(out)
        for out in encoder.encode(None):
            target.mux(out)
    except AudioError:
        target.close()
        raise
    except (av.error.FFmpegError, ValueError):
        target.close()
        raise _corrupt() from None
    target.close()
    if samples == 0:
        raise AudioError("silent", _l("Tệp ghi âm không có âm thanh nào."))
    return CleanedAudio(data=output.getvalue(), seconds=round(samples / OUTPUT_RATE, 2))
