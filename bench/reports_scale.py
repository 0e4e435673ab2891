"""Reports at national scale: 1,000,000 tips over 10 years in PostgreSQL.

    .venv/bin/python bench/reports_scale.py                 # the full run (about 10 minutes)
    .venv/bin/python bench/reports_scale.py --tips 50000    # a quick try

What it does, on 127.0.0.1 and bounded in time (--budget seconds, default 1500):

1. Creates a uniquely named PostgreSQL database (postgresql://postgres@127.0.0.1:5432) and
   builds the schema from the models. The tree: the country, its 34 provinces and 3,321
   communes from the `vietnam-provinces` package, and 5 generated villages per commune.
2. Bulk-loads the tips with COPY (not through the web): uniform over villages (10 % sent
   to the commune) and over 10 years, about 3 % duplicates and 2 % rejected, most older
   tips settled; one "submitted" event per tip; and the counter cells computed from the
   tips by `tipline.tips.counts.contributions` (the workflow's own definition).
3. Serves the app under gunicorn (2 workers x 4 threads) and measures at a fixed
   concurrency, after a warm-up: a baseline logged-in page that loads one tip by primary
   key and renders a trivial template; the public figures page (/so-lieu, the whole
   country); and the dashboard of one province for its officer. Each figure is the p95.
4. Measures one transition (triage, through `workflow.transition`, committed) on 200 open
   tips at this size, and the same in a second database of 1,000 tips.
5. Drops both databases, whatever happens.
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import random
import secrets
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
YEARS = 10
VILLAGES_PER_COMMUNE = 5
WARM_UP = 20  # transitions not timed, in each database
# The oldest year the public page offers: a period nobody has viewed yet in the run.
OLD_YEAR = datetime.now().year - 4  # noqa: DTZ005


# --- the app the bench serves --------------------------------------------------------------


def bench_app():
    """The real app, plus two bench-only routes: a login without a form, and the baseline."""
    from flask import abort, render_template_string
    from flask_login import login_required, login_user

    from tipline import create_app
    from tipline.accounts.services import user_by_username
    from tipline.extensions import db
    from tipline.tips.models import Tip

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": os.environ["BENCH_DATABASE_URL"],
            "SECRET_KEY": "bench-" + "k" * 40,
            "TIPLINE_ROOT_UNIT": "VN",
            "RATELIMIT_ENABLED": False,
            "TIPLINE_REQUIRE_2FA_ROLES": (),
            "TIPLINE_DB_STATEMENT_TIMEOUT_MS": 60000,
        }
    )

    @app.get("/_bench/login/<username>")
    def _bench_login(username):
        user = user_by_username(username)
        if user is None:
            abort(404)
        login_user(user)
        db.session.commit()
        return "ok"

    @app.get("/_bench/baseline")
    @login_required
    def _bench_baseline():
        tip = db.session.get(Tip, 1)
        return render_template_string("<p>{{ tip.reference }}</p>", tip=tip)

    return app


# --- building the data -------------------------------------------------------------------------


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(sql)


def _copy(conn, table: str, columns: list[str], rows) -> int:
    n = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


def build(url: str, n_tips: int, seed: int, log, fresh: int = 600) -> dict:
    """Schema, tree, accounts, tips, events and counters; returns what the measures need.

    The last `fresh` tips are new and untouched (received in the last days): the
    transitions are measured on them, alike in both databases."""
    from tipline import create_app
    from tipline.accounts.models import Role
    from tipline.accounts.services import create_user, grant
    from tipline.extensions import db
    from tipline.tips import counts
    from tipline.tips.models import (
        Category,
        EventKind,
        Outcome,
        Tip,
        TipStatus,
    )

    rng = random.Random(seed)
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "b" * 40,
            "TIPLINE_DB_STATEMENT_TIMEOUT_MS": 0,  # the bulk load takes minutes
        }
    )
    t0 = time.monotonic()
    with app.app_context():
        # The search index (issue 7) needs trigrams; its migration creates the extension.
        with db.engine.begin() as connection:
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        db.create_all()
        from vietnam_provinces import Province, Ward

        units = []  # id, code, name, kind, level, parent_id, path
        next_id = [1]

        def add(code, name, kind, level, parent):
            uid = next_id[0]
            next_id[0] += 1
            path = f"{parent[6] if parent else '/'}{uid}/"
            row = (uid, code, name, kind, level, parent[0] if parent else None, path)
            units.append(row)
            return row

        country = add("VN", "Việt Nam", "quốc gia", "country", None)
        villages, communes, provinces = [], [], []
        for province in Province.iter_all():
            p = add(
                f"P{int(province.code)}",
                province.name,
                province.division_type.value,
                "province",
                country,
            )
            provinces.append(p)
            for ward in Ward.iter_by_province(province.code):
                c = add(f"W{int(ward.code)}", ward.name, ward.division_type.value, "commune", p)
                communes.append(c)
                for v in range(1, VILLAGES_PER_COMMUNE + 1):
                    villages.append(
                        add(f"W{int(ward.code)}-{v}", f"Thôn {v}", "thôn", "village", c)
                    )
        raw = db.engine.raw_connection()
        conn = raw.driver_connection
        _copy(
            conn,
            "units",
            ["id", "code", "name", "kind", "level", "parent_id", "path", "active"],
            (u + (True,) for u in units),
        )
        conn.execute(f"SELECT setval('units_id_seq', {next_id[0]})")
        conn.commit()
        log(
            f"tree: {len(provinces)} provinces, {len(communes)} communes, "
            f"{len(villages)} villages ({time.monotonic() - t0:.0f} s)"
        )

        categories = [Category(code=f"c{i}", name=f"Lĩnh vực {i}", sort_order=i) for i in range(10)]
        db.session.add_all(categories)
        db.session.flush()
        cat_ids = [c.id for c in categories]
        # The province whose dashboard is measured, and its officer.
        target = provinces[len(provinces) // 2]
        from tipline.places.models import Unit

        officer = create_user("bench_officer", "Bench Officer", "bench-password-123")
        grant(officer, Role.OFFICER, db.session.get(Unit, target[0]))
        viewer = create_user("bench_viewer", "Bench Viewer", "bench-password-123")
        grant(viewer, Role.OFFICER, db.session.get(Unit, target[0]))
        db.session.commit()

        # Tips: every column of the table, from the generated values or the model's default.
        table = Tip.__table__
        now = datetime.utcnow().replace(second=0, microsecond=0)  # noqa: DTZ003
        span = YEARS * 365 * 86400
        outcomes = list(Outcome)
        generated: dict[str, object] = {}
        cells: Counter = Counter()
        columns = [c.name for c in table.columns]

        def default_of(column):
            d = column.default
            if d is None:
                return None
            if d.is_scalar:
                return d.arg
            return d.arg({}) if d.is_callable else None

        static = {}
        for column in table.columns:
            if column.name not in {
                "id",
                "public_id",
                "reference",
                "receipt_hash",
                "submission_key",
            }:
                value = default_of(column)
                static[column.name] = value.value if hasattr(value, "value") else value

        class Row:
            """Just enough of a Tip for counts.contributions."""

            __slots__ = (
                "unit_id",
                "category_id",
                "submitted_at",
                "verified_at",
                "closed_at",
                "status",
                "outcome",
            )

        open_ids = []
        village_ids = [v[0] for v in villages]
        commune_ids = [c[0] for c in communes]

        def tip_rows():
            for i in range(1, n_tips + 1):
                unit = rng.choice(commune_ids) if rng.random() < 0.1 else rng.choice(village_ids)
                submitted = now - timedelta(seconds=rng.randrange(span))
                submitted = submitted.replace(second=0)
                age_days = (now - submitted).days
                roll = rng.random()
                verified = closed = outcome = reason = dup = None
                first = submitted + timedelta(hours=rng.uniform(0.2, 72))
                if first > now:
                    first = None
                if roll < 0.03 and i > 1:
                    status = TipStatus.DUPLICATE
                    dup = i - 1
                    closed = first
                elif roll < 0.05:
                    status = TipStatus.REJECTED
                    reason = "spam"
                    closed = first
                elif age_days > 60 or rng.random() < 0.5:
                    if rng.random() < 0.17:
                        status = TipStatus.UNFOUNDED
                    else:
                        status = TipStatus.RESOLVED
                        outcome = rng.choice(outcomes)
                        verified = submitted + timedelta(days=rng.uniform(0.5, 10))
                    closed = submitted + timedelta(days=rng.uniform(1, 20))
                    if closed > now:
                        closed = now
                    if verified is not None and verified > closed:
                        verified = closed
                    if first is None or first > closed:
                        first = closed
                else:
                    status = rng.choice([TipStatus.RECEIVED, TipStatus.TRIAGED])
                if i > n_tips - fresh:
                    submitted = now - timedelta(seconds=rng.randrange(5 * 86400))
                    status, verified, closed, outcome, reason, dup = (TipStatus.RECEIVED,) + (
                        None,
                    ) * 5
                if status == TipStatus.RECEIVED:
                    first = None
                    open_ids.append(i)
                row = Row()
                row.unit_id, row.category_id = unit, rng.choice(cat_ids)
                row.submitted_at, row.verified_at, row.closed_at = submitted, verified, closed
                row.status, row.outcome = status, outcome
                cells.update(counts.contributions(row))
                generated.update(static)
                generated.update(
                    id=i,
                    public_id=f"b{i:011d}",
                    reference=f"TL-B{i:09d}",
                    receipt_hash="0" * 64,
                    submission_key=f"bench-{i}",
                    category_id=row.category_id,
                    unit_id=unit,
                    submitted_unit_id=unit,
                    description="Tin báo thử nghiệm quy mô.",
                    submitted_at=submitted,
                    status=status.value,
                    outcome=outcome.value if outcome else None,
                    reject_reason=reason,
                    duplicate_of_id=dup,
                    first_response_at=first,
                    verified_at=verified,
                    closed_at=closed,
                    identity_tier="anonymous",
                    contact_id=None,
                    version=1,
                    hidden_from_village=False,
                )
                yield [generated.get(c) for c in columns]

        # Foreign keys and indexes are checked and built faster after the load.
        conn.execute("ALTER TABLE tips DISABLE TRIGGER ALL")
        n = _copy(conn, "tips", columns, tip_rows())
        conn.execute("ALTER TABLE tips ENABLE TRIGGER ALL")
        conn.execute(f"SELECT setval('tips_id_seq', {n + 1})")
        conn.commit()
        log(f"tips: {n:,} ({time.monotonic() - t0:.0f} s)")

        conn.execute("ALTER TABLE tip_events DISABLE TRIGGER ALL")
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO tip_events (tip_id, kind, at, to_status, public) "
                "SELECT id, %s, submitted_at, 'received', true FROM tips",
                (EventKind.SUBMITTED.value,),
            )
        conn.execute("ALTER TABLE tip_events ENABLE TRIGGER ALL")
        conn.commit()
        log(f"events: one per tip ({time.monotonic() - t0:.0f} s)")

        _copy(
            conn,
            "tip_counts",
            ["unit_id", "category_id", "day", "metric", "count"],
            ((u, c, d, m, k) for (u, c, d, m), k in cells.items() if k),
        )
        conn.commit()
        log(f"counter cells: {len(cells):,} ({time.monotonic() - t0:.0f} s)")
        conn.execute("ANALYZE")
        conn.commit()
        raw.close()
        return {
            "build_seconds": time.monotonic() - t0,
            "open": open_ids,
            "target": target[1],
            "counts_ok": None,
        }


# --- measuring ----------------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(conn: http.client.HTTPConnection, path: str, cookie: str | None) -> tuple[int, bytes]:
    headers = {"Cookie": cookie} if cookie else {}
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


def _login(port: int, username: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", f"/_bench/login/{username}")
    response = conn.getresponse()
    response.read()
    cookie = response.getheader("Set-Cookie").split(";")[0]
    conn.close()
    return cookie


def load(port: int, path: str, cookie: str | None, concurrency: int, requests: int) -> dict:
    """Latencies of `requests` GETs of `path` from `concurrency` keep-alive clients."""
    latencies, errors = [], []
    lock = threading.Lock()
    remaining = [requests]

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if remaining[0] <= 0:
                    break
                remaining[0] -= 1
            start = time.perf_counter()
            status, _ = _get(conn, path, cookie)
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                if status != 200:
                    errors.append(status)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    latencies.sort()
    return {
        "p50": statistics.median(latencies),
        "p95": latencies[int(len(latencies) * 0.95) - 1],
        "rps": len(latencies) / wall,
        "errors": Counter(errors),
    }


def serve_and_measure(url: str, target: str, concurrency: int, requests: int, log) -> dict:
    port = _free_port()
    env = dict(os.environ, BENCH_DATABASE_URL=url, PYTHONPATH=str(ROOT))
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "--workers",
            "2",
            "--threads",
            "4",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "bench.reports_scale:bench_app()",
        ],
        cwd=str(ROOT),
        env=env,
        stdout=subprocess.DEVNULL,  # the project's gunicorn.conf.py logs every request
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                _get(conn, "/healthz", None)
                conn.close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        cookie = _login(port, "bench_officer")
        pages = {
            "baseline (one tip by primary key, trivial template)": ("/_bench/baseline", cookie),
            "public figures /so-lieu (whole country, 12 months)": ("/so-lieu", None),
            f"province dashboard (officer of {target}, 12 months)": ("/staff/bao-cao/", cookie),
        }
        results = {}
        for path, c in pages.values():
            load(port, path, c, concurrency, concurrency * 4)  # warm every worker
        for name, (path, c) in pages.items():
            results[name] = load(port, path, c, concurrency, requests)
            r = results[name]
            log(
                f"  {name}: p50 {r['p50'] * 1000:.1f} ms, p95 {r['p95'] * 1000:.1f} ms, "
                f"{r['rps']:.0f} req/s, errors {dict(r['errors']) or 0}"
            )
        # Cold: the first view of another period, when the sums are computed afresh.
        cold = {}
        for name, (path, c) in list(pages.items())[1:]:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            start = time.perf_counter()
            status, _ = _get(conn, f"{path}?ky={OLD_YEAR}", c)
            cold[name] = time.perf_counter() - start
            conn.close()
            took = cold[name] * 1000
            log(f"  {name}, first view of {OLD_YEAR} (not cached): {took:.0f} ms ({status})")
        results["cold"] = cold
        return results
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tips", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--budget", type=int, default=1500, help="give up after this many s")
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()

    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:6.0f} s] {message}", flush=True)

    def watchdog():
        time.sleep(args.budget)
        print(f"time budget of {args.budget} s exceeded: stopping", flush=True)
        cleanup()
        os._exit(3)

    names = []

    def cleanup():
        for name in names:
            try:
                _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception as error:  # noqa: BLE001 - report and go on dropping
                print(f"could not drop {name}: {error}", flush=True)

    threading.Thread(target=watchdog, daemon=True).start()
    tag = uuid.uuid4().hex[:8]
    big, small = f"tipline_bench_reports_{tag}", f"tipline_bench_reports_small_{tag}"
    names.extend([big, small])
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/{}"
    try:
        for name in names:
            _admin(f'CREATE DATABASE "{name}"')
        log(f"small database: {args.small:,} tips")
        small_info = build(url.format(small), args.small, args.seed, lambda m: None)
        log(f"big database: {args.tips:,} tips over {YEARS} years")
        info = build(url.format(big), args.tips, args.seed, log)

        log(f"pages at concurrency {args.concurrency}, {args.requests} requests each:")
        pages = serve_and_measure(
            url.format(big), info["target"], args.concurrency, args.requests, log
        )

        samples = min(args.samples, len(small_info["open"]), len(info["open"])) - WARM_UP
        t_small = _transitions(url.format(small), small_info["open"], samples)
        t_big = _transitions(url.format(big), info["open"], samples)
        m_small, m_big = statistics.median(t_small), statistics.median(t_big)
        log(
            f"transition (triage) median: {m_big * 1000:.2f} ms at {args.tips:,} tips, "
            f"{m_small * 1000:.2f} ms at {args.small:,} tips: ratio {m_big / m_small:.2f} "
            f"({samples} each)"
        )
        base = next(v for k, v in pages.items() if k.startswith("baseline"))["p95"]
        print("\nSUMMARY")
        for name, r in pages.items():
            if name == "cold":
                continue
            print(f"  {name}: p95 {r['p95'] * 1000:.1f} ms = {r['p95'] / base:.2f} x baseline")
        print(f"  transition: {m_big / m_small:.2f} x the cost at {args.small:,} tips")
        print(f"  build: {info['build_seconds']:.0f} s; total {time.monotonic() - started:.0f} s")
        return 0
    finally:
        cleanup()
        log("databases dropped")


def _transitions(url: str, open_ids: list[int], samples: int) -> list[float]:
    """Triage by a village leader of each tip's own unit (a fresh account per tip's unit)."""
    from tipline import create_app
    from tipline.accounts.models import Role
    from tipline.accounts.services import create_user, grant
    from tipline.extensions import db
    from tipline.tips import workflow
    from tipline.tips.models import Tip
    from tipline.tips.workflow import Action

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "b" * 40,
            "TIPLINE_DB_STATEMENT_TIMEOUT_MS": 0,  # the bulk load takes minutes
        }
    )
    times = []
    with app.app_context():
        rng = random.Random(1)
        chosen = rng.sample(open_ids, samples + WARM_UP)
        # One committee account holding the role in the commune of every chosen tip (a
        # commune committee's role belongs to a commune: permissions.ROLE_LEVELS).
        user = create_user(f"triager_{secrets.token_hex(3)}", "Triage", "bench-password-123")
        for tip_id in chosen:
            commune = db.session.get(Tip, tip_id).unit.commune
            if commune is not None:
                grant(user, Role.COMMUNE_COMMITTEE, commune)
        db.session.commit()
        for n, tip_id in enumerate(chosen):
            tip = db.session.get(Tip, tip_id)
            start = time.perf_counter()
            workflow.transition(tip, Action.TRIAGE, user)
            db.session.commit()
            if n >= WARM_UP:  # the first ones pay for compiling statements and connecting
                times.append(time.perf_counter() - start)
        db.session.remove()
        db.engine.dispose()
    return times


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["bench_app", "io"]
