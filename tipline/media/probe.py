"""Format walkers: what an uploaded image's bytes say before any decoder reads them.

Uploads are hostile until decoded. These read headers and structure with C-speed
searches and hard limits: the canvas of a WebP (its decoder allocates it on open), the
coded sizes of a HEIF's images (what libheif decodes, whatever the crop says), and the
count of JPEG markers, scans and stray bytes and of PNG chunks (Pillow walks those in
Python). `tipline.media.photos` decides from them; nothing here decodes a pixel.
"""

from __future__ import annotations

import re

# Pillow parses JPEG markers and PNG chunks in Python: 10 MB of empty ones cost seconds
# and hundreds of MB. Cameras write a few dozen markers and ~10 scans at most; libjpeg
# decodes every scan of a progressive JPEG over the whole picture, so scans are CPU time.
MAX_JPEG_SEGMENTS = 1000
MAX_JPEG_SCANS = 100
MAX_JPEG_STRAY = 4096  # bytes between markers that belong to no segment
# A 10 MB PNG written with the usual 8 KB IDAT chunks has ~1,300 of them.
MAX_PNG_CHUNKS = 10_000


class Malformed(ValueError):
    """A structure no camera writes (the photo code refuses it as corrupt)."""


def webp_canvas_size(head: bytes) -> tuple[int, int] | None:
    """Canvas size from a WebP header (Pillow's WebP decoder allocates it on open)."""
    if head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        return None
    chunk = head[12:16]
    if chunk == b"VP8 " and len(head) >= 30 and head[23:26] == b"\x9d\x01\x2a":
        return (
            int.from_bytes(head[26:28], "little") & 0x3FFF,
            int.from_bytes(head[28:30], "little") & 0x3FFF,
        )
    if chunk == b"VP8X" and len(head) >= 30:
        return (
            int.from_bytes(head[24:27], "little") + 1,
            int.from_bytes(head[27:30], "little") + 1,
        )
    if chunk == b"VP8L" and len(head) >= 25 and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def looks_like_webp(head: bytes) -> bool:
    """What Pillow's WebP plugin accepts (and then hands to libwebp whole)."""
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP" and head[12:16] in _WEBP_CHUNKS


_WEBP_CHUNKS = (b"VP8 ", b"VP8X", b"VP8L")

# A JPEG marker: 0xFF, then a byte that is neither stuffing (0x00) nor fill (0xFF). Two
# bytes, so a search never backtracks, however many 0xFF an attacker writes.
_JPEG_MARKER = re.compile(rb"\xff[^\x00\xff]")
# The end of a scan's entropy-coded data: a marker other than RST0-7.
_JPEG_AFTER_SCAN = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0-7: no length


def _jpeg_layout(data: bytes) -> tuple[int, int, int]:
    """(marker segments, scans, stray bytes) of the first picture of a JPEG, counted up to
    the limits.

    The same walk as libjpeg's, in C-speed regex searches; it stops at the first EOI (an
    MPO's further pictures, anything appended) or as soon as a limit is passed. Stray
    bytes are those between a segment and the next marker (fill bytes included), which
    Pillow skips one by one in Python: 5 MB of them take seconds.
    """
    pos, segments, scans, stray = 2, 0, 0, 0
    while segments <= MAX_JPEG_SEGMENTS and scans <= MAX_JPEG_SCANS and stray <= MAX_JPEG_STRAY:
        if pos >= len(data):
            break
        # Look no further than the stray bytes still allowed.
        window = min(len(data), pos + MAX_JPEG_STRAY - stray + 2)
        found = _JPEG_MARKER.search(data, pos, window)
        if found is None:
            stray += window - pos
            break
        stray += found.start() - pos
        marker, pos = data[found.start() + 1], found.end()
        if marker == 0xD9:  # EOI
            break
        segments += 1
        if marker in _JPEG_STANDALONE:
            continue
        length = int.from_bytes(data[pos : pos + 2], "big")
        if length < 2:  # libjpeg refuses it; so will Pillow
            break
        pos += length
        if marker == 0xDA:  # SOS: skip the entropy-coded data
            scans += 1
            found = _JPEG_AFTER_SCAN.search(data, pos)
            if found is None:
                break
            pos = found.start()
    return segments, scans, stray


def _png_chunk_count(data: bytes) -> int:
    """The number of chunks up to IEND, counted up to just past the limit."""
    pos, count = 8, 0
    while pos + 8 <= len(data) and count <= MAX_PNG_CHUNKS:
        count += 1
        if data[pos + 4 : pos + 8] == b"IEND":
            break
        pos += 12 + int.from_bytes(data[pos : pos + 4], "big")
    return count


# ISO base media boxes read while looking for HEIF image sizes (libheif allows 100 per box).
_MAX_HEIF_BOXES = 10_000


def _isobmff_boxes(data: bytes, start: int, end: int, budget: list[int]):
    """(type, payload start, end) of the boxes in data[start:end]; stops when malformed."""
    pos = start
    while pos + 8 <= end:
        budget[0] -= 1
        if budget[0] < 0:
            raise Malformed("too many boxes")
        size, header = int.from_bytes(data[pos : pos + 4], "big"), 8
        if size == 1:
            size, header = int.from_bytes(data[pos + 8 : pos + 16], "big"), 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield data[pos + 4 : pos + 8], pos + header, pos + size
        pos += size


def heif_coded_sizes(data: bytes) -> list[tuple[int, int]]:
    """The size of every coded image in a HEIF file (its "ispe" properties).

    Pillow reports the size after the clean-aperture crop ("clap"), which a file may
    set to a few pixels while libheif decodes the full coded picture first: the coded
    sizes are what decoding costs.
    """
    budget = [_MAX_HEIF_BOXES]
    ranges = [(0, len(data))]
    # meta (a FullBox: 4 bytes of version and flags) > iprp > ipco > ispe
    for wanted, skip in ((b"meta", 4), (b"iprp", 0), (b"ipco", 0), (b"ispe", 4)):
        ranges = [
            (start + skip, end)
            for outer in ranges
            for kind, start, end in _isobmff_boxes(data, *outer, budget)
            if kind == wanted
        ]
    return [
        (
            int.from_bytes(data[start : start + 4], "big"),
            int.from_bytes(data[start + 4 : start + 8], "big"),
        )
        for start, end in ranges
        if end - start >= 8
    ]


def check_structure(data: bytes) -> int:
    """Refuse structures no camera writes, before Pillow walks them; returns JPEG scans."""
    if data[:3] == b"\xff\xd8\xff":
        segments, scans, stray = _jpeg_layout(data)
        if segments > MAX_JPEG_SEGMENTS or scans > MAX_JPEG_SCANS or stray > MAX_JPEG_STRAY:
            raise Malformed("JPEG markers, scans or stray bytes")
        return scans
    if data[:8] == b"\x89PNG\r\n\x1a\n" and _png_chunk_count(data) > MAX_PNG_CHUNKS:
        raise Malformed("PNG chunks")
    return 0
