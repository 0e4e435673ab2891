"""Triage inbox and search over 100,000 tips in scope, on PostgreSQL, beside a baseline page.

    .venv/bin/python bench/inbox.py --tips 100000 --clients 4 --duration 20

What it does, all on 127.0.0.1 and bounded in time:

1. Creates its own database on postgresql://postgres@127.0.0.1:5432 (dropped at the end),
   runs the migrations, makes one commune with 20 villages and a commune police account
   (whose scope is the whole commune), and inserts ``--tips`` tips in bulk with the columns
   the app would give them (folded search text, priorities, due dates, about 10% of them
   mentioning "trộm cắp"); states as a commune would have them after a year or more: 70%
   of the last 30 days' tips still open, 2% of older ones (about 7,500 open tips in all),
   the rest resolved or unfounded; then ANALYZE.
2. Serves the app under gunicorn (``--workers`` sync workers), with one extra route added
   for this benchmark only: ``/staff/bench-baseline``, a logged-in page that loads one tip
   by primary key and renders a one-line template (the baseline).
3. ``--clients`` clients, each logged in (CSRF token from the login page), loop for
   ``--duration`` seconds over the four pages, interleaved so that noise hits all alike:
   baseline; the inbox (page 1, default order, the counts beside every filter); a search
   ("trom cap", diacritics and case ignored); a search combined with filters (a village,
   open tips, sorted by due date). Every response must be 200 with the expected content.
4. Prints p50/p95/p99 per page and the p95 ratio to the baseline; exit 1 if any request
   failed. The target was a ratio of at most 3 (issue 7); issue 17 asks at most 1.5 with
   the inbox's default view (the open tips the account may act on, urgent and unread
   first, then by the next deadline).

``--keep`` leaves the database in place and ``--database NAME`` runs on such a database
again without building it.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
PASSWORD = "bench-password-inbox"  # noqa: S105 (a throwaway account in a throwaway database)

PHRASES = [
    "Trộm cắp xe máy trước cổng chợ",
    "Mất trộm gà vịt ban đêm",
    "Thanh niên tụ tập gây ồn ào sau 23 giờ",
    "Có người lạ lảng vảng quanh khu nhà trọ",
    "Đánh nhau sau khi uống rượu ở quán",
    "Nghi có tụ điểm đánh bạc trong vườn",
    "Xe tải chở quá tải làm hỏng đường làng",
    "Đốt rác gây khói gần đường dây điện",
    "Nghi mua bán ma túy ở bãi đất trống",
    "Bạo lực gia đình, hàng xóm nghe tiếng la hét",
]
PLACES = ["Chợ Đông", "Ngõ 3 đường Lê Lợi", "Nhà văn hóa thôn", "Cầu Đá", "Bến xe", None]


def wsgi_app():
    """The app as gunicorn serves it here: Tipline plus the baseline route."""
    from flask import render_template_string
    from flask_login import login_required

    from tipline import create_app
    from tipline.extensions import db
    from tipline.tips.models import Tip

    app = create_app(
        {
            "SECRET_KEY": os.environ["BENCH_SECRET"],
            "SQLALCHEMY_DATABASE_URI": os.environ["BENCH_DATABASE_URL"],
            "RATELIMIT_ENABLED": False,
            "UPLOAD_DIR": os.environ["BENCH_UPLOADS"],
            "TIPLINE_ROOT_UNIT": "BENCH",
            "TIPLINE_INBOX_CACHE_SECONDS": 0 if os.environ.get("BENCH_COUNTS_CACHE") == "0" else 60,
        }
    )
    baseline_id = int(os.environ["BENCH_BASELINE_TIP"])

    @app.get("/staff/bench-baseline")
    @login_required
    def bench_baseline():
        tip = db.session.get(Tip, baseline_id)
        return render_template_string("<p>{{ tip.reference }}</p>", tip=tip)

    return app


# --- setup -------------------------------------------------------------------------------


def admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(sql)


def build(url: str, uploads: str, tips: int, seed: int) -> int:
    """Schema, units, the police account, `tips` tips; returns the baseline tip's id."""
    from flask_migrate import upgrade
    from sqlalchemy import insert, text

    from tipline import create_app
    from tipline.accounts.models import Role
    from tipline.accounts.services import create_user, grant
    from tipline.core.text import fold
    from tipline.extensions import db
    from tipline.places.models import UnitLevel
    from tipline.places.services import add_unit
    from tipline.tips.models import Category, Tip
    from tipline.tips.services import hash_code, new_reference

    app = create_app(
        {"SECRET_KEY": "b" * 40, "SQLALCHEMY_DATABASE_URI": url, "UPLOAD_DIR": uploads}
    )
    rng = random.Random(seed)
    with app.app_context():
        upgrade()
        province = add_unit(code="BENCH", name="Tỉnh Thử", level=UnitLevel.PROVINCE, kind="tỉnh")
        commune = add_unit(
            code="BENCH-X", name="Xã Thử", level=UnitLevel.COMMUNE, kind="xã", parent=province
        )
        villages = [
            add_unit(
                code=f"BENCH-X-{i:02d}",
                name=f"Thôn {i}",
                level=UnitLevel.VILLAGE,
                kind="thôn",
                parent=commune,
            )
            for i in range(1, 21)
        ]
        categories = [
            Category(code=code, name=name, sort_order=i)
            for i, (code, name) in enumerate(
                [("theft", "Trộm cắp tài sản"), ("disturbance", "Gây rối"), ("other", "Khác")]
            )
        ]
        db.session.add_all(categories)
        user = create_user("congan", "Công an xã", PASSWORD)
        grant(user, Role.COMMUNE_POLICE, commune)
        db.session.commit()

        now = datetime(2026, 11, 1)
        code_hash = hash_code("BENCHCODE")
        open_states = ["received"] * 3 + ["triaged"] * 3 + ["verifying"] * 2 + ["verified"]
        rows = []
        # Inserted oldest first, as tips arrive: recent (mostly open) tips share heap pages.
        moments = sorted(
            now - timedelta(minutes=rng.randrange(0, 365 * 24 * 60)) for _ in range(tips)
        )
        for n, submitted in enumerate(moments):
            description = rng.choice(PHRASES) + f". Ghi chú {n}."
            place = rng.choice(PLACES)
            # As in a real commune: most recent tips are open, older ones mostly closed.
            recent = submitted > now - timedelta(days=30)
            if rng.random() < (0.7 if recent else 0.02):
                status = rng.choice(open_states)
            else:
                status = rng.choice(["resolved"] * 8 + ["unfounded"] * 2)
            unit = rng.choice(villages)
            rows.append(
                {
                    "public_id": secrets.token_urlsafe(12),
                    "reference": new_reference(),
                    "receipt_hash": code_hash,
                    "submission_key": uuid.uuid4().hex,
                    "category_id": rng.choice(categories).id,
                    "unit_id": unit.id,
                    "submitted_unit_id": unit.id,
                    "description": description,
                    "place": place,
                    "submitted_at": submitted,
                    "status": status,
                    "handler": "village_team",
                    "hidden_from_village": False,
                    "outcome": "mediated" if status == "resolved" else None,
                    "first_response_at": None if status == "received" else submitted,
                    "closed_at": submitted if status in ("resolved", "unfounded") else None,
                    "verified_at": submitted if status in ("verified", "resolved") else None,
                    "identity_tier": "anonymous",
                    "version": 1,
                    "priority": rng.choice(["urgent"] + ["normal"] * 7 + ["low"] * 2),
                    "source": "online",
                    "search_text": fold(" ".join(p for p in (description, place) if p)),
                    "activity_at": submitted,
                    "response_due_at": submitted + timedelta(days=1),
                    "settle_due_at": submitted + timedelta(days=20),
                }
            )
            if len(rows) == 5000:
                db.session.execute(insert(Tip), rows)
                rows = []
        if rows:
            db.session.execute(insert(Tip), rows)
        db.session.commit()
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # what autovacuum does on a live database
        baseline = db.session.scalar(text("SELECT min(id) FROM tips"))
        db.engine.dispose()
    return baseline


# --- load --------------------------------------------------------------------------------


class Client:
    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return response.status, response.read().decode("utf-8", "replace")

    def login(self) -> None:
        _status, html = self.request("GET", "/staff/login")
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
            r'value="([^"]+)"[^>]*name="csrf_token"', html
        )
        body = urlencode({"csrf_token": token.group(1), "username": "congan", "password": PASSWORD})
        status, _ = self.request("POST", "/staff/login", body)
        if status != 302:
            raise RuntimeError(f"login failed: {status}")


PAGES = {
    "baseline": ("/staff/bench-baseline", "<p>TL-"),
    "inbox": ("/staff/", 'class="ref"'),
    "search": ("/staff/?" + urlencode({"q": "trom cap"}), 'class="ref"'),
    "search+filters": (
        "/staff/?" + urlencode({"q": "trộm cắp", "unit": "BENCH-X-07", "open": "1", "sort": "due"}),
        'class="ref"',
    ),
}


def run_load(port: int, clients: int, duration: float) -> tuple[dict, int]:
    times: dict[str, list[float]] = {name: [] for name in PAGES}
    errors = [0]
    lock = threading.Lock()
    deadline = [0.0]
    ready = threading.Barrier(clients + 1)

    def worker(index: int) -> None:
        client = Client(port)
        client.login()
        order = list(PAGES)
        random.Random(index).shuffle(order)
        ready.wait()
        while time.monotonic() < deadline[0]:
            for name in order:
                path, expected = PAGES[name]
                start = time.perf_counter()
                status, body = client.request("GET", path)
                elapsed = (time.perf_counter() - start) * 1000
                with lock:
                    if status == 200 and expected in body:
                        times[name].append(elapsed)
                    else:
                        errors[0] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    deadline[0] = time.monotonic() + duration + 1e9  # set for real once all logged in
    ready.wait()
    deadline[0] = time.monotonic() + duration
    for thread in threads:
        thread.join()
    return times, errors[0]


def pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tips", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="Keep the database (for profiling).")
    parser.add_argument(
        "--database",
        help="Reuse a database kept by --keep (its name; the baseline tip is its first).",
    )
    parser.add_argument(
        "--no-counts-cache",
        action="store_true",
        help="Recount the inbox's filters on every request (TIPLINE_INBOX_CACHE_SECONDS=0).",
    )
    args = parser.parse_args()

    name = args.database or f"tipline_bench_inbox_{uuid.uuid4().hex[:10]}"
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    workdir = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    uploads = str(workdir / "uploads")
    if not args.database:
        admin(f'CREATE DATABASE "{name}"')
    server = None
    try:
        started = time.perf_counter()
        baseline = 1
        if not args.database:
            baseline = build(url, uploads, args.tips, args.seed)
            print(f"setup: {args.tips} tips in {time.perf_counter() - started:.0f} s")
        port = free_port()
        env = dict(
            os.environ,
            BENCH_SECRET="s" * 40,
            BENCH_DATABASE_URL=url,
            BENCH_UPLOADS=uploads,
            BENCH_BASELINE_TIP=str(baseline),
            BENCH_COUNTS_CACHE="0" if args.no_counts_cache else "1",
        )
        env.pop("TIPLINE_ENV", None)
        server = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn",
                "--pythonpath", f"{ROOT / 'bench'},{ROOT}",
                "-w", str(args.workers), "-k", "sync",
                "-b", f"127.0.0.1:{port}",
                "--access-logfile", "/dev/null", "--error-logfile", str(workdir / "gunicorn.log"),
                "inbox:wsgi_app()",
            ],
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )  # fmt: skip
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        run_load(port, args.clients, args.warmup)
        times, errors = run_load(port, args.clients, args.duration)
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
        if args.keep or args.database:
            print(f"kept: {url} (baseline tip {baseline}), {workdir}")
        else:
            admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            shutil.rmtree(workdir, ignore_errors=True)

    base95 = pct(times["baseline"], 0.95)
    print(
        f"\n{args.tips} tips in scope; {args.clients} clients, {args.workers} gunicorn workers, "
        f"{args.duration:.0f} s; counts cache {'off' if args.no_counts_cache else 'on'}\n"
    )
    print(f"{'page':<16}{'requests':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'p95/base':>10}")
    for page, values in times.items():
        p95 = pct(values, 0.95)
        print(
            f"{page:<16}{len(values):>9}{pct(values, 0.5):>9.1f}{p95:>9.1f}"
            f"{pct(values, 0.99):>9.1f}{p95 / base95:>10.2f}"
        )
    print(f"\nerrors: {errors}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
