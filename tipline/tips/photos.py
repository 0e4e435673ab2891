"""Photos attached to tips: validate, clean and store them.

Every accepted photo is decoded, turned upright, scaled down and encoded again as a
brand-new JPEG that carries no metadata at all (no EXIF/GPS, XMP, ICC profile, comment
or embedded thumbnail): residents' phones put their home coordinates into photos, and
nothing of the uploaded file except its pixels may reach the disk.

The format is detected from the content only. Anything else, and anything that cannot
be decoded, is refused with a :class:`PhotoError` whose ``message`` is a lazily
translated sentence a resident can read.
"""

from __future__ import annotations

import io
import logging
import os
import pathlib
import secrets
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import pillow_heif
from flask_babel import lazy_gettext as _l
from PIL import Image, JpegImagePlugin, UnidentifiedImageError

from tipline.tips.storage import LocalStorage, PhotoStorage

try:
    from PIL import ImageCms
except ImportError:  # Pillow built without littlecms: colours are kept as they are
    ImageCms = None

__all__ = [
    "ACCEPTED_FORMATS",
    "PhotoError",
    "ProcessedPhoto",
    "delete_photo",
    "photo_path",
    "process_photo",
    "save_photo",
    "stored_names",
]

log = logging.getLogger(__name__)

# pillow-heif registers itself with Pillow under the format name "HEIF"; it opens HEIC
# (iPhone) files as well as other HEIF brands.
pillow_heif.register_heif_opener()

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")

JPEG_QUALITY = 82
# A side longer than this is absurd for a photo (and more than JPEG can store).
MAX_SIDE = 65_535

_MIB = 1024 * 1024
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "PA"})
# Modes whose "transparency" key Pillow can turn into an alpha channel.
_TRNS_MODES = frozenset({"1", "L", "P", "RGB"})
_HIGH_BIT_MODES = frozenset({"I", "F", "I;16", "I;16L", "I;16B", "I;16N"})

# EXIF orientation -> the transpositions that make the picture upright
# (the same table as PIL.ImageOps.exif_transpose).
_T = Image.Transpose
_ORIENTATION_FIX: dict[int, tuple[Image.Transpose, ...]] = {
    2: (_T.FLIP_LEFT_RIGHT,),
    3: (_T.ROTATE_180,),
    4: (_T.FLIP_TOP_BOTTOM,),
    5: (_T.TRANSPOSE,),
    6: (_T.ROTATE_270,),
    7: (_T.TRANSVERSE,),
    8: (_T.ROTATE_90,),
}

# Server-made names: 24 url-safe characters from secrets.token_urlsafe(18) (checked by
# tipline.tips.storage.check_name).
_TOKEN_BYTES = 18


class PhotoError(ValueError):
    """A photo we refuse; .message is a lazy translated string a resident can read."""

    def __init__(self, message, *, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        #: a stable machine-readable reason ("empty", "too_large", "unsupported",
        #: "corrupt", "too_many_pixels", "bad_dimensions"), for logs and tests.
        self.code = code

    def __str__(self) -> str:
        return str(self.message)


@dataclass(frozen=True)
class ProcessedPhoto:
    data: bytes  # the cleaned JPEG, long side <= long_side
    thumb: bytes  # JPEG thumbnail, long side <= thumb_side
    width: int
    height: int


# --------------------------------------------------------------------------- errors


def _number(value: float) -> str:
    """10 -> "10", 2.5 -> "2,5" (Vietnamese decimal comma)."""
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return text.replace(".", ",")


def _empty() -> PhotoError:
    return PhotoError(_l("Tệp ảnh trống. Vui lòng chọn lại ảnh."), code="empty")


def _too_large(max_bytes: int) -> PhotoError:
    return PhotoError(
        _l("Ảnh quá lớn: tối đa %(mb)s MB.", mb=_number(max_bytes / _MIB)), code="too_large"
    )


def _unsupported() -> PhotoError:
    return PhotoError(
        _l(
            "Tệp này không phải là ảnh được hỗ trợ. "
            "Vui lòng gửi ảnh định dạng JPEG, PNG, WebP hoặc HEIC."
        ),
        code="unsupported",
    )


def _corrupt() -> PhotoError:
    return PhotoError(
        _l("Ảnh bị hỏng hoặc chưa được tải lên đầy đủ. Vui lòng thử gửi lại ảnh."),
        code="corrupt",
    )


def _too_many_pixels(max_pixels: int) -> PhotoError:
    return PhotoError(
        _l(
            "Ảnh có độ phân giải quá lớn: tối đa %(mp)s triệu điểm ảnh.",
            mp=_number(max_pixels / 1_000_000),
        ),
        code="too_many_pixels",
    )


def _bad_dimensions() -> PhotoError:
    return PhotoError(_l("Kích thước ảnh không hợp lệ."), code="bad_dimensions")


# Everything Pillow and its plugins raise for bad input. DecompressionBombError and
# DecompressionBombWarning are handled before these.
_DECODE_ERRORS = (
    UnidentifiedImageError,
    OSError,
    SyntaxError,
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    EOFError,
    ZeroDivisionError,
    OverflowError,
    RuntimeError,
    MemoryError,
)


# ------------------------------------------------------------------- processing


def _webp_canvas_size(head: bytes) -> tuple[int, int] | None:
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


def _pixel_limit(max_pixels: int) -> int:
    """Our limit, or Pillow's bomb limit if lower: beyond that Pillow warns or refuses."""
    if Image.MAX_IMAGE_PIXELS:
        return min(max_pixels, Image.MAX_IMAGE_PIXELS)
    return max_pixels


def _check_size(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width < 1 or height < 1 or width > MAX_SIDE or height > MAX_SIDE:
        raise _bad_dimensions()
    if width * height > _pixel_limit(max_pixels):
        raise _too_many_pixels(_pixel_limit(max_pixels))


def _fit(size: tuple[int, int], limit: int) -> tuple[int, int]:
    """The size with long side <= limit and the same aspect ratio (never larger)."""
    width, height = size
    longest = max(width, height)
    if longest <= limit:
        return width, height
    scale = limit / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def _orientation(img: Image.Image) -> int:
    try:
        value = img.getexif().get(0x0112)
    except Exception:  # broken EXIF must not make a good photo unusable
        return 1
    return value if isinstance(value, int) and value in _ORIENTATION_FIX else 1


def _draft_box(size: tuple[int, int], long_side: int) -> tuple[int, int] | None:
    """The box for JpegImageFile.draft: the final size, same aspect ratio.

    draft() picks the largest 1/2, 1/4, 1/8 scale whose result is still at least this
    box on both sides. The long side of the raw image and of the upright image are the
    same, so the raw (pre-rotation) size is the right base.
    """
    width, height = size
    longest = max(width, height)
    if longest <= long_side:
        return None
    # Round up so the decoded image is never smaller than the final size.
    return max(1, -(-width * long_side // longest)), max(1, -(-height * long_side // longest))


def _high_bit_to_l(img: Image.Image) -> Image.Image:
    """16-bit / 32-bit integer / float greyscale -> 8-bit "L", keeping the look."""
    if img.mode.startswith("I;16"):
        img = img.convert("I")
        lo, hi = 0, 65535
    else:
        lo, hi = img.getextrema()
        if img.mode == "F" and lo >= 0 and hi <= 1.0:  # normalised floats
            lo, hi = 0, 1.0
        elif lo >= 0 and hi <= 255:  # already 8-bit values
            lo, hi = 0, 255
        elif lo >= 0 and hi <= 65535:  # 16-bit values
            lo, hi = 0, 65535
    if hi <= lo:
        scale, offset = 0.0, 0.0 if hi <= 0 else 255.0
    else:
        scale = 255.0 / (hi - lo)
        offset = -lo * scale
    img = img.point(lambda v: v * scale + offset)
    return img.convert("L")


def _white_background(img: Image.Image) -> Image.Image:
    rgba = img.convert("RGBA")
    out = Image.new("RGB", rgba.size, (255, 255, 255))
    out.paste(rgba, mask=rgba.getchannel("A"))
    return out


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in _HIGH_BIT_MODES:
        # Any "transparency" value is in the 16-bit range; treat the image as opaque.
        return _high_bit_to_l(img).convert("RGB")
    if img.mode in _ALPHA_MODES or (img.mode in _TRNS_MODES and "transparency" in img.info):
        return _white_background(img)
    if img.mode == "RGB":
        return img
    # L, 1, P, CMYK (Pillow already undid Adobe's inverted CMYK), YCbCr, RGBX, ...
    return img.convert("RGB")


def _to_srgb(img: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """Convert RGB pixels from their embedded ICC profile to sRGB.

    The stored JPEG has no profile, so viewers assume sRGB; without this, e.g. iPhone
    photos (Display P3) would look dull. Any trouble with the profile: keep the pixels.
    """
    if not icc_profile or ImageCms is None or img.mode != "RGB":
        return img
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        if source.profile.xcolor_space != "RGB ":
            return img
        converted = ImageCms.profileToProfile(
            img, source, ImageCms.createProfile("sRGB"), outputMode="RGB"
        )
    except Exception:  # broken or unusual profile
        log.info("ignoring an unusable ICC profile", exc_info=True)
        return img
    return converted if converted is not None else img


def _fresh_copy(img: Image.Image) -> Image.Image:
    """Only the pixels: a new image whose .info is empty, so nothing is inherited."""
    clean = Image.new("RGB", img.size)
    clean.paste(img, (0, 0))
    return clean


def _encode_jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return buf.getvalue()


def _resize(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    if img.size == size:
        return img
    return img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _decode(data: bytes, max_pixels: int, long_side: int) -> Image.Image:
    """Open, check and decode the first frame; returns an upright RGB image."""
    head = bytes(data[:30])
    webp_size = _webp_canvas_size(head)
    if webp_size is not None:
        # Pillow's WebP decoder allocates the whole canvas while opening.
        _check_size(webp_size, max_pixels)

    try:
        img = Image.open(io.BytesIO(data), formats=list(ACCEPTED_FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_many_pixels(_pixel_limit(max_pixels)) from exc
    except _DECODE_ERRORS as exc:
        raise _unsupported() from exc

    with img:
        _check_size(img.size, max_pixels)  # from the header, nothing decoded yet
        orientation = _orientation(img)
        icc_profile = img.info.get("icc_profile")
        rgb_source = img.mode in {"RGB", "RGBA", "RGBX", "RGBa", "P", "PA"}
        try:
            # Also MPO (multi-picture JPEG from some cameras): Pillow's JPEG opener
            # returns those with format "MPO"; the first picture is the photo.
            if isinstance(img, JpegImagePlugin.JpegImageFile):
                box = _draft_box(img.size, long_side)
                if box is not None:
                    img.draft("RGB", box)
            img.load()  # the first frame only, for animated images
            out = _to_rgb(img)
            out = _resize(out, _fit(out.size, long_side))
            if rgb_source:
                out = _to_srgb(out, icc_profile)
            for step in _ORIENTATION_FIX.get(orientation, ()):
                out = out.transpose(step)
            return _fresh_copy(out)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _too_many_pixels(_pixel_limit(max_pixels)) from exc
        except _DECODE_ERRORS as exc:
            raise _corrupt() from exc


def process_photo(
    data: bytes,
    *,
    max_bytes: int = 10 * _MIB,
    max_pixels: int = 40_000_000,
    long_side: int = 1600,
    thumb_side: int = 320,
) -> ProcessedPhoto:
    """Validate an uploaded photo and return a clean, upright, metadata-free JPEG.

    Raises PhotoError (and nothing else) for any input bytes we refuse.
    """
    if data is None or len(data) == 0:
        raise _empty()
    if len(data) > max_bytes:
        raise _too_large(max_bytes)

    try:
        # The outcome must not depend on the process' warning filters (tests turn
        # warnings into errors, production does not):
        # - Pillow and pillow-heif warn about harmless oddities in metadata (corrupt
        #   EXIF, a malformed MPO index, ...). We drop all metadata anyway, so ignore them.
        # - Pillow only *warns* between 1x and 2x Image.MAX_IMAGE_PIXELS: always an error.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"(PIL|pillow_heif)(\.|$)")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = _decode(data, max_pixels, long_side)
            thumb = _fresh_copy(_resize(img, _fit(img.size, thumb_side)))
            return ProcessedPhoto(
                data=_encode_jpeg(img),
                thumb=_encode_jpeg(thumb),
                width=img.width,
                height=img.height,
            )
    except PhotoError:
        raise
    except Exception as exc:  # never let anything but PhotoError out for any bytes
        log.warning("unexpected error while processing a photo", exc_info=True)
        raise _corrupt() from exc


# ---------------------------------------------------------------------- storage
# Writing, reading and deleting go through a PhotoStorage (tipline.tips.storage); a path
# or a folder name given here means a LocalStorage there.


def _storage(target: PhotoStorage | str | os.PathLike[str]) -> PhotoStorage:
    return target if isinstance(target, PhotoStorage) else LocalStorage(target)


def photo_path(upload_dir: str | os.PathLike[str], name: str) -> pathlib.Path:
    """The path of a stored photo or thumbnail by its server-made name.

    Raises FileNotFoundError for anything that is not a name save_photo() makes
    (so "../etc/passwd", names with slashes etc. never reach the file system). The file
    itself is not required to exist.
    """
    return LocalStorage(upload_dir).path(name)


def save_photo(
    target: PhotoStorage | str | os.PathLike[str], processed: ProcessedPhoto
) -> tuple[str, str]:
    """Store image and thumbnail (atomically each); return (name, thumb_name).

    target is a PhotoStorage or a local folder. Both names are made by the server (never
    derived from the upload); in a folder they live in a two-character subfolder:
    <dir>/<ab>/<token>.jpg and <dir>/<ab>/<token>.thumb.jpg.
    """
    storage = _storage(target)
    # 144 random bits: a name already taken is never drawn, so nobody asks the store.
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    name, thumb_name = f"{token}.jpg", f"{token}.thumb.jpg"
    written: list[str] = []
    try:
        # The thumbnail first: a photo whose full image exists always has its thumbnail.
        for target_name, data in ((thumb_name, processed.thumb), (name, processed.data)):
            storage.put(target_name, data)
            written.append(target_name)
    except BaseException:
        for target_name in written:
            storage.delete(target_name)
        raise
    return name, thumb_name


def delete_photo(target: PhotoStorage | str | os.PathLike[str], name: str) -> None:
    """Remove a stored photo or thumbnail. Idempotent: a missing file is not an error,
    and a name the server would never make refers to nothing, so it is ignored too."""
    _storage(target).delete(name)


def stored_names(target: PhotoStorage | str | os.PathLike[str]) -> Iterator[tuple[str, float]]:
    """Every server-made photo name in the store, with its modification time."""
    return _storage(target).list()
