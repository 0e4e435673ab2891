"""Real audio files made with FFmpeg (PyAV) for the voice-note tests: the containers and
codecs phones and browsers record in, with the tags and location boxes they write."""

from __future__ import annotations

import io
import math
import struct

import av

PERSON = "Nguyen Van A"
PLACE = "+19.8067+105.7852/"


def tone(seconds: float, rate: int = 16_000, freq: int = 440) -> bytes:
    samples = int(seconds * rate)
    return b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / rate)))
        for i in range(samples)
    )


def encode(
    container: str,
    codec: str,
    *,
    seconds: float = 2.0,
    rate: int = 16_000,
    metadata: dict | None = None,
    video: bool = False,
    audio: bool = True,
) -> bytes:
    """A file FFmpeg writes in `container`, with `metadata` as its tags."""
    buffer = io.BytesIO()
    out = av.open(buffer, "w", format=container)
    out.metadata.update(metadata or {})
    picture = None
    if video:
        picture = out.add_stream("mpeg4", rate=10)
        picture.width, picture.height, picture.pix_fmt = 64, 48, "yuv420p"
    sound = None
    if audio:
        sound = out.add_stream(codec, rate=rate)
        sound.layout = "mono"
        pcm = tone(seconds, rate)
        step = 1024 * 2
        pts = 0
        for offset in range(0, len(pcm), step):
            chunk = pcm[offset : offset + step]
            frame = av.AudioFrame(format="s16", layout="mono", samples=len(chunk) // 2)
            frame.planes[0].update(chunk)
            frame.sample_rate = rate
            frame.pts = pts
            pts += frame.samples
            for packet in sound.encode(frame):
                out.mux(packet)
        for packet in sound.encode(None):
            out.mux(packet)
    if picture is not None:
        for n in range(int(seconds * 10)):
            frame = av.VideoFrame(64, 48, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([n * 7 % 255]) * plane.buffer_size)
            frame.pts = n
            for packet in picture.encode(frame):
                out.mux(packet)
        for packet in picture.encode(None):
            out.mux(packet)
    out.close()
    return buffer.getvalue()


def phone_m4a(seconds: float = 2.0) -> bytes:
    """An M4A as a phone recorder writes it: AAC, a title, the owner's name, a place."""
    return encode(
        "ipod",
        "aac",
        seconds=seconds,
        metadata={"title": "Ghi am 12", "artist": PERSON, "location": PLACE, "encoder": "Phone"},
    )


def wav_with_rate(rate: int, seconds: float = 1.0) -> bytes:
    """A WAV whose header says `rate` samples a second, whatever its data holds."""
    pcm = tone(seconds)
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(pcm),
        b"WAVE",
        b"fmt ",
        16,
        1,
        1,
        rate,
        rate * 2,
        2,
        16,
        b"data",
        len(pcm),
    )
    return header + pcm


def _ogg_crc(page: bytes) -> int:
    crc = 0
    for byte in page:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def ogg_declaring(data: bytes, seconds: float, rate: int = 48_000) -> bytes:
    """An Ogg file whose last page says it ends at `seconds` (demuxers read the length
    there), whatever the pages before it hold: a long note passing for a short one."""
    start = data.rfind(b"OggS")
    page = bytearray(data[start:])
    page[6:14] = int(seconds * rate).to_bytes(8, "little")
    page[22:26] = b"\0\0\0\0"
    page[22:26] = _ogg_crc(bytes(page)).to_bytes(4, "little")
    return data[:start] + bytes(page)
