"""Do a known reference with a wrong code and an unknown reference take the same time?

    .venv/bin/python bench/followup_timing.py --tips 500 --requests 2000
    .venv/bin/python bench/followup_timing.py \
        --database-url postgresql://postgres@127.0.0.1:5432/postgres \
        --redis-url redis://127.0.0.1:6379/15

What it does, in one process and bounded in time:

1. Builds a throwaway database (SQLite in a temporary folder, or its own database on the
   given PostgreSQL server, dropped at the end) with ``--tips`` tips submitted through the
   real service, and an app with the follow-up guard on (limits set out of reach, so every
   answer is a plain "wrong code"), its limiter in memory or in ``--redis-url``.
2. Sends ``--requests`` pairs of POST /tra-cuu through the test client, each pair in a
   random order: a known reference with a wrong code, and an unknown reference (a fresh
   random one each time). Every answer must be 422 and the pages must be the same once the
   typed reference is taken out. The same is then done calling `receipt_lookup` directly
   (no page rendering, less noise).
3. Prints p50/p95/p99 of each kind, and the differences (known - unknown), in microseconds.
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WRONG = "2222-3333-4444-5555"


def pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def unknown_reference() -> str:
    from tipline.tips.services import new_reference

    return new_reference()


def build(app, tips: int) -> list[str]:
    from flask_migrate import upgrade

    from tipline.extensions import db
    from tipline.places.models import UnitLevel
    from tipline.places.services import add_unit
    from tipline.tips.models import Category
    from tipline.tips.services import TipDraft, new_submission_key, submit_tip

    with app.app_context():
        upgrade()
        province = add_unit(code="T", name="Tỉnh Thử", level=UnitLevel.PROVINCE, kind="tỉnh")
        commune = add_unit(
            code="A", name="Xã An Bình", level=UnitLevel.COMMUNE, kind="xã", parent=province
        )
        village = add_unit(
            code="A1", name="Thôn Đông", level=UnitLevel.VILLAGE, kind="thôn", parent=commune
        )
        theft = Category(code="theft", name="Trộm cắp tài sản", sort_order=0)
        db.session.add(theft)
        db.session.flush()
        references = []
        for n in range(tips):
            receipt = submit_tip(
                TipDraft(
                    submission_key=new_submission_key(),
                    category=theft,
                    unit=village,
                    description=f"Mất trộm xe máy lần {n} trước cửa nhà văn hóa.",
                )
            )
            references.append(receipt.tip.reference)
        db.session.commit()
        return references


def report(name: str, known: list[float], unknown: list[float]) -> None:
    print(f"\n{name} (microseconds, {len(known)} of each)")
    print(f"{'':>22} {'p50':>9} {'p95':>9} {'p99':>9} {'mean':>9}")
    for label, values in (("known ref, wrong code", known), ("unknown ref", unknown)):
        print(
            f"{label:>22} {pct(values, 0.5):9.1f} {pct(values, 0.95):9.1f} "
            f"{pct(values, 0.99):9.1f} {statistics.fmean(values):9.1f}"
        )
    diffs = [
        pct(known, 0.5) - pct(unknown, 0.5),
        pct(known, 0.95) - pct(unknown, 0.95),
        pct(known, 0.99) - pct(unknown, 0.99),
        statistics.fmean(known) - statistics.fmean(unknown),
    ]
    print(f"{'difference':>22} " + " ".join(f"{d:9.1f}" for d in diffs))
    spread = statistics.stdev(known + unknown) / (len(known) ** 0.5)
    print(f"{'(noise: stderr of mean)':>22} {'':>29} {spread:9.1f}")


def measure(pairs: int, known_call, unknown_call) -> tuple[list[float], list[float]]:
    known: list[float] = []
    unknown: list[float] = []
    rng = random.Random(5)  # noqa: S311 (an order, not a secret)
    for _ in range(pairs):
        order = [(known_call, known), (unknown_call, unknown)]
        rng.shuffle(order)
        for call, into in order:
            start = time.perf_counter_ns()
            call()
            into.append((time.perf_counter_ns() - start) / 1000)
    return known, unknown


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tips", type=int, default=500)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--database-url", help="a PostgreSQL server URL (default: SQLite)")
    parser.add_argument("--redis-url", help="the limiter's store (default: memory)")
    args = parser.parse_args()

    from tipline import create_app
    from tipline.extensions import db
    from tipline.public.guard import receipt_lookup

    folder = tempfile.TemporaryDirectory(prefix="followup-timing-")
    admin = None
    if args.database_url:
        import psycopg
        from sqlalchemy.engine import make_url

        name = f"tipline_bench_{uuid.uuid4().hex[:10]}"
        server = make_url(args.database_url).set(drivername="postgresql")
        admin = (server.render_as_string(hide_password=False), name)
        with psycopg.connect(admin[0], autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = server.set(drivername="postgresql+psycopg", database=name)
        database = url.render_as_string(hide_password=False)
    else:
        database = f"sqlite:///{folder.name}/bench.db"
    prefix = f"tipline-timing-{uuid.uuid4().hex}"
    app = create_app(
        {
            "SECRET_KEY": secrets.token_hex(32),
            "SQLALCHEMY_DATABASE_URI": database,
            "UPLOAD_DIR": f"{folder.name}/uploads",
            "TIPLINE_ROOT_UNIT": "T",
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": args.redis_url or "memory://",
            "RATELIMIT_KEY_PREFIX": prefix,
            "TIPLINE_FOLLOWUP_LIMIT": "1000000000 per hour",
            "TIPLINE_FOLLOWUP_WRONG_PER_CLIENT": 10**9,
            "TIPLINE_FOLLOWUP_WRONG_PER_REFERENCE": 10**9,
        }
    )
    try:
        references = build(app, args.tips)
        rng = random.Random(7)  # noqa: S311
        client = app.test_client()

        def post(reference: str):
            response = client.post("/tra-cuu", data={"reference": reference, "code": WRONG})
            if response.status_code != 422:
                raise SystemExit(f"unexpected {response.status_code} for {reference}")
            return response

        a = rng.choice(references)
        b = unknown_reference()
        page_a = post(a).get_data(as_text=True).replace(a, "@")
        page_b = post(b).get_data(as_text=True).replace(b, "@")
        if page_a != page_b:
            raise SystemExit("the two answers differ")

        for _ in range(args.warmup):
            post(rng.choice(references))
            post(unknown_reference())
        known, unknown = measure(
            args.requests,
            lambda: post(rng.choice(references)),
            lambda: post(unknown_reference()),
        )
        store = "Redis" if args.redis_url else "memory"
        engine = "PostgreSQL" if args.database_url else "SQLite"
        report(
            f"POST /tra-cuu through the test client ({engine}, limiter in {store})", known, unknown
        )

        def direct(reference: str) -> None:
            with app.test_request_context("/tra-cuu", method="POST"):
                if receipt_lookup(reference, WRONG) is not None:
                    raise SystemExit("a wrong code opened a tip")
                db.session.remove()

        known, unknown = measure(
            args.requests,
            lambda: direct(rng.choice(references)),
            lambda: direct(unknown_reference()),
        )
        report("receipt_lookup alone (same run)", known, unknown)
    finally:
        with app.app_context():
            db.engine.dispose()
        if args.redis_url:
            import redis

            server = redis.Redis.from_url(args.redis_url)
            keys = list(server.scan_iter(match=f"*{prefix}*"))
            if keys:
                server.delete(*keys)
            server.close()
        if admin is not None:
            import psycopg

            with psycopg.connect(admin[0], autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{admin[1]}" WITH (FORCE)')
        folder.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
