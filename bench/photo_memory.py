"""Peak memory and time of a worker processing the worst uploads (issue 6, item 3).

Each file is processed by process_photo in a fresh subprocess that has first imported
and built the app like a worker, so the peak resident set (ru_maxrss) it reports is that
file's alone. Baselines measured in the same run: a subprocess that only builds the app,
and the same subprocess processing real camera photos from ../shared/testdata/photos
(and a 12-megapixel JPEG made from one of them: the folder has none that large).

    .venv/bin/python bench/photo_memory.py [--repeat 3] [--only NAME ...]

Every file is generated here (into a temporary folder), the same kinds as in
tests/test_upload_attacks.py, at the largest size each format is accepted at.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_PHOTOS = ROOT.parent / "shared" / "testdata" / "photos"

CHILD = r"""
import json, resource, sys, tempfile, time
from tipline import create_app
app = create_app({
    "TESTING": True, "SECRET_KEY": "bench-" + "x" * 40,
    "SQLALCHEMY_DATABASE_URI": "sqlite://", "UPLOAD_DIR": tempfile.mkdtemp(),
    "RATELIMIT_ENABLED": False,
})
if len(sys.argv) > 2:  # another implementation of tipline/media/photos.py, to compare
    import importlib.util
    spec = importlib.util.spec_from_file_location("photos_compared", sys.argv[2])
    module = sys.modules["photos_compared"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    PhotoError, process_photo = module.PhotoError, module.process_photo
else:
    from tipline.media.photos import PhotoError, process_photo
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
outcome, seconds = "import only", 0.0
if len(sys.argv) > 1 and sys.argv[1]:
    data = open(sys.argv[1], "rb").read()
    with app.app_context():
        start = time.perf_counter()
        try:
            result = process_photo(data)
            outcome = f"stored {result.width}x{result.height}"
        except PhotoError as error:
            outcome = f"refused: {error.code}"
        seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"base_kb": base, "peak_kb": peak, "seconds": seconds, "outcome": outcome}))
"""


# --------------------------------------------------------------------- generators


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def zero_png(width: int, height: int, *, depth: int = 8, colour: int = 6, extra=b"") -> bytes:
    """Real pixels, all zero, compressed row by row (never held whole)."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
    row = bytes(1 + (width * channels * depth + 7) // 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + extra
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def encode(img, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **params)
    return buf.getvalue()


def photo_like(size: tuple[int, int]):
    """A picture with detail (noise over gradients), so encoders cannot cheat."""
    from PIL import Image

    noise = Image.effect_noise((size[0] // 4, size[1] // 4), 40).convert("L")
    gradient = Image.linear_gradient("L").resize(noise.size)
    small = Image.merge("RGB", (noise, gradient, gradient.transpose(Image.Transpose.ROTATE_90)))
    return small.resize(size, Image.Resampling.BILINEAR)


def jpeg_with_size(width: int, height: int, mode: str = "RGB", **params) -> bytes:
    from PIL import Image

    data = encode(Image.new(mode, (64, 48)), "JPEG", **params)
    sof = next(i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] in (0xC0, 0xC2))
    return data[: sof + 5] + struct.pack(">HH", height, width) + data[sof + 9 :]


def webp_vp8x(width: int, height: int) -> bytes:
    vp8x = b"\0\0\0\0" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x
    return b"RIFF" + struct.pack("<I", len(body)) + body


def heif_with_coded_size(width: int, height: int) -> bytes:
    from PIL import Image

    data = encode(Image.new("RGB", (64, 48)), "HEIF")
    at = data.index(b"ispe")
    return data[: at + 8] + struct.pack(">II", width, height) + data[at + 16 :]


def camera_12mp() -> bytes:
    from PIL import Image

    with Image.open(SHARED_PHOTOS / "mobile-jolla.jpg") as img:
        return encode(img.resize((4000, 3000), Image.Resampling.BICUBIC), "JPEG", quality=92)


def cases() -> list[tuple[str, str, object]]:
    """(name, group, maker): maker is bytes-returning, or a Path of a shared photo."""
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    side_40mp = 6_324  # 39.99 megapixels
    shared = [
        ("camera JPEG 9.3 MP (tests-30-type_error.jpg)", "tests-30-type_error.jpg"),
        ("phone JPEG 8 MP (mobile-jolla.jpg)", "mobile-jolla.jpg"),
        ("iPhone HEIC 8.5 MP (heic-IMG_5195.HEIC)", "heic-IMG_5195.HEIC"),
    ]
    return [
        ("import only (the app built, nothing processed)", "baseline", None),
        *[(label, "baseline", SHARED_PHOTOS / name) for label, name in shared],
        ("camera-like JPEG 12 MP (jolla upscaled)", "baseline", camera_12mp),
        # The largest accepted file of each kind.
        ("PNG RGBA 40 MP, zero pixels", "accepted", lambda: zero_png(side_40mp, side_40mp)),
        (
            "PNG LA 16-bit 40 MP",
            "accepted",
            lambda: zero_png(side_40mp, side_40mp, depth=16, colour=4),
        ),
        (
            "PNG grey 16-bit 40 MP",
            "accepted",
            lambda: zero_png(side_40mp, side_40mp, depth=16, colour=0),
        ),
        (
            "PNG palette + tRNS 40 MP",
            "accepted",
            lambda: zero_png(
                side_40mp,
                side_40mp,
                colour=3,
                extra=png_chunk(b"PLTE", bytes(6)) + png_chunk(b"tRNS", b"\0"),
            ),
        ),
        (
            "JPEG baseline 40 MP, detailed",
            "accepted",
            lambda: encode(photo_like((side_40mp, side_40mp)), "JPEG", quality=90),
        ),
        (
            "JPEG progressive 4:4:4 36 MP, detailed",
            "accepted",
            lambda: encode(photo_like((6_000, 6_000)), "JPEG", progressive=True, subsampling=0),
        ),
        (
            "JPEG progressive 4:4:4 claiming 6500x6150 (2 KB)",
            "accepted",
            lambda: jpeg_with_size(6_500, 6_150, progressive=True, subsampling=0),
        ),
        (
            "JPEG CMYK 40 MP",
            "accepted",
            lambda: encode(Image.new("CMYK", (side_40mp, side_40mp), (0, 255, 255, 0)), "JPEG"),
        ),
        (
            "WebP 4096x4096 (the WebP maximum: 16.8 MP)",
            "accepted",
            lambda: encode(Image.new("RGB", (4_096, 4_096), (9, 99, 199)), "WEBP", lossless=True),
        ),
        (
            "HEIF 5600x5600 (31 MP, under the HEIF maximum of 33.5)",
            "accepted",
            lambda: encode(Image.new("RGB", (5_600, 5_600), (200, 30, 30)), "HEIF", quality=50),
        ),
        # Refused bombs: what they would cost is never spent.
        (
            "PNG 1-bit 20000x20000 bomb",
            "refused",
            lambda: zero_png(20_000, 20_000, depth=1, colour=0),
        ),
        ("WebP canvas 16383x16383", "refused", lambda: webp_vp8x(16_383, 16_383)),
        (
            "WebP 40 MP, real pixels (2 KB)",
            "refused",
            lambda: encode(
                Image.new("RGB", (side_40mp, side_40mp), (9, 99, 199)), "WEBP", lossless=True
            ),
        ),
        ("WebP 6000x6000 (over its memory budget)", "refused", lambda: webp_vp8x(6_000, 6_000)),
        ("JPEG claiming 65000x65000", "refused", lambda: jpeg_with_size(65_000, 65_000)),
        (
            "JPEG progressive CMYK claiming 6500x6000",
            "refused",
            lambda: jpeg_with_size(6_500, 6_000, "CMYK", progressive=True),
        ),
        (
            "HEIF coded 30000x30000 shown 64x48",
            "refused",
            lambda: heif_with_coded_size(30_000, 30_000),
        ),
        (
            "JPEG with 2.5 M empty APP1 markers (10 MB)",
            "refused",
            lambda: (j := jpeg_with_size(64, 48))[:2] + b"\xff\xe1\x00\x02" * 2_500_000 + j[2:],
        ),
        (
            "PNG with 800 k empty chunks (10 MB)",
            "refused",
            lambda: (p := zero_png(64, 48))[:33] + png_chunk(b"zzZz", b"") * 800_000 + p[33:],
        ),
    ]


# ----------------------------------------------------------------------- running


def run_child(path: Path | None, photos_module: str | None = None) -> dict:
    args = [sys.executable, "-c", CHILD, str(path) if path else ""]
    args += [photos_module] if photos_module else []
    proc = subprocess.run(
        args, capture_output=True, text=True, cwd=ROOT, timeout=300, env={**os.environ}
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def make_files(folder: Path, only: list[str] | None) -> None:
    """Write every case's file into folder, with a manifest (run in its own process)."""
    manifest = []
    for index, (name, group, maker) in enumerate(cases()):
        if only and not any(word.lower() in name.lower() for word in only):
            continue
        started = time.perf_counter()
        path = None
        if isinstance(maker, Path):
            if not maker.is_file():
                print(f"skipped (not found): {maker}", file=sys.stderr)
                continue
            path = maker
        elif maker is not None:
            path = folder / f"case-{index:02d}"
            path.write_bytes(maker())
        made = time.perf_counter() - started
        manifest.append({"name": name, "group": group, "path": str(path) if path else None})
        print(f"made {name} in {made:.1f} s", file=sys.stderr)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="subprocesses per file")
    parser.add_argument("--only", nargs="*", help="run cases whose name contains this")
    parser.add_argument(
        "--before",
        metavar="PHOTOS_PY",
        help="also run every file with this copy of tipline/media/photos.py (e.g. the "
        "last commit's: git show HEAD:tipline/media/photos.py > /tmp/photos_before.py)",
    )
    parser.add_argument("--make", help=argparse.SUPPRESS)  # internal: generate into a folder
    args = parser.parse_args()
    if args.make:
        make_files(Path(args.make), args.only)
        return

    # Linux keeps a process' peak RSS across exec: a child started by a parent that had
    # grown (by generating 40-megapixel images, say) would report the parent's peak. So
    # the files are made by another process and this one stays small (~15 MB).
    folder = Path(tempfile.mkdtemp(prefix="photo-memory-"))
    make = [
        sys.executable,
        __file__,
        "--make",
        str(folder),
        *(["--only", *args.only] if args.only else []),
    ]
    subprocess.run(make, check=True, cwd=ROOT, timeout=900)
    rows = []
    for case in json.loads((folder / "manifest.json").read_text()):
        path = Path(case["path"]) if case["path"] else None
        runs = [run_child(path) for _ in range(args.repeat)]
        before = [run_child(path, args.before) for _ in range(args.repeat)] if args.before else []
        rows.append(
            {
                "name": case["name"],
                "group": case["group"],
                "bytes": path.stat().st_size if path else 0,
                "outcome": runs[0]["outcome"],
                "ms": statistics.median(r["seconds"] for r in runs) * 1000,
                "peak_mb": max(r["peak_kb"] for r in runs) / 1024,
                "before": before
                and (
                    f"{before[0]['outcome']}, "
                    f"{statistics.median(r['seconds'] for r in before) * 1000:,.0f} ms, "
                    f"{max(r['peak_kb'] for r in before) / 1024:,.0f} MB"
                ),
            }
        )
        row = rows[-1]
        print(
            f"{row['name'][:55]:55} {row['outcome'][:24]:24} {row['ms']:8.0f} ms "
            f"{row['peak_mb']:7.0f} MB",
            file=sys.stderr,
        )
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    imported = next((r["peak_mb"] for r in rows if r["outcome"] == "import only"), None)
    print(
        f"\nPython {sys.version.split()[0]}, {os.cpu_count()} CPUs; {args.repeat} runs each; "
        f"this process' own peak: {own:.0f} MB"
    )
    extra = " before (outcome, time, peak RSS) |" if args.before else ""
    print("| file | size | outcome | time (median) | peak RSS | over import-only |" + extra)
    print("|---|---:|---|---:|---:|---:|" + ("---|" if args.before else ""))
    for row in rows:
        over = f"{row['peak_mb'] - imported:+.0f} MB" if imported is not None else "-"
        size = f"{row['bytes'] / 1024:,.0f} KB" if row["bytes"] else "-"
        print(
            f"| {row['name']} | {size} | {row['outcome']} | {row['ms']:,.0f} ms "
            f"| {row['peak_mb']:,.0f} MB | {over} |"
            + (f" {row['before']} |" if args.before else "")
        )


if __name__ == "__main__":
    main()
