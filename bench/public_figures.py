"""Weight and time of the public figures page (/so-lieu), province and one commune.

Run against a database with the demo (166 communes, a year of tips):

    DATABASE_URL=sqlite:///instance/tipline.db .venv/bin/python bench/public_figures.py

Prints, for each page: bytes sent without compression (the baseline, measured in the same
run), with gzip and with Brotli, and the median time of a request either way (the report
cache warm: what a visitor after the first one waits for).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tipline import create_app  # noqa: E402

ROUNDS = 30


def measure(client, path: str, encoding: str) -> tuple[int, float]:
    headers = {"Accept-Encoding": encoding}
    client.get(path, headers=headers)  # warm the report cache
    times = []
    size = 0
    for _ in range(ROUNDS):
        start = time.perf_counter()
        response = client.get(path, headers=headers)
        body = response.get_data()
        times.append(time.perf_counter() - start)
        size = len(body)
        assert response.status_code == 200, (path, response.status_code)
    return size, statistics.median(times) * 1000


def main() -> None:
    app = create_app()
    client = app.test_client()
    with app.app_context():
        from sqlalchemy import select

        from tipline.extensions import db
        from tipline.places.models import Unit, UnitLevel

        commune = db.session.scalar(
            select(Unit.code).where(Unit.level == UnitLevel.COMMUNE, Unit.name == "Phường Hàm Rồng")
        ) or db.session.scalar(select(Unit.code).where(Unit.level == UnitLevel.COMMUNE))
    print(f"{'page':32} {'encoding':9} {'bytes':>8} {'ratio':>6} {'median ms':>10}")
    for path in ("/so-lieu", f"/so-lieu?xa={commune}", "/"):
        base_size, base_ms = measure(client, path, "identity")
        print(f"{path:32} {'identity':9} {base_size:8d} {1:6.2f} {base_ms:10.1f}")
        for encoding in ("gzip", "br"):
            size, ms = measure(client, path, encoding)
            print(f"{path:32} {encoding:9} {size:8d} {size / base_size:6.2f} {ms:10.1f}")


if __name__ == "__main__":
    main()
