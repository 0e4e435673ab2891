"""Hostile uploads, every one made here by the test: bombs, lies, polyglots and oddities.

Each file is tried at two levels:
(a) process_photo itself: refused with a PhotoError carrying a Vietnamese message, or
    turned into a clean re-encoded JPEG (no metadata, nothing after EOI, sane size);
(b) the public submit form: 422 with the message next to the photo field and the typed
    text kept, or a tip whose photo is stored clean under a server-made name. Never 500.

bench/photo_memory.py measures the peak memory of the worst of these files.
"""

from __future__ import annotations

import functools
import io
import re
import struct
import threading
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from html import escape, unescape
from pathlib import Path

import pytest
from PIL import ExifTags, Image, ImageFile
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from tipline.extensions import db
from tipline.media import photos, probe
from tipline.media.photos import PhotoError, process_photo
from tipline.media.storage import NAME_RE
from tipline.tips import services
from tipline.tips.models import Tip, TipPhoto

from .conftest import database_text
from .test_photos import (
    assert_clean,
    assert_clean_jpeg,
    blank_png,
    encode,
    gps_exif,
    pattern,
    png_chunk,
)

# ------------------------------------------------------------------ file makers

_ZERO_ROWS_LEVEL = 1  # fast; the files stay small


def zero_png(width: int, height: int, *, depth: int = 8, colour: int = 6, extra=b"") -> bytes:
    """A real PNG whose pixels are all zero, compressed row by row (never held whole)."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
    row = bytes(1 + (width * channels * depth + 7) // 8)
    packer = zlib.compressobj(_ZERO_ROWS_LEVEL)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + extra
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def small_jpeg(**params) -> bytes:
    return encode(pattern((64, 48)), "JPEG", **params)


def jpeg_with_size(width: int, height: int, mode: str = "RGB", **params) -> bytes:
    """A small JPEG whose frame header claims another size (the scan data is the small one)."""
    data = encode(pattern((64, 48)).convert(mode), "JPEG", **params)
    sof = re.search(rb"\xff[\xc0\xc2]", data).start()
    return data[: sof + 5] + struct.pack(">HH", height, width) + data[sof + 9 :]


def webp_vp8x(width: int, height: int) -> bytes:
    vp8x = b"\0\0\0\0" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x
    return b"RIFF" + struct.pack("<I", len(body)) + body


def webp_with_size(width: int, height: int, *, lossless: bool) -> bytes:
    """A real small WebP whose VP8/VP8L header is patched to claim another size."""
    data = bytearray(encode(pattern((64, 48)), "WEBP", lossless=lossless))
    if lossless:
        assert data[12:16] == b"VP8L"
        bits = int.from_bytes(data[21:25], "little") & ~0x0FFFFFFF
        bits |= (width - 1) | ((height - 1) << 14)
        data[21:25] = bits.to_bytes(4, "little")
    else:
        assert data[12:16] == b"VP8 "
        data[26:30] = struct.pack("<HH", width, height)
    return bytes(data)


def heif_available() -> bool:
    return "HEIF" in Image.SAVE


def heif_with_coded_size(width: int, height: int) -> bytes:
    """A small HEIF whose coded size ("ispe") is huge while its crop ("clap") stays small."""
    data = encode(pattern((64, 48)), "HEIF")
    at = data.index(b"ispe")
    return data[: at + 8] + struct.pack(">II", width, height) + data[at + 16 :]


def gif_with_size(width: int, height: int) -> bytes:
    data = bytearray(encode(pattern((64, 48)), "GIF"))
    data[6:10] = struct.pack("<HH", width, height)  # logical screen
    at = data.index(b"\x2c")  # image descriptor
    data[at + 5 : at + 9] = struct.pack("<HH", width, height)
    return bytes(data)


def bmp_with_size(width: int, height: int) -> bytes:
    data = bytearray(encode(pattern((64, 48)), "BMP"))
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def tiff_with_size(width: int, height: int) -> bytes:
    img = Image.new("1", (8, 8))
    buf = io.BytesIO()
    img.save(buf, "TIFF", compression="packbits")
    data = bytearray(buf.getvalue())
    count = struct.unpack_from("<H", data, 4 + struct.unpack_from("<I", data, 4)[0])[0]
    start = struct.unpack_from("<I", data, 4)[0] + 2
    for i in range(count):
        entry = start + 12 * i
        tag, kind = struct.unpack_from("<HH", data, entry)
        if tag in (256, 257, 278):  # width, height, rows per strip
            value = width if tag == 256 else height
            if kind == 3:
                struct.pack_into("<H", data, entry + 8, min(value, 65535))
            else:
                struct.pack_into("<I", data, entry + 8, value)
    return bytes(data)


def jpeg_segments_of(data: bytes) -> list[tuple[int, int, int]]:
    """(start, end, marker) of each segment up to EOI, scans with their entropy data."""
    out, i = [], 2
    while True:
        marker = data[i + 1]
        if marker == 0xD9:
            out.append((i, i + 2, marker))
            return out
        j = i + 2 + int.from_bytes(data[i + 2 : i + 4], "big")
        if marker == 0xDA:
            j = re.compile(rb"\xff[^\x00\xd0-\xd7]").search(data, j).start()
        out.append((i, j, marker))
        i = j


def jpeg_with_repeated_scan(times: int) -> bytes:
    """A progressive JPEG whose smallest scan is repeated: libjpeg decodes each one again."""
    data = encode(pattern((512, 384)), "JPEG", progressive=True, quality=90)
    segments = jpeg_segments_of(data)
    scans = [(a, b) for a, b, marker in segments if marker == 0xDA]
    start, end = min(scans, key=lambda s: s[1] - s[0])
    eoi = segments[-1][0]
    return data[:eoi] + data[start:end] * times + data[eoi:]


def jpeg_with_inserted(blob: bytes) -> bytes:
    """blob inserted right after SOI."""
    data = small_jpeg()
    return data[:2] + blob + data[2:]


def png_with_chunks_before_idat(chunks: bytes) -> bytes:
    data = encode(pattern((64, 48)), "PNG")
    return data[:33] + chunks + data[33:]


def png_with_tiny_idats() -> bytes:
    """Noise split into 1-byte IDAT chunks: Pillow reads each one in Python."""
    noise = Image.effect_noise((200, 200), 80).convert("RGB")
    row_data = b"".join(b"\0" + noise.tobytes()[y * 600 : (y + 1) * 600] for y in range(200))
    idat = zlib.compress(row_data, 1)
    header = struct.pack(">IIBBBBB", 200, 200, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + b"".join(png_chunk(b"IDAT", idat[i : i + 1]) for i in range(len(idat)))
        + png_chunk(b"IEND", b"")
    )


def zip_archive() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("index.html", "<html><script>alert(document.cookie)</script></html>")
    return buf.getvalue()


HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"
SVG = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
    b'width="100" height="100" onload="alert(1)"><script>alert(document.domain)</script>'
    b'<rect width="100" height="100" fill="red"/></svg>'
)


def exif_bytes(entries: list[tuple[int, int, int, bytes]], *, next_ifd: int = 0) -> bytes:
    """A little-endian TIFF header and IFD0 made of raw (tag, type, count, value) entries."""
    ifd = struct.pack("<H", len(entries))
    ifd += b"".join(
        struct.pack("<HHI", tag, kind, count) + value for tag, kind, count, value in entries
    )
    return b"II*\x00\x08\x00\x00\x00" + ifd + struct.pack("<I", next_ifd)


def huge_exif(orientation: int = 6) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.ImageDescription] = "A" * 4_000_000
    return exif.tobytes()


def frames(count: int, size=(64, 48)) -> list[Image.Image]:
    first = pattern(size)
    return [first] + [Image.new("RGB", size, (i % 256, 0, 0)) for i in range(1, count)]


def noise() -> Image.Image:
    return Image.effect_noise((400, 300), 60).convert("RGB")


def half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def cmyk_red() -> bytes:
    return encode(Image.new("CMYK", (64, 48), (0, 255, 255, 0)), "JPEG", quality=95)


def png_palette_with_alpha() -> bytes:
    img = Image.new("P", (64, 48), 0)
    img.putpalette([255, 0, 0, 0, 0, 255])  # 0: red, 1: blue
    img.paste(1, (16, 12, 48, 36))
    return encode(img, "PNG", transparency=bytes([0, 255]))  # red fully transparent


# ------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    make: Callable[[], bytes]
    #: "clean" (stored re-encoded) or the PhotoError code it is refused with
    outcome: str
    #: refused from the header: not one pixel decoded
    before_decoding: bool = False
    #: bytes of the upload that must not reach the stored file
    payload: bytes | None = None
    #: (x, y) in the stored picture -> the colour it must show
    colour: tuple[tuple[float, float], tuple[int, int, int]] | None = None
    needs_heif: bool = False


def case(id: str, make, outcome: str, **kwargs):
    marks = []
    if kwargs.get("needs_heif") and not heif_available():
        marks.append(pytest.mark.skip(reason="pillow-heif cannot write HEIF here"))
    return pytest.param(Case(functools.cache(make), outcome, **kwargs), id=id, marks=marks)


BOMBS = [
    # Tiny files declaring a huge picture, in every format an attacker could send.
    case(
        "png-1bit-20000x20000",
        lambda: blank_png(20_000, 20_000),
        "too_many_pixels",
        before_decoding=True,
    ),
    case(
        "png-grey-zeros-7000x7000",
        lambda: zero_png(7_000, 7_000, colour=0),
        "too_many_pixels",
        before_decoding=True,
    ),
    case(
        "png-7000x7000-over-40mp",
        lambda: blank_png(7_000, 7_000),
        "too_many_pixels",
        before_decoding=True,
    ),
    case("png-70000x1", lambda: blank_png(70_000, 1), "bad_dimensions", before_decoding=True),
    case(
        "jpeg-65000x65000",
        lambda: jpeg_with_size(65_000, 65_000),
        "too_many_pixels",
        before_decoding=True,
    ),
    case("jpeg-zero-height", lambda: jpeg_with_size(64, 0), "unsupported", before_decoding=True),
    case(
        "webp-vp8x-16m-canvas",
        lambda: webp_vp8x(16_000_000, 16_000_000),
        "bad_dimensions",
        before_decoding=True,
    ),
    case(
        "webp-vp8l-16384x16384",
        lambda: webp_with_size(16_384, 16_384, lossless=True),
        "too_many_pixels",
        before_decoding=True,
    ),
    case(
        "webp-vp8-16383x16383",
        lambda: webp_with_size(16_383, 16_383, lossless=False),
        "too_many_pixels",
        before_decoding=True,
    ),
    case(
        "heif-coded-30000x30000-shown-64x48",
        lambda: heif_with_coded_size(30_000, 30_000),
        "too_many_pixels",
        before_decoding=True,
        needs_heif=True,
    ),
    case(
        "gif-65535x65535",
        lambda: gif_with_size(65_535, 65_535),
        "unsupported",
        before_decoding=True,
    ),
    case(
        "bmp-50000x50000",
        lambda: bmp_with_size(50_000, 50_000),
        "unsupported",
        before_decoding=True,
    ),
    case(
        "tiff-100000x100000",
        lambda: tiff_with_size(100_000, 100_000),
        "unsupported",
        before_decoding=True,
    ),
    # Under the pixel limit, over the decoding memory budget for the format.
    case(
        "webp-6000x6000-over-memory-budget",
        lambda: webp_vp8x(6_000, 6_000),
        "too_many_pixels",
        before_decoding=True,
    ),
    case(
        # libjpeg keeps every DCT coefficient of a progressive JPEG: 8 bytes per pixel.
        "jpeg-progressive-cmyk-6500x6000-over-memory-budget",
        lambda: jpeg_with_size(6_500, 6_000, "CMYK", progressive=True),
        "too_many_pixels",
        before_decoding=True,
    ),
    # Real, highly compressible pixels within the limits: decoded, in bounded memory.
    case(
        "png-rgba-zeros-2400x2400",
        lambda: zero_png(2_400, 2_400),
        "clean",
        colour=((0.5, 0.5), (255, 255, 255)),
    ),
    case(
        "png-grey16-zeros-3000x2000",
        lambda: zero_png(3_000, 2_000, depth=16, colour=0),
        "clean",
        colour=((0.5, 0.5), (0, 0, 0)),
    ),
    case(
        "webp-lossless-2000x2000",
        lambda: encode(Image.new("RGB", (2_000, 2_000), (10, 120, 200)), "WEBP", lossless=True),
        "clean",
        colour=((0.5, 0.5), (10, 120, 200)),
    ),
]

STRUCTURE = [
    # Structures no camera writes, which would cost seconds in Pillow's Python loops.
    case(
        "jpeg-2m-empty-comments",
        lambda: jpeg_with_inserted(b"\xff\xfe\x00\x02" * 2_000_000),
        "malformed",
        before_decoding=True,
    ),
    case(
        "jpeg-2m-empty-app1",
        lambda: jpeg_with_inserted(b"\xff\xe1\x00\x02" * 2_000_000),
        "malformed",
        before_decoding=True,
    ),
    case(
        "jpeg-5mb-fill-bytes",
        lambda: jpeg_with_inserted(b"\xff" * 5_000_000),
        "malformed",
        before_decoding=True,
    ),
    case(
        "jpeg-5mb-stray-bytes",
        lambda: jpeg_with_inserted(b"\xff\x00" * 2_500_000),
        "malformed",
        before_decoding=True,
    ),
    case(
        "jpeg-progressive-2000-scans",
        lambda: jpeg_with_repeated_scan(2_000),
        "malformed",
        before_decoding=True,
    ),
    case(
        "png-800k-empty-chunks",
        lambda: png_with_chunks_before_idat(png_chunk(b"zzZz", b"") * 800_000),
        "malformed",
        before_decoding=True,
    ),
    case("png-tiny-idat-chunks", png_with_tiny_idats, "malformed", before_decoding=True),
    case(
        "png-iccp-zlib-bomb",
        lambda: png_with_chunks_before_idat(
            png_chunk(b"iCCP", b"p\0\0" + zlib.compress(bytes(5_000_000), 9))
        ),
        "unsupported",
    ),
    case(
        "png-ztxt-zlib-bomb",
        lambda: png_with_chunks_before_idat(
            png_chunk(b"zTXt", b"k\0\0" + zlib.compress(bytes(5_000_000), 9))
        ),
        "unsupported",
    ),
    # A few scans more than a camera writes are still a photo.
    case("jpeg-progressive-30-scans", lambda: jpeg_with_repeated_scan(20), "clean"),
]

BROKEN = [
    case("zero-bytes", lambda: b"", "empty"),
    case("jpeg-truncated-half", lambda: encode(pattern((400, 300)), "JPEG")[:3000], "corrupt"),
    case("jpeg-header-only", lambda: small_jpeg()[:200], "unsupported"),
    case(
        "jpeg-12-bit",
        lambda: (
            (d := small_jpeg())[: d.index(b"\xff\xc0") + 4]
            + b"\x0c"
            + d[d.index(b"\xff\xc0") + 5 :]
        ),
        "unsupported",
    ),
    case(
        "jpeg-lossless-sof3", lambda: small_jpeg().replace(b"\xff\xc0", b"\xff\xc3", 1), "corrupt"
    ),
    case("png-truncated-half", lambda: half(encode(noise(), "PNG")), "corrupt"),
    case(
        "png-bad-crc",
        lambda: (d := encode(pattern(), "PNG"))[:29] + b"\0\0\0\0" + d[33:],
        "unsupported",
    ),
    case(
        # libwebp reads the whole RIFF file before anything else.
        "webp-truncated-half",
        lambda: half(encode(noise(), "WEBP")),
        "unsupported",
    ),
    case(
        "heif-truncated",
        lambda: encode(pattern((256, 192)), "HEIF")[:-200],
        "corrupt",
        needs_heif=True,
    ),
    case(
        "noise-with-jpeg-magic", lambda: b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40, "unsupported"
    ),
]

DISGUISED = [
    case("svg-with-script", lambda: SVG, "unsupported"),
    case("html-page", lambda: HTML, "unsupported"),
    case("zip-archive", zip_archive, "unsupported"),
    case("zip-then-jpeg", lambda: zip_archive() + small_jpeg(), "unsupported"),
    case("html-then-jpeg", lambda: HTML + small_jpeg(), "unsupported"),
    case("gif", lambda: encode(pattern(), "GIF"), "unsupported"),
    case("gif-then-zip", lambda: encode(pattern(), "GIF") + zip_archive(), "unsupported"),
    case("bmp", lambda: encode(pattern(), "BMP"), "unsupported"),
    case("tiff", lambda: encode(pattern(), "TIFF"), "unsupported"),
    case("ico", lambda: encode(pattern((32, 32)), "ICO"), "unsupported"),
    case("pdf", lambda: encode(pattern(), "PDF"), "unsupported"),
    # Polyglots: an image that is also something else. Only the pixels are kept.
    case("jpeg-then-html", lambda: small_jpeg() + HTML, "clean", payload=b"<script"),
    case("jpeg-then-zip", lambda: small_jpeg() + zip_archive(), "clean", payload=b"PK\x03\x04"),
    case("jpeg-html-in-comment", lambda: small_jpeg(comment=HTML), "clean", payload=b"<script"),
    case(
        "png-then-zip",
        lambda: encode(pattern(), "PNG") + zip_archive(),
        "clean",
        payload=b"PK\x03\x04",
    ),
    case(
        "png-html-in-text-chunk",
        lambda: png_with_chunks_before_idat(png_chunk(b"tEXt", b"Comment\0" + HTML)),
        "clean",
        payload=b"<script",
    ),
    case("webp-then-html", lambda: encode(pattern(), "WEBP") + HTML, "clean", payload=b"<script"),
    case(
        "heif-then-zip",
        lambda: encode(pattern(), "HEIF") + zip_archive(),
        "clean",
        payload=b"PK\x03\x04",
        needs_heif=True,
    ),
]

METADATA = [
    case(
        "jpeg-exif-ifd-loop",
        lambda: small_jpeg(
            exif=b"Exif\0\0" + exif_bytes([(0x8769, 4, 1, struct.pack("<I", 8))], next_ifd=8)
        ),
        "clean",
    ),
    case("jpeg-exif-garbage", lambda: small_jpeg(exif=b"Exif\0\0" + b"\xde\xad" * 300), "clean"),
    case(
        "jpeg-exif-offset-out-of-file",
        lambda: small_jpeg(exif=b"Exif\0\0II*\0\xff\xff\xff\x7f"),
        "clean",
    ),
    case(
        "jpeg-exif-orientation-as-text",
        lambda: small_jpeg(exif=b"Exif\0\0" + exif_bytes([(0x0112, 2, 4, b"six\0")])),
        "clean",
    ),
    case("jpeg-exif-orientation-9", lambda: small_jpeg(exif=gps_exif(9)), "clean"),
    case(
        "jpeg-exif-65000-entries",
        lambda: small_jpeg(
            exif=b"Exif\0\0" + exif_bytes([(0x0112, 3, 1, struct.pack("<HH", 6, 0))] * 5400)
        ),
        "clean",
    ),
    case(
        "png-exif-4mb-orientation-6",
        lambda: png_with_chunks_before_idat(png_chunk(b"eXIf", huge_exif())),
        "clean",
    ),
    case("webp-exif-4mb", lambda: encode(pattern(), "WEBP", exif=huge_exif()), "clean"),
    case(
        "heif-exif-4mb",
        lambda: encode(pattern(), "HEIF", exif=huge_exif()),
        "clean",
        needs_heif=True,
    ),
    case(
        "jpeg-gps-exif-xmp-comment",
        lambda: small_jpeg(
            exif=gps_exif(1), xmp=b"<x:xmpmeta>GPSLatitude</x:xmpmeta>", comment=b"0912345678"
        ),
        "clean",
        payload=b"0912345678",
    ),
]

ANIMATED = [
    case(
        "apng-1000-frames",
        lambda: encode(frames(1)[0], "PNG", save_all=True, append_images=frames(1000)[1:]),
        "clean",
        colour=((0.25, 0.25), (230, 30, 30)),
    ),
    case(
        "webp-1000-frames",
        lambda: encode(
            frames(1)[0], "WEBP", save_all=True, append_images=frames(1000)[1:], lossless=True
        ),
        "clean",
        colour=((0.25, 0.25), (230, 30, 30)),
    ),
    case(
        "mpo-50-pictures",
        lambda: encode(frames(1)[0], "MPO", save_all=True, append_images=frames(50)[1:]),
        "clean",
        colour=((0.25, 0.25), (230, 30, 30)),
    ),
    case(
        "heif-40-images",
        lambda: encode(frames(1)[0], "HEIF", save_all=True, append_images=frames(40)[1:]),
        "clean",
        colour=((0.25, 0.25), (230, 30, 30)),
        needs_heif=True,
    ),
]

MODES = [
    case("jpeg-cmyk", cmyk_red, "clean", colour=((0.5, 0.5), (255, 0, 0))),
    case(
        "jpeg-greyscale",
        lambda: encode(Image.new("L", (64, 48), 90), "JPEG"),
        "clean",
        colour=((0.5, 0.5), (90, 90, 90)),
    ),
    case(
        "png-16bit-grey",
        lambda: encode(Image.new("I;16", (64, 48), 32768), "PNG"),
        "clean",
        colour=((0.5, 0.5), (128, 128, 128)),
    ),
    case(
        "png-16bit-rgb",
        lambda: zero_png(64, 48, depth=16, colour=2),
        "clean",
        colour=((0.5, 0.5), (0, 0, 0)),
    ),
    case(
        "png-16bit-rgba-transparent",
        lambda: zero_png(64, 48, depth=16, colour=6),
        "clean",
        colour=((0.5, 0.5), (255, 255, 255)),
    ),
    case(
        "png-la",
        lambda: encode(Image.new("LA", (64, 48), (0, 0)), "PNG"),
        "clean",
        colour=((0.5, 0.5), (255, 255, 255)),
    ),
    case(
        "png-palette-with-alpha",
        png_palette_with_alpha,
        "clean",
        colour=((0.1, 0.1), (255, 255, 255)),
    ),
    case(
        "png-palette-opaque-centre",
        png_palette_with_alpha,
        "clean",
        colour=((0.5, 0.5), (0, 0, 255)),
    ),
    case(
        "png-1bit",
        lambda: encode(Image.new("1", (64, 48), 1), "PNG"),
        "clean",
        colour=((0.5, 0.5), (255, 255, 255)),
    ),
    case(
        "png-grey-with-transparent-value",
        lambda: encode(Image.new("L", (64, 48), 7), "PNG", transparency=7),
        "clean",
        colour=((0.5, 0.5), (255, 255, 255)),
    ),
    case(
        "webp-rgba",
        lambda: encode(Image.new("RGBA", (64, 48), (0, 0, 255, 255)), "WEBP", lossless=True),
        "clean",
        colour=((0.5, 0.5), (0, 0, 255)),
    ),
    case(
        "heif-rgba-transparent",
        lambda: encode(Image.new("RGBA", (64, 48), (0, 0, 0, 0)), "HEIF"),
        "clean",
        colour=((0.5, 0.5), (255, 255, 255)),
        needs_heif=True,
    ),
    case(
        "heif-16bit-grey",
        lambda: encode(Image.new("I;16", (64, 48), 65535), "HEIF"),
        "clean",
        colour=((0.5, 0.5), (255, 255, 255)),
        needs_heif=True,
    ),
]

CASES = BOMBS + STRUCTURE + BROKEN + DISGUISED + METADATA + ANIMATED + MODES

MESSAGES = {
    "empty": "Tệp ảnh trống. Vui lòng chọn lại ảnh.",
    "unsupported": (
        "Tệp này không phải là ảnh được hỗ trợ. "
        "Vui lòng gửi ảnh định dạng JPEG, PNG, WebP hoặc HEIC."
    ),
    "corrupt": "Ảnh bị hỏng hoặc chưa được tải lên đầy đủ. Vui lòng thử gửi lại ảnh.",
    "malformed": "Ảnh bị hỏng hoặc chưa được tải lên đầy đủ. Vui lòng thử gửi lại ảnh.",
    "bad_dimensions": "Kích thước ảnh không hợp lệ.",
}
TOO_MANY_PIXELS = re.compile(r"Ảnh có độ phân giải quá lớn: tối đa \d+(,\d)? triệu điểm ảnh\.")


def assert_vietnamese_message(error: PhotoError) -> None:
    text = str(error)
    if error.code == "too_many_pixels":
        assert TOO_MANY_PIXELS.fullmatch(text), text
    else:
        assert text == MESSAGES[error.code]


def assert_stored_clean(data: bytes, upload: bytes, case: Case) -> Image.Image:
    """A stored JPEG: clean, a sane size, no payload of the upload, the right colour."""
    img = assert_clean_jpeg(data, max_side=1600)
    assert min(img.size) >= 1
    if case.payload is not None:
        assert case.payload in upload
        assert case.payload not in data
    if case.colour is not None:
        (fx, fy), expected = case.colour
        pixel = img.getpixel((int(img.width * fx), int(img.height * fy)))
        assert all(abs(a - b) <= 12 for a, b in zip(pixel, expected, strict=True)), (
            pixel,
            expected,
        )
    return img


@pytest.fixture
def decode_guard(monkeypatch):
    """Records whether any pixel data was decoded (Pillow's load, or pillow-heif's)."""
    decoded = []
    real_load = ImageFile.ImageFile.load

    def load(self):
        decoded.append(type(self).__name__)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return decoded


# -------------------------------------------------------- (a) process_photo itself


@pytest.mark.parametrize("case", CASES)
def test_hostile_file_is_refused_in_vietnamese_or_stored_clean(case, decode_guard):
    upload = case.make()
    if case.outcome == "clean":
        result = process_photo(upload)
        assert_clean(result)
        assert_stored_clean(result.data, upload, case)
        return
    with pytest.raises(PhotoError) as info:
        process_photo(upload)
    assert info.value.code == case.outcome
    assert_vietnamese_message(info.value)
    if case.before_decoding:
        assert decode_guard == [], "pixels were decoded before the refusal"


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: gif_with_size(65_535, 65_535), id="gif"),
        pytest.param(lambda: bmp_with_size(50_000, 50_000), id="bmp"),
        pytest.param(lambda: tiff_with_size(100_000, 100_000), id="tiff"),
    ],
)
def test_bombs_in_formats_we_refuse_are_real_bombs_for_pillow(make):
    # Were these formats accepted, Pillow would open them at a size beyond any limit.
    try:
        with Image.open(io.BytesIO(make())) as img:
            assert img.width * img.height > 2_000_000_000
    except Image.DecompressionBombError:
        pass


def test_heif_crop_cannot_hide_the_coded_size():
    if not heif_available():
        pytest.skip("pillow-heif cannot write HEIF here")
    data = heif_with_coded_size(30_000, 30_000)
    with Image.open(io.BytesIO(data)) as img:
        assert img.size == (64, 48)  # what Pillow reports: the crop
    assert probe.heif_coded_sizes(data) == [(30_000, 30_000)]


def test_webp_over_the_memory_budget_names_the_pixels_webp_may_have():
    with pytest.raises(PhotoError) as info:
        process_photo(webp_vp8x(6_000, 6_000))
    # 256 MiB at 16 bytes per pixel.
    assert str(info.value) == "Ảnh có độ phân giải quá lớn: tối đa 16,8 triệu điểm ảnh."


def test_memory_budget_is_a_parameter():
    data = zero_png(1_000, 1_000)  # RGBA: 4 MB decoded, 4 MB more to convert
    assert process_photo(data, max_decode_bytes=9_000_000).width == 1000
    with pytest.raises(PhotoError) as info:
        process_photo(data, max_decode_bytes=7_000_000)
    assert info.value.code == "too_many_pixels"


def test_large_alpha_png_is_converted_strip_by_strip(monkeypatch):
    crops = []
    real_crop = Image.Image.crop

    def spy(self, box=None):
        crops.append(box)
        return real_crop(self, box)

    monkeypatch.setattr(Image.Image, "crop", spy)
    result = process_photo(zero_png(2_400, 2_400))  # 23 MB decoded
    assert (result.width, result.height) == (1600, 1600)
    assert len(crops) > 1  # never one full-size RGBA copy
    assert all(box[3] - box[1] <= 500 for box in crops)


def test_one_photo_is_decoded_at_a_time_per_process(monkeypatch):
    monkeypatch.setattr(photos, "DECODE_WAIT_SECONDS", 0)
    inside, release = threading.Event(), threading.Event()
    real_decode = photos._decode

    def slow_decode(data, limits):
        inside.set()
        release.wait(10)
        return real_decode(data, limits)

    monkeypatch.setattr(photos, "_decode", slow_decode)
    first = threading.Thread(target=process_photo, args=(small_jpeg(),))
    first.start()
    try:
        assert inside.wait(10)
        with pytest.raises(PhotoError) as info:
            process_photo(small_jpeg())
        assert info.value.code == "busy"
        assert str(info.value) == (
            "Máy chủ đang bận xử lý ảnh khác. Vui lòng bấm gửi lại sau ít phút."
        )
    finally:
        release.set()
        first.join(10)
    monkeypatch.setattr(photos, "_decode", real_decode)
    assert process_photo(small_jpeg()).width == 64  # the slot was given back


def test_refused_photo_gives_the_decode_slot_back():
    for _ in range(3):
        with pytest.raises(PhotoError):
            process_photo(jpeg_with_size(65_000, 65_000))
    assert photos._DECODE_SLOT.acquire(timeout=0)
    photos._DECODE_SLOT.release()


@pytest.mark.slow
@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: zero_png(6_300, 6_300), id="png-rgba-40mp"),
        pytest.param(lambda: zero_png(6_300, 6_300, depth=16, colour=0), id="png-grey16-40mp"),
        pytest.param(lambda: zero_png(6_300, 6_300, colour=4), id="png-la-40mp"),
    ],
)
def test_largest_accepted_pngs_are_processed(make):
    result = process_photo(make())
    assert (result.width, result.height) == (1600, 1600)


# -------------------------------------------------------------- (b) through the form

DESCRIPTION = "Có người lạ đi xe máy không biển số dò xét từng nhà vào buổi tối."
PLACE = "Cổng nhà văn hóa thôn Đông"
HOSTILE_NAMES = [
    "../../../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "/var/www/html/static/x.jpg",
    "<script>alert(1)</script>.jpg",
    '"><img src=x onerror=alert(1)>.jpg',
    "anh.jpg\x00.php",
    "shell.php.jpg",
    "\u202egpj.exe",
    "x" * 3000 + ".jpg",
    "CON.jpg",
    ".htaccess",
    "Nguyễn Văn An - nhà số 12 - 0912345678.jpg",
    "",
]
LYING_TYPES = ["image/jpeg", "image/png", "text/html", "application/x-php", "image/svg+xml"]
# A file part whose name is empty (or unreadable) is what a browser sends when no file is
# chosen: Flask-WTF drops it (see test_file_part_without_a_name_is_no_photo).
NAMED = [name for name in HOSTILE_NAMES if name and not name.startswith('"')]
# Every case but the empty file (see test_zero_byte_file_is_refused_by_the_field), each
# sent under a hostile name and a content type that has nothing to do with it.
FORM_CASES = [
    pytest.param(
        param.values[0],
        NAMED[i % len(NAMED)],
        LYING_TYPES[i % len(LYING_TYPES)],
        id=param.id,
        marks=param.marks,
    )
    for i, param in enumerate(c for c in CASES if c.values[0].outcome != "empty")
]


def tip_form(**overrides) -> dict:
    data = {
        "submission_key": services.new_submission_key(),
        "village": "A1",
        "category": "theft",
        "description": DESCRIPTION,
        "place": PLACE,
        "occurred_on": "",
        "occurred_time": "",
        "latitude": "",
        "longitude": "",
        "identity_tier": "anonymous",
        "name": "",
        "phone": "",
        "photo_token": "",
    }
    data.update(overrides)
    return data


def post_photo(client, upload: bytes, filename: str = "anh.jpg", content_type="image/jpeg"):
    fields = tip_form(photo=FileStorage(io.BytesIO(upload), filename, content_type=content_type))
    # Encoded here, in memory: the test client spools bodies over 500 KB to a temporary
    # file that it never closes.
    boundary, body = encode_multipart(MultiDict(fields))
    return client.post(
        "/gui-tin?xa=A", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )


def stored_files(app) -> set[Path]:
    root = Path(app.config["UPLOAD_DIR"])
    return {p.relative_to(root) for p in root.rglob("*") if p.is_file()}


def photo_field_error(html: str) -> str | None:
    match = re.search(r'<p class="error" id="photo-error">(.*?)</p>', html, re.S)
    return unescape(match.group(1)).strip() if match else None


def textarea(html: str, name: str) -> str | None:
    match = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', html, re.S)
    return unescape(match.group(1)).lstrip("\r\n") if match else None


def input_value(html: str, name: str) -> str | None:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    if not match:
        return None
    value = re.search(r'value="([^"]*)"', match.group(0))
    return unescape(value.group(1)) if value else ""


def the_only_tip() -> Tip:
    (tip,) = db.session.scalars(select(Tip)).all()
    return tip


def assert_refused_by_the_field(response, expected_code: str) -> None:
    html = response.get_data(as_text=True)
    assert response.status_code == 422, html[:2000]
    error = photo_field_error(html)
    if expected_code == "too_many_pixels":
        assert error and TOO_MANY_PIXELS.fullmatch(error), error
    else:
        assert error == MESSAGES[expected_code]
    assert textarea(html, "description") == DESCRIPTION  # what was typed is not lost
    assert input_value(html, "place") == PLACE
    assert db.session.scalar(select(func.count(Tip.id))) == 0


@pytest.mark.parametrize(("case", "filename", "content_type"), FORM_CASES)
def test_hostile_upload_through_the_form_is_refused_by_the_field_or_stored_clean(
    app, client, world, case, filename, content_type
):
    upload = case.make()
    before = stored_files(app)

    response = post_photo(client, upload, filename, content_type)

    new_files = stored_files(app) - before
    if case.outcome != "clean":
        assert_refused_by_the_field(response, case.outcome)
        assert new_files == set()  # nothing of a refused upload is kept
        return
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    (stored,) = the_only_tip().photos
    names = {stored.filename, stored.thumb_filename}
    assert {path.name for path in new_files} == names
    for path in new_files:  # <dir>/<ab>/<server-made token>.jpg
        assert len(path.parts) == 2 and path.parts[0] == path.name[:2], path
        assert NAME_RE.fullmatch(path.name), path
    root = Path(app.config["UPLOAD_DIR"])
    assert_stored_clean((root / stored.filename[:2] / stored.filename).read_bytes(), upload, case)
    assert_clean_jpeg(
        (root / stored.thumb_filename[:2] / stored.thumb_filename).read_bytes(), max_side=320
    )


# Parts of each hostile name that must never be stored or shown back.
_DISTINCTIVE = re.compile(
    r"passwd|win\.ini|var/www|alert\(1\)|onerror|shell\.php|htaccess|gpj\.exe|x{50}|CON\.jpg"
    r"|Nguyễn|0912345678|\.php"
)


@pytest.mark.parametrize("filename", NAMED)
def test_client_file_name_is_never_stored_or_shown(app, client, world, filename):
    before = stored_files(app)
    response = post_photo(client, small_jpeg(exif=gps_exif(1)), filename, "text/html")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html[:2000]
    new_files = stored_files(app) - before
    assert len(new_files) == 2
    assert all(NAME_RE.fullmatch(path.name) for path in new_files)
    stored_text = database_text()
    parts = _DISTINCTIVE.findall(filename)
    assert parts
    for part in parts:
        for place in (stored_text, html, " ".join(str(p) for p in new_files)):
            assert part not in place and escape(part) not in place, part


@pytest.mark.parametrize("filename", ["", '"><img src=x onerror=alert(1)>.jpg'])
def test_file_part_without_a_name_is_no_photo(app, client, world, filename):
    before = stored_files(app)
    response = post_photo(client, small_jpeg(), filename, "image/jpeg")
    assert response.status_code == 200
    assert the_only_tip().photos == []
    assert stored_files(app) == before


def test_photo_sent_with_a_lying_type_and_name_is_judged_by_its_content(app, client, world):
    png = encode(pattern(), "PNG")
    response = post_photo(client, png, "report.html", "text/html")
    assert response.status_code == 200
    assert len(the_only_tip().photos) == 1

    response = post_photo(client, HTML, "anh.jpg", "image/jpeg")
    assert response.status_code == 422
    assert photo_field_error(response.get_data(as_text=True)) == MESSAGES["unsupported"]
    assert db.session.scalar(select(func.count(TipPhoto.id))) == 1


def test_zero_byte_file_is_refused_by_the_field(app, client, world):
    before = stored_files(app)
    response = post_photo(client, b"", "anh.jpg", "image/jpeg")
    assert_refused_by_the_field(response, "empty")
    assert stored_files(app) == before


def test_form_without_a_file_chosen_is_still_a_tip(client, world):
    # What a browser sends when no file is chosen: an empty part with an empty file name.
    response = post_photo(client, b"", "", "application/octet-stream")
    assert response.status_code == 200
    assert the_only_tip().photos == []
