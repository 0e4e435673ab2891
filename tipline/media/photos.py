"""Photos attached to tips: validate, clean and store them.

Every accepted photo is decoded, turned upright, scaled down and encoded again as a
brand-new JPEG that carries no metadata at all (no EXIF/GPS, XMP, ICC profile, comment
or embedded thumbnail): residents' phones put their home coordinates into photos, and
nothing of the uploaded file except its pixels may reach the disk.

The format is detected from the content only. Anything else, and anything that cannot
be decoded, is refused with a :class:`PhotoError` whose ``message`` is a lazily
translated sentence a resident can read.

Uploads are hostile until decoded, so everything that costs memory or time is bounded
before Pillow gets to it: the pixel count (from the header), the memory the decoder
will need for this format and mode (``max_decode_bytes``), the number of JPEG markers
and scans and of PNG chunks (Pillow walks those in Python), and the number of photos a
process decodes at once (one), so a worker's peak is one photo's.
"""

from __future__ import annotations

import io
import logging
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pillow_heif
from flask_babel import lazy_gettext as _l
from PIL import Image, JpegImagePlugin, UnidentifiedImageError

from tipline.media import probe

try:
    from PIL import ImageCms
except ImportError:  # Pillow built without littlecms: colours are kept as they are
    ImageCms = None

__all__ = ["ACCEPTED_FORMATS", "PhotoError", "ProcessedPhoto", "process_photo"]

log = logging.getLogger(__name__)

# pillow-heif registers itself with Pillow under the format name "HEIF"; it opens HEIC
# (iPhone) files as well as other HEIF brands.
pillow_heif.register_heif_opener()

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")

JPEG_QUALITY = 82
# A side longer than this is absurd for a photo (and more than JPEG can store).
MAX_SIDE = 65_535

_MIB = 1024 * 1024
# The most memory decoding one photo may take, estimated from its header before any pixel
# is decoded (see _decode_cost). 256 MiB admits every photo a phone takes within the pixel
# limit (a 40-megapixel PNG with alpha: ~180 MB; a 24-megapixel iPhone HEIC: ~190 MB); a
# WebP takes 16 bytes per pixel (libwebp keeps two canvases), so WebPs over 16.8
# megapixels are refused. bench/photo_memory.py measures the peaks: RESULTS-photos.md.
MAX_DECODE_BYTES = 256 * _MIB
# One photo decoded at a time per process (gunicorn threads share a worker's memory);
# a request waits this long for its turn before it is told to try again.
DECODE_WAIT_SECONDS = 20.0
_DECODE_SLOT = threading.BoundedSemaphore(1)
# Strips of about this size are converted to RGB one after the other (see _reduced_rgb).
_STRIP_BYTES = 4 * _MIB
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


class PhotoError(ValueError):
    """A photo we refuse; .message is a lazy translated string a resident can read."""

    def __init__(self, message, *, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        #: a stable machine-readable reason ("empty", "too_large", "unsupported",
        #: "corrupt", "malformed", "too_many_pixels", "bad_dimensions", "busy"), for
        #: logs and tests.
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


def _corrupt(code: str = "corrupt") -> PhotoError:
    # "malformed" (a structure no camera writes: thousands of markers, chunks or scans)
    # shares this message: to the resident the file is damaged either way.
    return PhotoError(
        _l("Ảnh bị hỏng hoặc chưa được tải lên đầy đủ. Vui lòng thử gửi lại ảnh."),
        code=code,
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


def _busy() -> PhotoError:
    return PhotoError(
        _l("Máy chủ đang bận xử lý ảnh khác. Vui lòng bấm gửi lại sau ít phút."), code="busy"
    )


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


# Bytes per pixel at the peak of decoding, measured with bench/photo_memory.py.
# WebP: libwebp's canvas and its copy of the previous frame, the frame handed to Pillow,
# Pillow's image: 4 x 4 bytes.
_WEBP_BYTES_PER_PIXEL = 16
# HEIF: libheif's planes and RGB(A) output, then Pillow's image (measured: 7-8).
_HEIF_BYTES_PER_PIXEL = 8
# Pillow keeps 1 byte per pixel for these modes, 2 for 16-bit greyscale, 4 for the rest.
_ONE_BYTE_MODES = frozenset({"1", "L", "P"})


def _mode_bytes(mode: str) -> int:
    if mode in _ONE_BYTE_MODES:
        return 1
    return 2 if mode.startswith("I;16") else 4


def _jpeg_coefficient_bytes(img: JpegImagePlugin.JpegImageFile, size: tuple[int, int]) -> int:
    """libjpeg's whole-image buffer of DCT coefficients (progressive or multi-scan JPEGs).

    64 coefficients of 2 bytes per 8x8 block of each component, at full size whatever
    the scale of the output.
    """
    width, height = size
    layers = img.layer or [(0, 1, 1, 0)] * 3
    h_max = max(h for _, h, _, _ in layers) or 1
    v_max = max(v for _, _, v, _ in layers) or 1
    blocks = sum(
        -(-width * h // (8 * h_max)) * -(-height * v // (8 * v_max)) for _, h, v, _ in layers
    )
    return blocks * 128


def _reduction(size: tuple[int, int], target: tuple[int, int]) -> int:
    """The whole factor _reduced_rgb box-reduces by: the result stays >= target."""
    return max(1, min(size[0] // target[0], size[1] // target[1]))


def _is_plain_rgb(img: Image.Image) -> bool:
    return img.mode == "RGB" and "transparency" not in img.info


def _decode_cost(
    img: Image.Image, full_size: tuple[int, int], scans: int, target: tuple[int, int]
) -> int:
    """The memory (bytes) decoding img and turning it into RGB will take, from its header.

    full_size is the size before a JPEG draft; img.size is what will be decoded. What
    follows (resizing to target, encoding) takes a few tens of MB at most.
    """
    width, height = img.size
    if img.format == "WEBP":
        cost = width * height * _WEBP_BYTES_PER_PIXEL
    elif img.format == "HEIF":
        cost = width * height * _HEIF_BYTES_PER_PIXEL
    else:
        cost = width * height * _mode_bytes(img.mode)
    if isinstance(img, JpegImagePlugin.JpegImageFile) and (scans > 1 or "progressive" in img.info):
        cost += _jpeg_coefficient_bytes(img, full_size)
    if not _is_plain_rgb(img):  # converted into a new RGB image, reduced on the way
        factor = _reduction(img.size, target)
        cost += 4 * -(-width // factor) * -(-height // factor)
    return cost


def _check_cost(cost: int, size: tuple[int, int], max_decode_bytes: int) -> None:
    """Refuse what would take more than max_decode_bytes, naming the pixel count this
    kind of image may have instead."""
    if cost > max_decode_bytes:
        pixels = size[0] * size[1]
        raise _too_many_pixels(max(1, max_decode_bytes * pixels // cost))


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


def _levels(img: Image.Image) -> tuple[float, float]:
    """The value range of a 16-bit / 32-bit integer / float greyscale image to show as 0..255."""
    if img.mode.startswith("I;16"):
        return 0, 65535
    lo, hi = img.getextrema()
    if img.mode == "F" and lo >= 0 and hi <= 1.0:  # normalised floats
        return 0, 1.0
    if lo >= 0 and hi <= 255:  # already 8-bit values
        return 0, 255
    if lo >= 0 and hi <= 65535:  # 16-bit values
        return 0, 65535
    return lo, hi


def _high_bit_to_l(img: Image.Image, levels: tuple[float, float]) -> Image.Image:
    """High-bit greyscale -> 8-bit "L", levels (of the whole image) mapped to 0..255."""
    if img.mode.startswith("I;16"):
        img = img.convert("I")
    lo, hi = levels
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


def _to_rgb(img: Image.Image, levels: tuple[float, float] | None = None) -> Image.Image:
    if img.mode in _HIGH_BIT_MODES:
        # Any "transparency" value is in the 16-bit range; treat the image as opaque.
        return _high_bit_to_l(img, levels or _levels(img)).convert("RGB")
    if img.mode in _ALPHA_MODES or (img.mode in _TRNS_MODES and "transparency" in img.info):
        return _white_background(img)
    if img.mode == "RGB":
        return img
    # L, 1, P, CMYK (Pillow already undid Adobe's inverted CMYK), YCbCr, RGBX, ...
    return img.convert("RGB")


def _reduced_rgb(img: Image.Image, target: tuple[int, int]) -> Image.Image:
    """The decoded image in RGB, box-reduced by the largest whole factor that keeps it at
    least as large as target.

    Converted strip by strip: at once, a 40-megapixel image with alpha would take three
    more full-size copies (RGBA, a white canvas, the result), about 500 MB.
    """
    width, height = img.size
    factor = _reduction(img.size, target)
    if _is_plain_rgb(img):
        return img.reduce(factor) if factor > 1 else img
    rows = max(1, _STRIP_BYTES // (4 * width))
    rows = max(factor, rows - rows % factor)
    levels = _levels(img) if img.mode in _HIGH_BIT_MODES else None
    if factor == 1 and rows >= height:
        return _to_rgb(img, levels)
    out = Image.new("RGB", (-(-width // factor), -(-height // factor)))
    for top in range(0, height, rows):
        strip = _to_rgb(img.crop((0, top, width, min(height, top + rows))), levels)
        out.paste(strip.reduce(factor) if factor > 1 else strip, (0, top // factor))
    return out


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


@dataclass(frozen=True)
class _Limits:
    max_pixels: int
    max_decode_bytes: int
    long_side: int


def _decode(data: bytes, limits: _Limits) -> Image.Image:
    """Open, check and decode the first frame; returns an upright RGB image."""
    try:
        scans = probe.check_structure(data)
        coded_sizes = probe.heif_coded_sizes(data) if data[4:8] == b"ftyp" else []
    except probe.Malformed as exc:
        raise _corrupt("malformed") from exc
    head = bytes(data[:30])
    if probe.looks_like_webp(head):
        # Pillow's WebP decoder allocates the whole canvas (twice) while opening.
        webp_size = probe.webp_canvas_size(head)
        if webp_size is None:  # libwebp would find a size some other way: don't ask it
            raise _unsupported()
        _check_size(webp_size, limits.max_pixels)
        _check_cost(
            webp_size[0] * webp_size[1] * _WEBP_BYTES_PER_PIXEL, webp_size, limits.max_decode_bytes
        )

    # HEIF (and other ISO media files, which Pillow refuses): what decoding costs.
    if coded_sizes:
        for coded in coded_sizes:
            _check_size(coded, limits.max_pixels)
            _check_cost(coded[0] * coded[1] * _HEIF_BYTES_PER_PIXEL, coded, limits.max_decode_bytes)

    try:
        img = Image.open(io.BytesIO(data), formats=list(ACCEPTED_FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_many_pixels(_pixel_limit(limits.max_pixels)) from exc
    except _DECODE_ERRORS as exc:
        raise _unsupported() from exc

    with img:
        full_size = img.size
        _check_size(full_size, limits.max_pixels)  # from the header, nothing decoded yet
        target = _fit(full_size, limits.long_side)
        try:
            # Also MPO (multi-picture JPEG from some cameras): Pillow's JPEG opener
            # returns those with format "MPO"; the first picture is the photo.
            if isinstance(img, JpegImagePlugin.JpegImageFile):
                box = _draft_box(full_size, limits.long_side)
                if box is not None:
                    img.draft("RGB", box)
            cost = _decode_cost(img, full_size, scans, target)
            _check_cost(cost, full_size, limits.max_decode_bytes)
            orientation = _orientation(img)  # (a PNG's EXIF may follow the pixels: it loads)
            icc_profile = img.info.get("icc_profile")
            rgb_source = img.mode in {"RGB", "RGBA", "RGBX", "RGBa", "P", "PA"}
            img.load()  # the first frame only, for animated images
            out = _resize(_reduced_rgb(img, target), target)
            if rgb_source:
                out = _to_srgb(out, icc_profile)
            for step in _ORIENTATION_FIX.get(orientation, ()):
                out = out.transpose(step)
            return _fresh_copy(out)
        except PhotoError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _too_many_pixels(_pixel_limit(limits.max_pixels)) from exc
        except _DECODE_ERRORS as exc:
            raise _corrupt() from exc


@contextmanager
def _decode_slot() -> Iterator[None]:
    """This process' turn to decode a photo (see DECODE_WAIT_SECONDS)."""
    if not _DECODE_SLOT.acquire(timeout=DECODE_WAIT_SECONDS):
        raise _busy()
    try:
        yield
    finally:
        _DECODE_SLOT.release()


def process_photo(
    data: bytes,
    *,
    max_bytes: int = 10 * _MIB,
    max_pixels: int = 40_000_000,
    max_decode_bytes: int = MAX_DECODE_BYTES,
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

    limits = _Limits(max_pixels, max_decode_bytes, long_side)
    try:
        # The outcome must not depend on the process' warning filters (tests turn
        # warnings into errors, production does not):
        # - Pillow and pillow-heif warn about harmless oddities in metadata (corrupt
        #   EXIF, a malformed MPO index, ...). We drop all metadata anyway, so ignore them.
        # - Pillow only *warns* between 1x and 2x Image.MAX_IMAGE_PIXELS: always an error.
        with _decode_slot(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"(PIL|pillow_heif)(\.|$)")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = _decode(data, limits)
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
