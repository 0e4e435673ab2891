"""Tests for tipline.tips.photos: what residents upload is cleaned before it is stored.

Real camera/phone photos come from ../shared/testdata/photos (next to the project, not
in it; those tests skip when it is absent). Everything else is generated in memory.
"""

from __future__ import annotations

import io
import json
import random
import re
import shutil
import struct
import subprocess
import warnings
import zlib
from pathlib import Path

import pytest
from PIL import (
    ExifTags,
    Image,
    ImageChops,
    ImageFile,
    ImageOps,
    ImageStat,
    JpegImagePlugin,
    TiffImagePlugin,
    features,
)

from tipline.media import photos, storage
from tipline.media.photos import (
    ACCEPTED_FORMATS,
    PhotoError,
    ProcessedPhoto,
    process_photo,
)
from tipline.media.storage import delete_photo, photo_path, save_photo

PHOTO_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "testdata" / "photos"
ORIENTATION_PHOTOS = (
    "orientation-portrait_6.jpg",
    "orientation-landscape_3.jpg",
    "orientation-landscape_8.jpg",
)
_ABSENT = pytest.mark.skip(reason=f"no shared test photos at {PHOTO_DIR}")


def _real_photo_params() -> list:
    if not PHOTO_DIR.is_dir():
        return [pytest.param("absent", marks=_ABSENT)]
    return sorted(p.name for p in PHOTO_DIR.iterdir() if p.is_file() and p.suffix != ".md")


# ---------------------------------------------------------------------------- helpers

# Markers a clean baseline/progressive JPEG made by Pillow consists of.
_CLEAN_MARKERS = {
    0xD8: "SOI",
    0xE0: "APP0 (JFIF)",
    0xDB: "DQT",
    0xC0: "SOF0",
    0xC2: "SOF2",
    0xC4: "DHT",
    0xDD: "DRI",
    0xDA: "SOS",
    0xD9: "EOI",
}
_METADATA_SIGNATURES = (b"Exif", b"http://ns.adobe.com/xap", b"ICC_PROFILE", b"GPS")


def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) of every marker segment; the entropy-coded scan data is skipped.

    Fails if anything follows EOI (e.g. an HTML page appended to a photo).
    """
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    segments: list[tuple[int, bytes]] = [(0xD8, b"")]
    i = 2
    while True:
        assert data[i] == 0xFF, f"expected a marker at {i}"
        while data[i] == 0xFF:  # fill bytes
            i += 1
        marker = data[i]
        i += 1
        if marker == 0xD9:
            segments.append((marker, b""))
            assert i == len(data), "data after the end of the JPEG"
            return segments
        length = int.from_bytes(data[i : i + 2], "big")
        segments.append((marker, data[i + 2 : i + length]))
        i += length
        if marker == 0xDA:  # skip the scan: up to the next marker that is not RSTn / stuffing
            while True:
                j = data.index(b"\xff", i)
                k = j + 1
                while data[k] == 0xFF:
                    k += 1
                if data[k] == 0x00 or 0xD0 <= data[k] <= 0xD7:
                    i = k + 1
                    continue
                i = j
                break


def assert_clean_jpeg(data: bytes, *, max_side: int) -> Image.Image:
    """A freshly encoded JPEG with no metadata of any kind; returns it decoded."""
    # Long signatures cannot appear by chance in compressed pixel data...
    for signature in _METADATA_SIGNATURES[:3]:
        assert signature not in data, signature
    # ...but three bytes like b"GPS" can, so look for those in the marker segments only.
    segments = jpeg_segments(data)
    unexpected = [hex(marker) for marker, _ in segments if marker not in _CLEAN_MARKERS]
    assert not unexpected, f"unexpected JPEG segments (APPn/COM carry metadata): {unexpected}"
    headers = b"".join(payload for _, payload in segments)
    for signature in _METADATA_SIGNATURES:
        assert signature not in headers, signature
    (jfif,) = [payload for marker, payload in segments if marker == 0xE0]
    assert jfif[:5] == b"JFIF\0"
    assert jfif[12:14] == b"\0\0", "JFIF thumbnail present"

    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "JPEG"
        assert img.mode == "RGB"
        assert not img.getexif()
        for key in ("exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "comment", "photoshop"):
            assert key not in img.info, key
        assert max(img.size) <= max_side
        img.load()
        return img.copy()


def assert_clean(result: ProcessedPhoto, *, long_side: int = 1600, thumb_side: int = 320):
    img = assert_clean_jpeg(result.data, max_side=long_side)
    assert img.size == (result.width, result.height)
    thumb = assert_clean_jpeg(result.thumb, max_side=thumb_side)
    assert_same_shape(thumb.size, img.size)
    return img, thumb


def assert_same_shape(a: tuple[int, int], b: tuple[int, int]) -> None:
    """Same aspect ratio, allowing for each side of either size being rounded."""
    assert abs(a[0] * b[1] - a[1] * b[0]) <= max(a) + max(b), (a, b)


def fit(size: tuple[int, int], limit: int) -> tuple[int, int]:
    scale = min(1, limit / max(size))
    return round(size[0] * scale), round(size[1] * scale)


def difference(a: Image.Image, b: Image.Image, size: tuple[int, int] = (24, 24)) -> float:
    """Mean absolute difference (0..255) of two pictures scaled to the same small size."""
    a = a.convert("RGB").resize(size, Image.Resampling.BOX)
    b = b.convert("RGB").resize(size, Image.Resampling.BOX)
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


_DIHEDRAL = {
    "as is": (),
    "mirrored": (Image.Transpose.FLIP_LEFT_RIGHT,),
    "rotated 90": (Image.Transpose.ROTATE_90,),
    "rotated 180": (Image.Transpose.ROTATE_180,),
    "rotated 270": (Image.Transpose.ROTATE_270,),
    "flipped": (Image.Transpose.FLIP_TOP_BOTTOM,),
    "transposed": (Image.Transpose.TRANSPOSE,),
    "transversed": (Image.Transpose.TRANSVERSE,),
}


def assert_upright(out: Image.Image, expected: Image.Image, *, tolerance: float) -> None:
    """out shows expected, and no other rotation or mirror image of it matches as well."""
    assert_same_shape(out.size, expected.size)
    diffs = {}
    for label, steps in _DIHEDRAL.items():
        variant = expected
        for step in steps:
            variant = variant.transpose(step)
        diffs[label] = difference(out, variant)
    assert diffs["as is"] < tolerance, diffs
    best_wrong = min(value for label, value in diffs.items() if label != "as is")
    assert best_wrong > 2 * diffs["as is"] + 5, diffs


def as_srgb(img: Image.Image, icc_profile: bytes) -> Image.Image:
    """What a colour-managed viewer shows (these photos carry Apple's gamma-1.8
    "Generic RGB" or Display P3 profiles, which the stored copy is converted from)."""
    ImageCms = pytest.importorskip("PIL.ImageCms")
    source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
    return ImageCms.profileToProfile(img, source, ImageCms.createProfile("sRGB"))


def pattern(size: tuple[int, int] = (120, 80)) -> Image.Image:
    """Four differently coloured quadrants: every rotation or mirror image looks different."""
    w, h = size
    img = Image.new("RGB", size, (230, 30, 30))  # top left red
    img.paste((30, 160, 40), (w // 2, 0, w, h // 2))  # top right green
    img.paste((30, 60, 220), (0, h // 2, w // 2, h))  # bottom left blue
    img.paste((240, 220, 40), (w // 2, h // 2, w, h))  # bottom right yellow
    return img


def encode(img: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **params)
    return buf.getvalue()


def gps_exif(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "SecretCameraMaker"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = tuple(TiffImagePlugin.IFDRational(v) for v in (21, 1, 30))
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = tuple(TiffImagePlugin.IFDRational(v) for v in (105, 51, 12))
    return exif


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def blank_png(width: int, height: int) -> bytes:
    """A valid, tiny 1-bit PNG of any size, made without holding its pixels in memory."""
    row = bytes(1 + (width + 7) // 8)  # filter byte + packed pixels
    packer = zlib.compressobj(6)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def refused(data: bytes, **kwargs) -> PhotoError:
    with pytest.raises(PhotoError) as info:
        process_photo(data, **kwargs)
    return info.value


@pytest.fixture
def no_decoding(monkeypatch):
    """Fail if any pixel data gets decoded (refusals must come from the header)."""

    def load(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


# ------------------------------------------------------------------ real photos


@pytest.fixture(scope="module")
def real_results() -> dict[str, ProcessedPhoto]:
    """Every shared photo processed once (the HEIC alone takes ~0.5 s)."""
    if not PHOTO_DIR.is_dir():
        pytest.skip(f"no shared test photos at {PHOTO_DIR}")
    return {
        name: process_photo((PHOTO_DIR / name).read_bytes())
        for name in _real_photo_params()
        if isinstance(name, str)
    }


def _upright_size(path: Path) -> tuple[int, int]:
    """The size after EXIF orientation, read from the header only."""
    with Image.open(path) as img:
        orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
        return img.size[::-1] if orientation in (5, 6, 7, 8) else img.size


@pytest.mark.parametrize("name", _real_photo_params())
def test_real_photo_is_stored_as_fresh_jpeg_without_any_metadata(real_results, name):
    # All of them decode with Pillow 13 + pillow-heif, including the ones named after
    # errors in other readers (invalid-image…, tests-30-type_error, tests-87_OSError).
    result = real_results[name]
    img, thumb = assert_clean(result)
    assert img.size == fit(_upright_size(PHOTO_DIR / name), 1600)
    assert max(thumb.size) == min(320, max(img.size))


@pytest.mark.parametrize("name", ORIENTATION_PHOTOS)
def test_real_photo_with_exif_orientation_comes_out_upright(real_results, name):
    with Image.open(PHOTO_DIR / name) as original:
        assert original.getexif()[ExifTags.Base.Orientation] != 1
        expected = as_srgb(ImageOps.exif_transpose(original), original.info["icc_profile"])
    out = Image.open(io.BytesIO(real_results[name].data))
    assert_upright(out, expected, tolerance=4)


def test_real_iphone_heic_is_accepted_and_looks_like_the_original(real_results):
    name = "heic-IMG_5195.HEIC"
    if name not in real_results:
        pytest.skip(f"{name} not in the shared photos")
    with Image.open(PHOTO_DIR / name) as original:
        assert original.format == "HEIF"
        assert original.info.get("exif") and original.info.get("xmp")  # GPS, XMP, ICC
        expected = as_srgb(original.reduce(8), original.info["icc_profile"])
    result = real_results[name]
    assert (result.width, result.height) == (1239, 1600)
    assert_upright(Image.open(io.BytesIO(result.data)), expected, tolerance=4)


def assert_exiftool_finds_no_metadata(folder: Path, results: dict[str, ProcessedPhoto]):
    """exiftool sees nothing but the file itself and the bare JFIF header."""
    exiftool = shutil.which("exiftool")
    if exiftool is None:
        pytest.skip("exiftool is not installed")
    files = []
    for name, result in results.items():
        for suffix, data in (("", result.data), (".thumb", result.thumb)):
            path = folder / f"{Path(name).stem}{suffix}.jpg"
            path.write_bytes(data)
            files.append(str(path))
    proc = subprocess.run(
        [exiftool, "-a", "-G1", "-j", *files], capture_output=True, check=True, timeout=60
    )
    reports = json.loads(proc.stdout)
    assert len(reports) == len(files)
    for report in reports:
        groups = {key.split(":", 1)[0] for key in report if ":" in key}
        assert groups <= {"ExifTool", "System", "File", "JFIF", "Composite"}, (
            report["SourceFile"],
            sorted(groups),
        )
        assert not any("gps" in key.lower() for key in report), report


def test_real_photos_have_no_metadata_according_to_exiftool(real_results, tmp_path):
    assert_exiftool_finds_no_metadata(tmp_path, real_results)


# ------------------------------------------------------------- generated images


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_and_gps_exif_removed(orientation):
    source = pattern((120, 80))
    data = encode(source, "JPEG", quality=95, exif=gps_exif(orientation))
    with Image.open(io.BytesIO(data)) as original:
        assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the input has GPS
        expected = ImageOps.exif_transpose(original)

    result = process_photo(data)

    img, _ = assert_clean(result)
    assert b"SecretCameraMaker" not in result.data
    assert img.size == expected.size
    assert_upright(img, expected, tolerance=6)


def test_icc_profile_xmp_and_comment_are_not_stored_and_pixels_kept():
    ImageCms = pytest.importorskip("PIL.ImageCms")
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        b'xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="21,1.5N"/>'
        b"</rdf:RDF></x:xmpmeta>"
    )
    source = pattern((200, 100))
    data = encode(source, "JPEG", quality=95, icc_profile=srgb, xmp=xmp, comment=b"call 0912345678")
    with Image.open(io.BytesIO(data)) as original:
        assert {"icc_profile", "xmp", "comment"} <= set(original.info)

    result = process_photo(data)

    img, _ = assert_clean(result)
    for secret in (b"0912345678", b"GPSLatitude", b"sRGB", b"adobe"):
        assert secret not in result.data and secret not in result.thumb
    assert difference(img, source) < 3  # sRGB -> sRGB: colours unchanged


def test_generated_photo_with_all_kinds_of_metadata_is_clean_according_to_exiftool(tmp_path):
    ImageCms = pytest.importorskip("PIL.ImageCms")
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(
        pattern(),
        "JPEG",
        exif=gps_exif(6),
        icc_profile=srgb,
        comment=b"note",
        xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/"></x:xmpmeta>',
    )
    assert_exiftool_finds_no_metadata(tmp_path, {"generated": process_photo(data)})


def test_unreadable_icc_profile_does_not_block_the_photo():
    data = encode(pattern(), "JPEG", icc_profile=b"this is not an ICC profile")
    with Image.open(io.BytesIO(data)) as original:
        assert original.info["icc_profile"] == b"this is not an ICC profile"
    img, _ = assert_clean(process_photo(data))
    assert difference(img, pattern()) < 6


def test_png_with_alpha_is_flattened_on_white_and_hidden_colour_does_not_leak():
    img = Image.new("RGBA", (90, 30), (255, 0, 0, 0))  # invisible red
    img.paste((0, 0, 255, 255), (30, 0, 60, 30))  # opaque blue
    img.paste((0, 0, 0, 128), (60, 0, 90, 30))  # half-transparent black

    out, _ = assert_clean(process_photo(encode(img, "PNG")))

    assert_close(out.getpixel((15, 15)), (255, 255, 255))
    assert_close(out.getpixel((45, 15)), (0, 0, 255))
    assert_close(out.getpixel((75, 15)), (127, 127, 127))


def test_palette_png_with_transparent_colour_is_flattened_on_white():
    img = Image.new("P", (60, 30), 0)
    img.putpalette([255, 0, 0, 0, 0, 255])  # 0: red (transparent), 1: blue
    img.paste(1, (30, 0, 60, 30))
    data = encode(img, "PNG", transparency=0)
    with Image.open(io.BytesIO(data)) as original:
        assert original.mode == "P" and original.info["transparency"] == 0

    out, _ = assert_clean(process_photo(data))

    assert_close(out.getpixel((10, 15)), (255, 255, 255))
    assert_close(out.getpixel((50, 15)), (0, 0, 255))


def test_greyscale_with_alpha_png_is_flattened_on_white():
    img = Image.new("LA", (40, 20), (0, 0))
    img.paste((0, 255), (20, 0, 40, 20))
    out, _ = assert_clean(process_photo(encode(img, "PNG")))
    assert_close(out.getpixel((5, 10)), (255, 255, 255))
    assert_close(out.getpixel((35, 10)), (0, 0, 0))


def test_cmyk_jpeg_is_converted_to_rgb():
    img = Image.new("CMYK", (60, 30), (255, 0, 0, 0))  # cyan
    img.paste((0, 0, 0, 255), (30, 0, 60, 30))  # black
    data = encode(img, "JPEG", quality=95)  # Pillow writes an Adobe (inverted) CMYK JPEG
    with Image.open(io.BytesIO(data)) as original:
        assert original.mode == "CMYK"

    out, _ = assert_clean(process_photo(data))

    assert_close(out.getpixel((10, 15)), (0, 255, 255))
    assert_close(out.getpixel((50, 15)), (0, 0, 0))


def test_sixteen_bit_greyscale_png_is_scaled_to_eight_bits():
    values = [0] * 20 + [32768] * 20 + [65535] * 20
    img = Image.frombytes("I;16", (60, 20), struct.pack("<60H", *values) * 20)
    data = encode(img, "PNG")
    with Image.open(io.BytesIO(data)) as original:
        assert original.mode.startswith("I")

    out, _ = assert_clean(process_photo(data))

    assert_close(out.getpixel((5, 10)), (0, 0, 0))
    assert_close(out.getpixel((30, 10)), (128, 128, 128))
    assert_close(out.getpixel((55, 10)), (255, 255, 255))


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGB"])
def test_other_png_modes_become_rgb(mode):
    source = pattern((80, 40))
    source = source.quantize(4) if mode == "P" else source.convert(mode)
    out, _ = assert_clean(process_photo(encode(source, "PNG")))
    assert difference(out, source) < 4


def test_webp_photo_is_accepted():
    source = pattern((160, 120))
    out, _ = assert_clean(process_photo(encode(source, "WEBP", quality=90, exif=gps_exif())))
    assert difference(out, source) < 4


def test_animated_webp_is_accepted_using_only_the_first_frame():
    frames = [Image.new("RGB", (64, 48), colour) for colour in ("red", "lime", "blue")]
    data = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    with Image.open(io.BytesIO(data)) as original:
        assert original.n_frames == 3

    out, _ = assert_clean(process_photo(data))

    assert_close(out.getpixel((32, 24)), (255, 0, 0))


def test_mpo_multi_picture_jpeg_from_a_camera_is_accepted_using_the_first_picture():
    first, second = Image.new("RGB", (64, 48), "red"), Image.new("RGB", (64, 48), "blue")
    data = encode(first, "MPO", save_all=True, append_images=[second])
    with Image.open(io.BytesIO(data)) as original:
        assert original.format == "MPO"

    out, _ = assert_clean(process_photo(data))

    assert_close(out.getpixel((32, 24)), (254, 0, 0))


def test_generated_heic_with_gps_is_accepted():
    if "HEIF" not in Image.SAVE:
        pytest.skip("pillow-heif was built without a HEIF encoder")
    source = pattern((128, 96))
    data = encode(source, "HEIF", quality=90, exif=gps_exif(6).tobytes())
    assert data[4:12] == b"ftypheic"

    out, _ = assert_clean(process_photo(data))

    # pillow-heif applies the EXIF orientation itself while decoding.
    assert_upright(out, source.transpose(Image.Transpose.ROTATE_270), tolerance=8)


@pytest.mark.parametrize(("orientation", "expected"), [(1, (1600, 1200)), (6, (1200, 1600))])
def test_large_jpeg_is_decoded_at_reduced_scale_and_scaled_to_1600(
    monkeypatch, orientation, expected
):
    drafts = []
    real_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = real_draft(self, mode, size)
        drafts.append((mode, size, self.size))
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    source = pattern((4000, 3000))
    data = encode(source, "JPEG", quality=80, exif=gps_exif(orientation))

    result = process_photo(data)

    # draft() made libjpeg decode at 1/2 scale: 2000x1500 instead of 4000x3000.
    assert drafts == [("RGB", (1600, 1200), (2000, 1500))]
    img, thumb = assert_clean(result)
    assert img.size == expected
    assert thumb.size == (expected[0] // 5, expected[1] // 5)
    expected = source.reduce(10)
    if orientation == 6:
        expected = expected.transpose(Image.Transpose.ROTATE_270)
    assert_upright(img, expected, tolerance=4)


def test_small_image_is_not_upscaled():
    result = process_photo(encode(pattern((200, 100)), "PNG"))
    img, thumb = assert_clean(result)
    assert img.size == thumb.size == (200, 100)


def test_sizes_follow_long_side_and_thumb_side_arguments():
    result = process_photo(encode(pattern((1000, 600)), "PNG"), long_side=500, thumb_side=100)
    img, thumb = assert_clean(result, long_side=500, thumb_side=100)
    assert (result.width, result.height) == img.size == (500, 300)
    assert thumb.size == (100, 60)


def test_html_appended_to_a_photo_is_not_stored():
    data = encode(pattern(), "JPEG") + b"<html><script>alert(document.cookie)</script></html>"
    result = process_photo(data)
    assert_clean(result)  # also fails on anything after the end of the JPEG
    assert b"<script" not in result.data


def assert_close(pixel, expected, tolerance: int = 6) -> None:
    assert all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True)), (
        pixel,
        expected,
    )


# -------------------------------------------------------------------- refusals


def _unsupported_samples() -> list:
    img = pattern((40, 30))
    samples = [
        pytest.param(encode(img, "BMP"), id="bmp"),
        pytest.param(encode(img, "TIFF"), id="tiff"),
        pytest.param(encode(img, "GIF"), id="gif"),
        pytest.param(
            encode(img, "GIF", save_all=True, append_images=[Image.new("RGB", (40, 30))]),
            id="animated-gif",
        ),
        pytest.param(encode(img, "ICO"), id="ico"),
        pytest.param(encode(img, "PPM"), id="ppm"),
        pytest.param(encode(img, "TGA"), id="tga"),
        pytest.param(encode(img, "PDF"), id="pdf"),
        pytest.param(
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" '
            b'height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>',
            id="svg",
        ),
        pytest.param(b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)>", id="html"),
        pytest.param(b"<?php system($_GET['c']); ?>", id="php"),
        pytest.param("Ảnh của tôi".encode(), id="text"),
        pytest.param(b"PK\x03\x04" + bytes(100), id="zip"),
        pytest.param(bytes(random.Random(7).randrange(256) for _ in range(2000)), id="noise"),
        pytest.param(b"\x00", id="one-byte"),
        pytest.param(b"\xff\xd8\xff", id="jpeg-magic-only"),
        pytest.param(b"\x89PNG\r\n\x1a\n", id="png-signature-only"),
        pytest.param(b"RIFF\x10\x00\x00\x00WEBPVP8 ", id="webp-header-only"),
    ]
    if features.check("jpg_2000"):
        samples.append(pytest.param(encode(img, "JPEG2000"), id="jpeg2000"))
    if features.check("avif"):
        samples.append(pytest.param(encode(img, "AVIF"), id="avif"))
    return samples


@pytest.mark.parametrize("data", _unsupported_samples())
def test_content_that_is_not_an_accepted_image_format_is_refused(data):
    # There is no file name or content type to go by: the bytes alone decide.
    assert refused(data).code == "unsupported"


def test_accepted_formats_are_the_four_of_the_spec_and_heif_is_registered():
    assert ACCEPTED_FORMATS == ("JPEG", "PNG", "WEBP", "HEIF")
    assert set(ACCEPTED_FORMATS) <= set(Image.OPEN)


def test_empty_upload_is_refused():
    error = refused(b"")
    assert error.code == "empty"
    assert "trống" in str(error)


def test_upload_over_max_bytes_is_refused_before_decoding(no_decoding):
    error = refused(b"\xff\xd8" + bytes(10 * 1024 * 1024))
    assert error.code == "too_large"
    assert str(error) == "Ảnh quá lớn: tối đa 10 MB."
    data = encode(pattern(), "PNG")
    assert refused(data, max_bytes=len(data) - 1).code == "too_large"


def test_upload_of_exactly_max_bytes_is_accepted():
    data = encode(pattern(), "PNG")
    assert process_photo(data, max_bytes=len(data)).width == 120


def test_too_large_message_uses_a_vietnamese_decimal_comma():
    error = refused(b"x" * (3 * 1024 * 1024), max_bytes=int(2.5 * 1024 * 1024))
    assert str(error) == "Ảnh quá lớn: tối đa 2,5 MB."


@pytest.mark.parametrize("fraction", [0.05, 0.3, 0.5, 0.8, 0.97])
def test_truncated_jpeg_is_refused_with_photo_error(fraction):
    data = encode(pattern((400, 300)), "JPEG", quality=90, progressive=True)
    error = refused(data[: int(len(data) * fraction)])
    assert error.code in {"corrupt", "unsupported"}


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_truncated_png_and_webp_are_refused_with_photo_error(fmt):
    data = encode(pattern((400, 300)), fmt)
    for fraction in (0.1, 0.5, 0.9):
        refused(data[: int(len(data) * fraction)])


def test_half_uploaded_jpeg_is_reported_as_damaged():
    data = encode(pattern((400, 300)), "JPEG", quality=90)
    error = refused(data[: len(data) // 2])
    assert error.code == "corrupt"
    assert "hỏng" in str(error)


def test_random_corruption_never_raises_anything_but_photo_error():
    rng = random.Random(20240601)
    samples = [
        encode(pattern((64, 48)), "JPEG", exif=gps_exif(6)),
        encode(pattern((64, 48)), "JPEG", progressive=True),
        encode(pattern((64, 48)).convert("P"), "PNG", transparency=0),
        encode(pattern((64, 48)), "WEBP"),
        encode(pattern((64, 48)), "WEBP", lossless=True),
    ]
    if "HEIF" in Image.SAVE:
        samples.append(encode(pattern((64, 48)), "HEIF"))
    outcomes = {"accepted": 0, "refused": 0}
    for sample in samples:
        for _ in range(40):
            data = bytearray(sample)
            for _ in range(rng.randint(1, 6)):
                position = rng.randrange(len(data))
                if rng.random() < 0.8:
                    data[position] = rng.randrange(256)
                else:
                    del data[position : position + rng.randint(1, 64)]
            try:
                result = process_photo(bytes(data))
            except PhotoError:
                outcomes["refused"] += 1
            else:
                assert_clean(result)
                outcomes["accepted"] += 1
    assert outcomes["refused"] > 0 and outcomes["accepted"] > 0, outcomes


def test_decompression_bomb_png_is_refused_without_decoding(no_decoding):
    data = blank_png(20_000, 20_000)  # 400 megapixels: Pillow itself refuses to open it
    assert len(data) < 100_000
    error = refused(data)
    assert error.code == "too_many_pixels"
    assert "triệu điểm ảnh" in str(error)


def test_image_over_max_pixels_is_refused_from_the_header(no_decoding):
    # 49 megapixels: below Pillow's own limit, above ours (40).
    error = refused(blank_png(7_000, 7_000))
    assert error.code == "too_many_pixels"
    assert str(error) == "Ảnh có độ phân giải quá lớn: tối đa 40 triệu điểm ảnh."


def test_lower_max_pixels_refuses_a_small_image():
    data = encode(pattern((100, 100)), "PNG")
    assert refused(data, max_pixels=9_999).code == "too_many_pixels"
    assert process_photo(data, max_pixels=10_000).width == 100


@pytest.mark.parametrize("outer_filter", ["error", "ignore", "always"])
def test_pillow_bomb_warning_range_is_refused_whatever_the_warning_filters(
    no_decoding, outer_filter
):
    # 100 megapixels is between 1x and 2x Image.MAX_IMAGE_PIXELS, where Pillow only warns;
    # with max_pixels raised, only that mechanism stands in the way.
    assert Image.MAX_IMAGE_PIXELS < 100_000_000 < 2 * Image.MAX_IMAGE_PIXELS
    data = blank_png(10_000, 10_000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter(outer_filter)
        error = refused(data, max_pixels=500_000_000)
    assert error.code == "too_many_pixels"
    assert not caught


def test_oversized_webp_canvas_is_refused_before_the_decoder_allocates_it(no_decoding):
    # Pillow's WebP decoder allocates the whole canvas while *opening* the file, so this
    # 81-megapixel header (below Pillow's own limit) must be caught before Image.open.
    size = 9_000
    vp8x = b"\0\0\0\0" + (size - 1).to_bytes(3, "little") + (size - 1).to_bytes(3, "little")
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x
    data = b"RIFF" + struct.pack("<I", len(body)) + body
    assert refused(data).code == "too_many_pixels"


def test_absurd_dimensions_are_refused(no_decoding):
    error = refused(blank_png(70_000, 1))
    assert error.code == "bad_dimensions"
    assert str(error) == "Kích thước ảnh không hợp lệ."


@pytest.mark.parametrize(("width", "height"), [(0, 10), (10, 0)])
def test_zero_sized_image_is_refused(width, height):
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IEND", b"")
    refused(data)  # Pillow already refuses to identify it


def test_unexpected_internal_failure_still_surfaces_as_photo_error(monkeypatch):
    def broken(img):
        raise AssertionError("a bug")

    monkeypatch.setattr(photos, "_encode_jpeg", broken)
    assert refused(encode(pattern(), "PNG")).code == "corrupt"


def test_photo_error_is_a_value_error_with_a_lazy_vietnamese_message():
    error = refused(b"")
    assert isinstance(error, ValueError)
    assert type(error.message).__name__ == "LazyString"
    assert str(error) == str(error.message) == "Tệp ảnh trống. Vui lòng chọn lại ảnh."
    custom = PhotoError("Ảnh không hợp lệ")
    assert custom.message == "Ảnh không hợp lệ" == str(custom)


def test_every_refusal_reason_has_its_own_message():
    reasons = {
        "empty": refused(b""),
        "too_large": refused(b"x" * 20, max_bytes=10),
        "unsupported": refused(b"GIF89a not really"),
        "corrupt": refused(encode(pattern((400, 300)), "JPEG")[:3000]),
        "too_many_pixels": refused(encode(pattern(), "PNG"), max_pixels=10),
        "bad_dimensions": refused(blank_png(70_000, 1)),
    }
    assert {reason: error.code for reason, error in reasons.items()} == {
        reason: reason for reason in reasons
    }
    assert len({str(error) for error in reasons.values()}) == len(reasons)


# ---------------------------------------------------------------------- storage

_NAME = re.compile(r"[A-Za-z0-9_-]{24}\.jpg")
_THUMB_NAME = re.compile(r"[A-Za-z0-9_-]{24}\.thumb\.jpg")


@pytest.fixture(scope="module")
def processed() -> ProcessedPhoto:
    return process_photo(encode(pattern((800, 600)), "PNG"))


def test_save_photo_writes_image_and_thumbnail_under_server_made_names(tmp_path, processed):
    name, thumb_name = save_photo(tmp_path, processed)

    assert _NAME.fullmatch(name) and _THUMB_NAME.fullmatch(thumb_name)
    assert thumb_name == name.removesuffix(".jpg") + ".thumb.jpg"
    stored = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    folder = name[:2]
    assert stored == sorted([folder, f"{folder}/{name}", f"{folder}/{thumb_name}"])
    assert photo_path(tmp_path, name).read_bytes() == processed.data
    assert photo_path(tmp_path, thumb_name).read_bytes() == processed.thumb


def test_save_photo_creates_missing_folders_and_never_reuses_a_name(tmp_path, processed):
    upload_dir = tmp_path / "instance" / "uploads"
    names = [save_photo(str(upload_dir), processed) for _ in range(5)]
    assert len({name for pair in names for name in pair}) == 10
    for name, thumb_name in names:
        assert photo_path(upload_dir, name).is_file()
        assert photo_path(upload_dir, thumb_name).is_file()


def test_failed_save_leaves_no_partial_or_temporary_files(tmp_path, processed, monkeypatch):
    real_replace = storage.os.replace
    calls = []

    def replace_then_fail(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            # (A full disk is the storage layer's own StorageFull, tested there.)
            raise OSError(5, "Input/output error")
        real_replace(src, dst)

    monkeypatch.setattr(storage.os, "replace", replace_then_fail)
    with pytest.raises(OSError, match="Input/output"):
        save_photo(tmp_path, processed)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize(
    "name",
    [
        "../etc/passwd",
        "/etc/passwd",
        "..",
        ".",
        "",
        "ab/" + "A" * 24 + ".jpg",
        "A" * 24 + ".jpg/../../x",
        "..\\..\\" + "A" * 20 + ".jpg",
        "A" * 24 + ".png",
        "A" * 24 + ".JPG",
        "A" * 23 + ".jpg",
        "A" * 25 + ".jpg",
        "A" * 24 + ".jpg\n",
        "A" * 24 + ".jpg\x00",
        "A" * 23 + "..jpg",
        "A" * 24 + ".thumb.thumb.jpg",
        "A" * 22 + "é" + "A" + ".jpg",
        None,
        b"A" * 24 + b".jpg",
    ],
)
def test_photo_path_rejects_anything_the_server_would_not_name(tmp_path, name):
    with pytest.raises(FileNotFoundError):
        photo_path(tmp_path, name)


def test_photo_path_of_a_stored_name_stays_inside_the_upload_dir(tmp_path):
    path = photo_path(tmp_path, "-_" + "a" * 22 + ".thumb.jpg")
    assert path == tmp_path.resolve() / "-_" / ("-_" + "a" * 22 + ".thumb.jpg")


def test_delete_photo_is_idempotent_and_deletes_only_the_named_file(tmp_path, processed):
    name, thumb_name = save_photo(tmp_path, processed)

    delete_photo(tmp_path, name)
    delete_photo(tmp_path, name)

    assert not photo_path(tmp_path, name).exists()
    assert photo_path(tmp_path, thumb_name).is_file()
    delete_photo(tmp_path, thumb_name)
    assert not photo_path(tmp_path, thumb_name).exists()


def test_delete_photo_ignores_names_the_server_never_makes(tmp_path):
    victim = tmp_path / "keep.txt"
    victim.write_text("x")
    delete_photo(tmp_path / "uploads", "../keep.txt")
    assert victim.exists()
