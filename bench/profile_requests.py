"""Where a request's time goes: cProfile of one kind of request, in one process.

    .venv/bin/python bench/profile_requests.py --kind submit --requests 300
    .venv/bin/python bench/profile_requests.py --kind photo --database postgres

Sets up a database the way bench/load.py does (temp SQLite file or a throwaway PostgreSQL
database, Redis db 14 with a prefix of its own, all cleaned up), builds the app in this
process and sends the requests through Flask's test client, one at a time: what is
measured is the app's own work in a single worker thread, without gunicorn or the network.
Prints the unprofiled time per request, the profiled time grouped by library, and the
functions with the most time of their own.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import re
import secrets
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load  # noqa: E402 - bench/load.py, next to this file

GROUPS = [
    ("argon2", "argon2 (password hashing)"),
    ("PIL", "Pillow (photo decode/resize/encode)"),
    ("pillow_heif", "Pillow (photo decode/resize/encode)"),
    ("jinja2", "Jinja2 (templates)"),
    ("flask_babel", "Babel (translations, dates)"),
    ("babel", "Babel (translations, dates)"),
    ("sqlalchemy", "SQLAlchemy"),
    ("psycopg", "database driver"),
    ("sqlite3", "database driver"),
    ("{method 'execute' of 'sqlite3", "database driver"),
    ("wtforms", "WTForms / Flask-WTF"),
    ("flask_wtf", "WTForms / Flask-WTF"),
    ("flask_limiter", "rate limiter (+ Redis)"),
    ("limits", "rate limiter (+ Redis)"),
    ("redis", "rate limiter (+ Redis)"),
    ("flask_talisman", "Flask / Werkzeug / Talisman"),
    ("werkzeug", "Flask / Werkzeug / Talisman"),
    ("flask", "Flask / Werkzeug / Talisman"),
    ("flask_login", "Flask / Werkzeug / Talisman"),
    ("tipline", "tipline's own code"),
]


def group_of(filename: str) -> str:
    path = filename.replace("\\", "/")
    for marker, group in GROUPS:
        if f"/{marker}/" in path or path.startswith(marker):
            return group
    if "{built-in method" in path or path == "~":
        return "built-ins (C calls: I/O, hashing, locks...)"
    return "other Python"


class Driver:
    """Sends one kind of request through the test client, like bench/load.py's clients."""

    def __init__(self, app, kind: str, places: dict, photo: bytes):
        self.app = app
        self.kind = kind
        self.client = app.test_client()
        self.rng = random.Random(1)
        self.commune = places["commune"]
        self.photo = photo
        page = self.client.get(f"/gui-tin?xa={self.commune}").get_data(as_text=True)
        form = next(f for f in load.scrape_forms(page) if "submission_key" in f["fields"])
        self.villages = list(form["choices"]["village"])
        self.categories = [c for c in form["choices"]["category"] if c]
        self.receipts: list[tuple[str, str]] = []
        self.headers = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
        if kind in {"lookup", "duplicate"}:
            self.keys = [self.submit(False) for _ in range(20)]
        if kind in {"inbox", "tip_page", "login"}:
            for _ in range(30):
                self.submit(False)
        if kind in {"inbox", "tip_page"}:
            self.login()
            html = self.client.get("/staff/").get_data(as_text=True)
            self.tips = [public_id for public_id, _ in load.INBOX_TIP.findall(html)]

    def submit(self, photo: bool, key: str | None = None) -> str:
        key = key or secrets.token_urlsafe(18)
        fields = {
            "submission_key": key,
            "photo_token": "",
            "village": self.rng.choice(self.villages),
            "category": self.rng.choice(self.categories),
            "description": " ".join(self.rng.sample(load.DESCRIPTIONS, 2)),
            "identity_tier": "anonymous",
        }
        body, content_type = load.multipart(fields, self.photo if photo else None)
        response = self.client.post(
            f"/gui-tin?xa={self.commune}",
            data=body,
            content_type=content_type,
            headers=self.headers,
        )
        html = response.get_data(as_text=True)
        if response.status_code != 200:
            raise RuntimeError(f"submission answered {response.status_code}")
        reference = load.RECEIPT_REF.search(html).group(1)
        self.receipts.append((reference, load.RECEIPT_CODE.search(html).group(1)))
        return key

    def login(self) -> None:
        html = self.client.get("/staff/login").get_data(as_text=True)
        fields = next(f for f in load.scrape_forms(html) if "csrf_token" in f["fields"])["fields"]
        response = self.client.post(
            "/staff/login",
            data={
                "csrf_token": fields["csrf_token"],
                "username": load.LEADER,
                "password": load.PASSWORD,
                "next": "",
            },
        )
        if response.status_code != 302:
            raise RuntimeError(f"login answered {response.status_code}")

    def one(self) -> None:
        kind = self.kind
        if kind == "submit":
            self.submit(False)
        elif kind == "photo":
            self.submit(True)
        elif kind == "duplicate":
            self.submit(False, key=self.rng.choice(self.keys))
        elif kind == "lookup":
            reference, code = self.rng.choice(self.receipts)
            response = self.client.post(
                "/tra-cuu", data={"reference": reference, "code": code}, headers=self.headers
            )
            assert response.status_code == 200, response.status_code
        elif kind == "form":
            assert self.client.get(f"/gui-tin?xa={self.commune}").status_code == 200
        elif kind == "inbox":
            assert self.client.get("/staff/").status_code == 200
        elif kind == "tip_page":
            public_id = self.rng.choice(self.tips)
            assert self.client.get(f"/staff/tips/{public_id}").status_code == 200
        elif kind == "login":
            with self.client.session_transaction() as session:
                session.clear()
            self.login()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--kind",
        choices=["submit", "photo", "duplicate", "lookup", "form", "inbox", "tip_page", "login"],
        default="submit",
    )
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--requests", type=load.bounded(1, 2000), default=300)
    parser.add_argument("--top", type=load.bounded(5, 100), default=30)
    parser.add_argument("--photo", type=Path, default=None)
    parser.add_argument(
        "--schema", choices=["migrations", "models"], default="migrations", help="as in load.py"
    )
    parser.add_argument(
        "--callees",
        action="append",
        default=[],
        metavar="FUNCTION",
        help="also print what this function calls (a pstats pattern, e.g. submit_tip)",
    )
    parser.add_argument(
        "--callers",
        action="append",
        default=[],
        metavar="FUNCTION",
        help="also print who calls this function (a pstats pattern, e.g. 're.*_compile')",
    )
    parser.add_argument("--no-limiter", action="store_true", help="RATELIMIT_ENABLED=false")
    parser.add_argument(
        "--parts",
        action="store_true",
        help="also time named parts of the views and the database transactions",
    )
    parser.add_argument(
        "--override",
        type=load.config_line,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting applied after create_app(), as in bench/load.py",
    )
    args = parser.parse_args()

    run = load.Run(load.parse_args(["--database", args.database, "--schema", args.schema]))
    timer = threading.Timer(600, lambda: (run.cleanup(), os._exit(3)))
    timer.daemon = True
    timer.start()
    try:
        places = run.setup_database()
        os.environ.update(run.env)
        if args.no_limiter:
            os.environ["RATELIMIT_ENABLED"] = "false"
        sys.path.insert(0, str(load.ROOT))
        from tipline import create_app

        app = create_app()
        app.config.update(dict(args.override))
        photo = args.photo.read_bytes() if args.photo else load.make_photo()
        driver = Driver(app, args.kind, places, photo)
        for _ in range(min(20, args.requests)):  # warm-up: imports, caches, pool
            driver.one()

        plain, cpu = best_of(3, args.requests, driver.one)
        bare, bare_cpu = best_of(3, args.requests * 5, bare_client())

        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for _ in range(args.requests):
            driver.one()
        profiler.disable()
        profiled = (time.perf_counter() - started) / args.requests
        report(profiler, args, plain, profiled)
        print(
            f"best of 3 rounds of {args.requests}: {plain * 1000:.2f} ms wall, "
            f"{cpu * 1000:.2f} ms CPU of this process per request\n"
            f"bare Flask GET / (bench/bare.py) through a test client, same process: "
            f"{bare * 1000:.3f} ms wall, {bare_cpu * 1000:.3f} ms CPU per request\n"
            f"{args.kind} = {bare / plain:.3f} x bare by wall time, "
            f"{bare_cpu / cpu:.3f} x bare by CPU time"
        )
        if args.parts:
            time_parts(app, driver, args.requests)
    finally:
        run.cleanup()
        timer.cancel()
    return 0


# Names looked up in the view modules and timed when --parts is given (missing ones skipped).
PARTS = {
    "tipline.public.views": [
        "root_unit",
        "unit_by_code",
        "villages_of",
        "active_categories",
        "category_by_code",
        "SubmitTipForm",
        "_fill_choices",
        "process_photo",
        "store_photo",
        "submit_tip",
        "find_by_receipt",
        "public_timeline",
        "render_template",
    ],
    "tipline.staff.views": [
        "authenticate",
        "visible_tips",
        "tip_for",
        "render_template",
    ],
}


def time_parts(app, driver: Driver, requests: int) -> None:
    """Wall time spent in named parts of the views, and inside database transactions
    (on SQLite a POST's transaction holds the write lock from its first query)."""
    import functools
    import importlib

    from sqlalchemy import event

    from tipline.extensions import db

    spent: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)

    def timed(label, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - started
                calls[label] += 1

        return wrapper

    for module_name, names in PARTS.items():
        module = importlib.import_module(module_name)
        short = module_name.split(".")[1]
        for name in names:
            if hasattr(module, name):
                setattr(module, name, timed(f"{short}.{name}", getattr(module, name)))

    with app.app_context():
        engine = db.engine
    opened: dict[int, float] = {}

    @event.listens_for(engine, "begin")
    def _begin(conn):
        opened[id(conn)] = time.perf_counter()

    def _end(label):
        def listener(conn):
            started = opened.pop(id(conn), None)
            if started is not None:
                spent[label] += time.perf_counter() - started
                calls[label] += 1

        return listener

    statements: Counter[str] = Counter()

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(conn, cursor, statement, parameters, context, executemany):
        statements[" ".join(statement.split())[:70]] += 1

    event.listen(engine, "commit", _end("[transaction until COMMIT]"))
    event.listen(engine, "rollback", _end("[transaction until ROLLBACK (request end)]"))
    for _ in range(min(10, requests)):
        driver.one()
    spent.clear()
    calls.clear()
    statements.clear()
    started = time.perf_counter()
    for _ in range(requests):
        driver.one()
    total = (time.perf_counter() - started) / requests
    print(f"\nparts of one {driver.kind} request ({total * 1000:.2f} ms in all, unprofiled):")
    for label in sorted(spent, key=lambda k: -spent[k]):
        print(
            f"  {label:<44}{spent[label] / requests * 1000:8.2f} ms"
            f"  ({calls[label] / requests:.1f} calls)"
        )
    print(f"\nSQL statements per request ({sum(statements.values()) / requests:.1f} in all):")
    for statement, count in statements.most_common():
        print(f"  {count / requests:5.2f}  {statement}")


def best_of(rounds: int, requests: int, one) -> tuple[float, float]:
    """The lowest wall and CPU seconds per call over a few rounds (the machine is shared)."""
    wall = cpu = float("inf")
    for _ in range(rounds):
        started, started_cpu = time.perf_counter(), time.process_time()
        for _ in range(requests):
            one()
        wall = min(wall, (time.perf_counter() - started) / requests)
        cpu = min(cpu, (time.process_time() - started_cpu) / requests)
    return wall, cpu


def bare_client():
    """`GET /` on bench/bare.py's app through Flask's test client, as one call."""
    from bare import app as bare_app

    client = bare_app.test_client()
    for _ in range(50):
        client.get("/")
    return lambda: client.get("/")


def report(profiler: cProfile.Profile, args, plain: float, profiled: float) -> None:
    stats = pstats.Stats(profiler)
    total = sum(row[2] for row in stats.stats.values())  # tottime
    groups: dict[str, float] = defaultdict(float)
    for (filename, _, _), row in stats.stats.items():
        groups[group_of(filename)] += row[2]
    print(
        f"\n{args.kind} on {args.database}: {plain * 1000:.1f} ms per request without the "
        f"profiler ({1 / plain:.0f} req/s for one thread), {profiled * 1000:.1f} ms with it"
    )

    print("\nprofiled time by library (own time of its functions):")
    for group, seconds in sorted(groups.items(), key=lambda kv: -kv[1]):
        print(f"  {group:<48}{seconds / args.requests * 1000:8.2f} ms {seconds / total:6.1%}")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.top)
    print(strip_paths(out.getvalue()))
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.top)
    print(strip_paths(out.getvalue()))
    for pattern in args.callees:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_callees(pattern)
        print(strip_paths(out.getvalue()))
    for pattern in args.callers:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_callers(pattern)
        print(strip_paths(out.getvalue()))


def strip_paths(text: str) -> str:
    """Library paths shortened to their package (no machine paths in the output)."""
    return re.sub(r"\S*/(site-packages|lib/python3\.\d+|main)/", "", text)


if __name__ == "__main__":
    sys.exit(main())
