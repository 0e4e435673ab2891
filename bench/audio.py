"""Voice notes: re-encoding time and peak memory of a 2-minute note (issue 21).

Each recorder format is generated with FFmpeg (PyAV), then cleaned by
`tipline.media.audio.clean_audio` in a fresh subprocess, which reports its wall time and
its peak resident memory (VmHWM) against the same subprocess doing nothing but
importing the module (the baseline, measured in the same run).

    .venv/bin/python bench/audio.py [--seconds 120] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD = """
import json, sys, time
from flask import Flask
from flask_babel import Babel
from tipline.media.audio import clean_audio
app = Flask("bench"); Babel(app)
data = open(sys.argv[1], "rb").read() if sys.argv[1] != "-" else None
def hwm():  # this process image's peak (ru_maxrss would carry the parent's peak over exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
before = hwm()
started = time.perf_counter()
seconds = out = 0
if data is not None:
    with app.app_context():
        note = clean_audio(data, max_seconds=130, max_bytes=64 << 20, time_limit=120)
    seconds, out = note.seconds, len(note.data)
elapsed = time.perf_counter() - started
peak = hwm()
print(json.dumps({"ms": elapsed * 1000, "peak_mb": peak / 1024, "before_mb": before / 1024,
                  "seconds": seconds, "out_bytes": out}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from tests.audio_samples import encode

    formats = {
        "m4a/aac 16 kHz (phone recorder)": ("ipod", "aac", 16000),
        "3gp/amr-nb 8 kHz (basic phone)": ("3gp", "libopencore_amrnb", 8000),
        "webm/opus 48 kHz (Chrome)": ("webm", "libopus", 48000),
        "wav 16 kHz": ("wav", "pcm_s16le", 16000),
    }
    with tempfile.TemporaryDirectory() as folder:
        baseline = _run("-")
        print(f"baseline (import only): peak {baseline['peak_mb']:.1f} MB")
        print(
            f"| format | input | output | re-encode ms (median of {args.repeat}) "
            "| peak RSS MB | + over baseline |"
        )
        print("|---|---|---|---|---|---|")
        for name, (container, codec, rate) in formats.items():
            path = Path(folder) / "note"
            path.write_bytes(encode(container, codec, seconds=args.seconds, rate=rate))
            runs = [_run(str(path)) for _ in range(args.repeat)]
            ms = statistics.median(run["ms"] for run in runs)
            peak = max(run["peak_mb"] for run in runs)
            print(
                f"| {name} | {path.stat().st_size / 1024:.0f} KB | "
                f"{runs[0]['out_bytes'] / 1024:.0f} KB, {runs[0]['seconds']} s | {ms:.0f} | "
                f"{peak:.1f} | {peak - baseline['peak_mb']:+.1f} |"
            )


def _run(path: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, path], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return json.loads(result.stdout)


if __name__ == "__main__":
    main()
