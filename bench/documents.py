"""What the documents work costs: the Vietnamese sort key, the review's PDF and DOCX.

    .venv/bin/python bench/documents.py

Baselines measured in the same run: Python's plain string sort and the previous sort key
(read from git) for the 10,810 units of 2024; the review's XLSX for the documents.
"""

from __future__ import annotations

import gzip
import json
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PREVIOUS_KEY = "127c874"  # the commit before the ICU-checked key


def timed(job, rounds: int) -> float:
    """Median seconds of `rounds` runs."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        job()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def units_2024() -> list[tuple[str, str]]:
    path = ROOT / "tipline/places/data/units-2024.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        document = json.load(f)
    rows = []
    for _, name, kind, districts in document["provinces"]:
        rows.append((name, kind))
        for _, d_name, d_kind, wards in districts:
            rows.append((d_name, d_kind))
            rows += [(w_name, w_kind) for _, w_name, w_kind in wards]
    return rows


def previous_key():
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{PREVIOUS_KEY}:tipline/core/textsort.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    module = types.ModuleType("previous_textsort")
    exec(compile(source, "previous_textsort.py", "exec"), module.__dict__)  # noqa: S102
    return module.vi_key


def bench_sort() -> None:
    from tipline.core import textsort

    rows = units_2024()
    old = previous_key()

    def strip(name, kind):
        prefix = f"{kind} "
        return name[len(prefix) :] if name.lower().startswith(prefix) else name

    plain = timed(lambda: sorted(name for name, _ in rows), 5)
    before = timed(lambda: sorted(rows, key=lambda r: old(strip(*r))), 3)

    def now():
        textsort._WEIGHTS.clear()  # measured cold: the table of weights starts empty
        textsort._WEIGHTS[" "] = (0, 0, 0)
        sorted(rows, key=lambda r: textsort.unit_key(*r))

    after = timed(now, 3)
    print(f"sort {len(rows):,} units (median): plain str {plain * 1000:.1f} ms · "
          f"previous key {before * 1000:.1f} ms · ICU-checked key {after * 1000:.1f} ms "
          f"({after / before:.2f}× the previous key)")  # fmt: skip


def bench_documents() -> None:
    from flask_migrate import upgrade

    from tipline import create_app
    from tipline.demo import import_province
    from tipline.extensions import db
    from tipline.places.letterheads import letterhead_of
    from tipline.reports import exports, review_docx, review_pdf
    from tipline.reports.document import review_document
    from tipline.reports.periods import parse_period
    from tipline.reports.review import annual_review, now_local_label

    folder = Path(tempfile.mkdtemp(prefix="tipline-bench-documents-"))
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.db'}"}
    )
    with app.test_request_context():
        upgrade()
        root = import_province()
        db.session.commit()
        review = annual_review(root, parse_period("2026"))
        document = review_document(review, letterhead_of(root), now_local_label(), 2026)
        fonts = review_pdf.font_files()
        rows = exports.review_rows(review)
        xlsx = timed(lambda: exports.to_xlsx(rows, "Sơ kết", "Sơ kết"), 20)
        docx = timed(lambda: review_docx.review_docx(document), 20)
        line = f"review of {root.name} (median of 20): XLSX {xlsx * 1000:.1f} ms · "
        line += f"DOCX {docx * 1000:.1f} ms ({docx / xlsx:.1f}× XLSX)"
        if fonts:
            pdf = timed(lambda: review_pdf.review_pdf(document, fonts), 20)
            size = len(review_pdf.review_pdf(document, fonts))
            line += f" · PDF {pdf * 1000:.1f} ms ({pdf / xlsx:.1f}× XLSX, {size / 1024:.0f} KB, "
            line += f"font {fonts[0].name})"
        print(line)


if __name__ == "__main__":
    bench_sort()
    bench_documents()
