"""A flood of tips from one client against the real app, with and without the puzzle (issue 21).

    .venv/bin/python bench/flood.py
    .venv/bin/python bench/flood.py --database postgres --duration 60 --posts 500

Sets up the app the way bench/load.py does (its `Run`: a temp SQLite file or a throwaway
PostgreSQL database, Redis db 14 under a key prefix of its own, gunicorn with the project's
gunicorn.conf.py, 2 workers x 4 threads; all cleaned up). Each scenario gets a gunicorn of
its own and a fresh key prefix, so its rate limits and loads start at zero. Everything
comes from 127.0.0.1: one client, one keyed hash of its address.

0. The form's first-visit weight, before any flood (a quiet commune): Chromium loads
   `/gui-tin?xa=<commune>` with an empty cache and every response body is counted as the
   server sent it (gunicorn's access log: compressed where the app compresses, in the
   encoding the browser asked for), the page's own cross-checked with Chromium's figures
   (which add the headers): first with service workers blocked (as
   bench/lighthouse/run.py measures), then with the service worker, whose installation
   fetches its own files. The puzzle's answer at that moment is checked: none asked.
A. `--posts` posts as fast as `--connections` connections can send them, no puzzle, the
   default limits (TIPLINE_SUBMIT_LIMIT 20 per hour): accepted (200), refused (429), how
   many of the accepted are held (`tips.held`), and the rate of accepted submissions.
B. A bot that solves every puzzle it is asked for with Python's hashlib (the prefix hashed
   once; one core), the submission limit raised so that only the puzzle slows it: for
   `--duration` seconds it asks `GET /gui-tin/cau-do`, solves, posts. Accepted per
   second, held, the difficulty reached, and the time per solve at each difficulty.
C. As A with the limit raised: the puzzle is the only brake and the bot ignores it: how
   many land held and how many not.

Exit status 1 on a 5xx, a connection error or an accepted post without a receipt; 2 on a
setup failure. Figures are also written as JSON to bench/out/ (ignored by git).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from http.client import HTTPException
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load  # noqa: E402 - bench/load.py, next to this file
from screenshots import ARGS  # noqa: E402 - Chromium as bench/screenshots.py runs it

DEFAULT_LIMIT = "20 per hour"  # config.py's TIPLINE_SUBMIT_LIMIT
WEIGHT_BUDGET = 50 * 1024
# config.py's defaults for the difficulty (TIPLINE_PUZZLE_*): the projection uses them.
CLIENT_PER_HOUR, BASE_BITS, MAX_BITS = 3, 16, 24


# ----------------------------------------------------------------------------- client


class Bot:
    """One client's posts: the form's fields, optionally a solved puzzle."""

    def __init__(self, port: int, commune: str, villages: list[str], categories: list[str]):
        self.port = port
        self.commune = commune
        self.villages = villages
        self.categories = categories
        origin = f"http://{load.HOST}:{port}"
        self.headers = {"Origin": origin, "Sec-Fetch-Site": "same-origin"}

    def fields(self, index: int) -> dict[str, str]:
        return {
            "submission_key": secrets.token_urlsafe(18),
            "photo_token": "",
            "village": self.villages[index % len(self.villages)],
            "category": self.categories[index % len(self.categories)],
            "description": load.DESCRIPTIONS[index % len(load.DESCRIPTIONS)],
            "place": "",
            "occurred_on": "",
            "occurred_time": "",
            "latitude": "",
            "longitude": "",
            "identity_tier": "anonymous",
            "name": "",
            "phone": "",
        }

    def post(self, http: load.Http, index: int, solved: tuple[str, str] | None = None):
        fields = self.fields(index)
        if solved is not None:
            fields["puzzle"], fields["puzzle_answer"] = solved
        body, content_type = load.multipart(fields, None)
        headers = {**self.headers, "Content-Type": content_type}
        return http.request("POST", f"/gui-tin?xa={self.commune}", body=body, headers=headers)

    def ask(self, http: load.Http) -> dict:
        response = http.request("GET", f"/gui-tin/cau-do?xa={self.commune}")
        if response.status != 200:
            return {"status": response.status}
        return {"status": 200, **json.loads(response.body)}


def solve(puzzle: str, bits: int) -> tuple[str, int]:
    """The first n whose SHA-256("<puzzle>:<n>") starts with `bits` zero bits; (n, tries)."""
    base = hashlib.sha256(f"{puzzle}:".encode())
    whole, rest = divmod(bits, 8)
    zeros = bytes(whole)
    limit = 0xFF >> rest  # the byte after the whole zero bytes must be <= this
    n = 0
    while True:
        h = base.copy()
        h.update(str(n).encode())
        digest = h.digest()
        if digest[:whole] == zeros and (rest == 0 or digest[whole] <= limit):
            return str(n), n + 1
        n += 1


def hourly_yield(rate: float, per_post: float) -> dict:
    """Accepted tips in an hour for one client whose solver does `rate` tries a second,
    each post costing `per_post` seconds besides, at config.py's default difficulty rule
    (client threshold 3 an hour, 16 bits there, one more per doubling, at most 24)."""
    elapsed, posts, cap_after = 0.0, 0, None
    while True:
        load_share = posts / CLIENT_PER_HOUR
        bits = 0 if load_share < 1 else min(BASE_BITS + int(math.log2(load_share)), MAX_BITS)
        if bits == MAX_BITS and cap_after is None:
            cap_after = round(elapsed)
        cost = (2**bits / rate if bits else 0.0) + per_post
        if elapsed + cost > 3600:
            return {"posts": posts, "cap_after_s": cap_after, "per_post_s": per_post}
        elapsed += cost
        posts += 1


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: Counter = Counter()
        self.references: list[str] = []
        self.problems: Counter = Counter()

    def judge(self, response: load.Response | None, error: str | None = None) -> None:
        with self.lock:
            if response is None:
                self.statuses["connection error"] += 1
                self.problems[error or "connection error"] += 1
                return
            self.statuses[response.status] += 1
            if response.status == 200:
                found = load.RECEIPT_REF.search(response.text)
                if found:
                    self.references.append(found.group(1))
                else:
                    self.problems["200 without a receipt"] += 1
            elif response.status != 429:
                self.problems[f"status {response.status}"] += 1


def flood_without_puzzle(bot: Bot, posts: int, connections: int) -> tuple[Tally, float]:
    """`posts` posts over `connections` keep-alive connections, each as fast as it can."""
    tally = Tally()
    next_index = iter(range(posts))
    lock = threading.Lock()

    def body() -> None:
        http = load.Http(bot.port)
        while True:
            with lock:
                index = next(next_index, None)
            if index is None:
                break
            try:
                tally.judge(bot.post(http, index))
            except (OSError, HTTPException) as exc:
                tally.judge(None, type(exc).__name__)
        http.close()

    threads = [threading.Thread(target=body, daemon=True) for _ in range(connections)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=load.REQUEST_TIMEOUT * 3 + posts)
    return tally, time.monotonic() - started


def flood_solving(bot: Bot, duration: float) -> tuple[Tally, float, list[dict]]:
    """Ask, solve, post, until `duration` has passed (a solve under way is finished)."""
    tally = Tally()
    http = load.Http(bot.port)
    solves: list[dict] = []
    started = time.monotonic()
    index = 0
    while time.monotonic() - started < duration and index < load.MAX_ITERATIONS:
        try:
            asked = bot.ask(http)
            solved, record = None, {"bits": 0, "tries": 0, "seconds": 0.0}
            if asked["status"] == 200 and asked.get("puzzle"):
                t0 = time.perf_counter()
                answer, tries = solve(asked["puzzle"], int(asked["bits"]))
                record = {"bits": int(asked["bits"]), "tries": tries}
                record["seconds"] = time.perf_counter() - t0
                solved = (asked["puzzle"], answer)
            elif asked["status"] != 200:
                tally.problems[f"puzzle request: status {asked['status']}"] += 1
            response = bot.post(http, index, solved)
            tally.judge(response)
            record["status"] = response.status
            record["at"] = time.monotonic() - started
            solves.append(record)
        except (OSError, HTTPException) as exc:
            tally.judge(None, type(exc).__name__)
        index += 1
    http.close()
    return tally, time.monotonic() - started, solves


# ----------------------------------------------------------------------------- weight


ACCESS_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+)" (?P<status>\d{3}) (?P<bytes>\d+|-)')


def first_visit_weight(port: int, commune: str, access_log: Path) -> dict:
    """Bytes of a first visit of the form (empty cache), twice: service workers blocked,
    then allowed. Counted by the server (gunicorn's access log: each body as sent, after
    compression), the page's own requests cross-checked with what Chromium reports."""
    from playwright.sync_api import sync_playwright

    url = f"http://{load.HOST}:{port}/gui-tin?xa={commune}"
    result = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=ARGS,
        )
        try:
            for label, workers in (("page", "block"), ("page_and_service_worker", "allow")):
                offset = access_log.stat().st_size if access_log.exists() else 0
                seen = _visit(browser, url, workers)
                time.sleep(0.5)  # the access log's last lines
                served = _served_since(access_log, offset)
                result[label] = _weigh(seen, served)
        finally:
            browser.close()
    return result


def _served_since(access_log: Path, offset: int) -> list[dict]:
    with access_log.open("rb") as log:
        log.seek(offset)
        text = log.read().decode("utf-8", "replace")
    served = []
    for line in text.splitlines():
        found = ACCESS_LINE.search(line)
        if found:
            size = found["bytes"]
            served.append(
                {
                    "method": found["method"],
                    "path": found["path"],
                    "status": int(found["status"]),
                    "body": 0 if size == "-" else int(size),
                }
            )
    return served


def _visit(browser, url: str, service_workers: str) -> list[dict]:
    """What Chromium reports of the visit: the page's requests (a service worker's sizes
    are not reliable in Playwright's events, hence the access log)."""
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        service_workers=service_workers,
    )
    page = context.new_page()
    seen: list[dict] = []

    def done(request) -> None:
        try:
            sizes = request.sizes()
            response = request.response()
        except Exception:  # noqa: S112 - a request the browser dropped: nothing arrived
            return
        seen.append(
            {
                "path": urlsplit(request.url).path,
                "from": "service worker" if request.service_worker else "page",
                "status": response.status if response else None,
                "encoding": (response.headers.get("content-encoding") if response else None)
                or "identity",
                "body": sizes["responseBodySize"],
                "headers": sizes["responseHeadersSize"],
            }
        )

    context.on("requestfinished", done)
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    if service_workers == "allow":
        page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
        page.wait_for_load_state("networkidle")
        # The worker's installation fetches in its own context: let them all finish.
        deadline = time.monotonic() + 10
        count = -1
        while time.monotonic() < deadline and count != len(seen):
            count = len(seen)
            page.wait_for_timeout(1000)
    context.close()
    return seen


def _weigh(seen: list[dict], served: list[dict]) -> dict:
    page = [r for r in seen if r["from"] == "page"]
    page_paths = Counter(r["path"] for r in page)
    for row in served:
        # The page's requests, in the order served; the rest is the service worker's.
        if page_paths[row["path"]] > 0:
            page_paths[row["path"]] -= 1
            row["from"] = "page"
        else:
            row["from"] = "service worker"
        match = next(
            (r for r in seen if (r["path"], r["status"]) == (row["path"], row["status"])),
            next((r for r in seen if r["path"] == row["path"]), None),
        )
        row["encoding"] = match["encoding"] if match else "-"
    return {
        "served": served,
        "seen_by_page": page,
        "count": len(served),
        "body_bytes": sum(r["body"] for r in served),
        "page_body_bytes_in_chromium": sum(r["body"] for r in page),
        "page_header_bytes_in_chromium": sum(r["headers"] for r in page),
        "puzzle_worker_fetched": any("puzzle-worker" in r["path"] for r in served),
        "puzzle_worker_fetched_by_page": any("puzzle-worker" in r["path"] for r in page),
    }


# ----------------------------------------------------------------------------- the run


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--duration",
        type=load.bounded(5, 600),
        default=60,
        help="seconds of the solving bot (scenario B), 60",
    )
    parser.add_argument(
        "--posts", type=load.bounded(1, 5000), default=500, help="posts in A and C (500)"
    )
    parser.add_argument(
        "--connections",
        type=load.bounded(1, 32),
        default=4,
        help="concurrent keep-alive connections of the one client in A and C (4)",
    )
    parser.add_argument(
        "--scenarios", default="weight,A,B,C", help="which to run, of weight,A,B,C (all)"
    )
    parser.add_argument("--workers", type=load.bounded(1, 16), default=2)
    parser.add_argument("--threads", type=load.bounded(1, 32), default=4)
    parser.add_argument(
        "--schema", choices=["migrations", "models"], default="migrations", help="as in load.py"
    )
    parser.add_argument("--quiet-wait", type=load.bounded(0, 300), default=60)
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs)")
    parser.add_argument("--json", type=Path, default=None, help="where to write the figures")
    args = parser.parse_args(argv)
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if not args.scenarios or not set(args.scenarios) <= {"weight", "A", "B", "C"}:
        parser.error("--scenarios takes weight, A, B, C")
    return args


class Flood:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.run = load.Run(
            load.parse_args(
                [
                    "--database",
                    args.database,
                    "--workers",
                    str(args.workers),
                    "--threads",
                    str(args.threads),
                    "--schema",
                    args.schema,
                    *(["--keep"] if args.keep else []),
                ]
            )
        )
        self.failures: list[str] = []
        self.result: dict = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": args.database,
            "workers": args.workers,
            "threads": args.threads,
            "connections": args.connections,
            "posts": args.posts,
            "duration": args.duration,
            "cpus": os.cpu_count(),
            "commit": _git("rev-parse", "--short", "HEAD"),
            "uncommitted_files": len(_git("status", "--porcelain").splitlines()),
        }

    def server(self, letter: str, limit: str) -> load.Server:
        env = {
            **self.run.env,
            "RATELIMIT_KEY_PREFIX": f"{self.run.prefix}{letter}",
            "TIPLINE_SUBMIT_LIMIT": limit,
        }
        server = load.Server(f"tipline-{letter}", "wsgi:app", env, self.run.workdir, [])
        self.run.servers.append(server)
        server.wait_ready()
        return server

    def stop(self, server: load.Server) -> None:
        server.stop()
        self.run.servers.remove(server)

    def tips(self) -> tuple[int, int]:
        """(tips, held tips) in the database now."""
        with self.run.database.connect() as conn:
            row = conn.execute(
                "SELECT count(*), coalesce(sum(CASE WHEN held THEN 1 ELSE 0 END), 0) FROM tips"
            ).fetchone()
        return int(row[0]), int(row[1])

    def bot(self, server: load.Server, commune: str) -> Bot:
        http = load.Http(server.port)
        page = http.request("GET", f"/gui-tin?xa={commune}")
        http.close()
        form = next(f for f in load.scrape_forms(page.text) if "submission_key" in f["fields"])
        villages = [v for v in form["choices"].get("village", []) if v]
        categories = [c for c in form["choices"].get("category", []) if c]
        return Bot(server.port, commune, villages, categories)

    def quiet(self) -> dict:
        busy = load.wait_for_quiet(self.args.quiet_wait)
        return {"machine_busy_before": busy, "load_average_before": os.getloadavg()}

    # --- scenarios

    def weight(self, commune: str) -> None:
        server = self.server("w", DEFAULT_LIMIT)
        try:
            http = load.Http(server.port)
            asked = self.bot(server, commune).ask(http)
            http.close()
            access_log = self.run.workdir / f"access-{server.name}.log"
            figures = first_visit_weight(server.port, commune, access_log)
        finally:
            self.stop(server)
        figures["puzzle_asked"] = asked
        self.result["weight"] = figures
        page, both = figures["page"], figures["page_and_service_worker"]
        print(f"\n0. the form's first visit, /gui-tin?xa={commune} (quiet commune: {asked})")
        visits = (("page (service workers blocked)", page), ("with its service worker", both))
        for label, visit in visits:
            if visit["puzzle_worker_fetched_by_page"]:
                solver = "by the page"
            elif visit["puzzle_worker_fetched"]:
                solver = "by the service worker only"
            else:
                solver = "no"
            print(
                f"  {label}: {visit['count']} requests, {visit['body_bytes'] / 1024:.1f} KB "
                f"of bodies as sent (budget {WEIGHT_BUDGET // 1024} KB); the page's own in "
                f"Chromium: {visit['page_body_bytes_in_chromium'] / 1024:.1f} KB of bodies + "
                f"{visit['page_header_bytes_in_chromium'] / 1024:.1f} KB of headers; "
                f"puzzle-worker.js fetched: {solver}"
            )
            for r in visit["served"]:
                print(
                    f"    {r['from']:<15}{r['method']:<5}{r['status']:>4} {r['encoding']:<9}"
                    f"{r['body']:>8}  {r['path']}"
                )
        if page["puzzle_worker_fetched_by_page"] or both["puzzle_worker_fetched_by_page"]:
            self.failures.append("the form page fetched puzzle-worker.js at a quiet commune")
        if asked.get("bits"):
            self.failures.append("a puzzle was asked at a quiet commune")

    def without_puzzle(self, letter: str, limit: str, commune: str) -> None:
        args = self.args
        server = self.server(letter, limit)
        try:
            bot = self.bot(server, commune)
            before = self.tips()
            state = self.quiet()
            hour = int(time.time() // 3600)
            tally, wall = flood_without_puzzle(bot, args.posts, args.connections)
            crossed = int(time.time() // 3600) != hour
        finally:
            self.stop(server)
        after = self.tips()
        accepted = tally.statuses.get(200, 0)
        figures = {
            "submit_limit": limit,
            "posts": args.posts,
            "wall_s": wall,
            "statuses": {str(k): v for k, v in tally.statuses.items()},
            "accepted": accepted,
            "refused_429": tally.statuses.get(429, 0),
            "tips_added": after[0] - before[0],
            "held": after[1] - before[1],
            "not_held": (after[0] - before[0]) - (after[1] - before[1]),
            "posts_per_s": args.posts / wall,
            "accepted_per_s": accepted / wall,
            "crossed_an_hour": crossed,
            "problems": dict(tally.problems),
            **state,
        }
        self.result[letter] = figures
        what = "default limits" if letter == "A" else f"limit raised to {limit}"
        print(
            f"\n{letter}. {args.posts} posts from one client, no puzzle, {what} "
            f"({args.connections} connections, {wall:.1f} s, machine "
            f"{_pct(state['machine_busy_before'])} busy before)"
        )
        print(
            f"  accepted (200) {accepted}, refused (429) {figures['refused_429']}, other "
            f"{args.posts - accepted - figures['refused_429']}; of the accepted: held "
            f"{figures['held']}, not held {figures['not_held']}"
        )
        print(
            f"  {figures['posts_per_s']:.1f} posts/s sent, {figures['accepted_per_s']:.1f} "
            f"accepted/s; tips added {figures['tips_added']}"
            + ("; the run crossed an hour (client key renewed)" if crossed else "")
        )
        self._check(tally, figures, letter)

    def solving(self, commune: str) -> None:
        args = self.args
        server = self.server("B", load.HIGH_LIMIT)
        try:
            bot = self.bot(server, commune)
            before = self.tips()
            state = self.quiet()
            hour = int(time.time() // 3600)
            tally, wall, solves = flood_solving(bot, args.duration)
            crossed = int(time.time() // 3600) != hour
        finally:
            self.stop(server)
        after = self.tips()
        accepted = tally.statuses.get(200, 0)
        by_bits: dict[int, dict] = {}
        for record in solves:
            row = by_bits.setdefault(record["bits"], {"posts": 0, "tries": 0, "seconds": 0.0})
            row["posts"] += 1
            row["tries"] += record["tries"]
            row["seconds"] += record["seconds"]
        tries = sum(r["tries"] for r in solves)
        seconds = sum(r["seconds"] for r in solves)
        rate = tries / seconds if seconds else None
        top = max(by_bits) if by_bits else 0
        last_minute = [r for r in solves if r.get("status") == 200 and r["at"] >= wall - 60]
        figures = {
            "submit_limit": load.HIGH_LIMIT,
            "wall_s": wall,
            "statuses": {str(k): v for k, v in tally.statuses.items()},
            "accepted": accepted,
            "accepted_per_s": accepted / wall,
            "tips_added": after[0] - before[0],
            "held": after[1] - before[1],
            "bits_reached": top,
            "solver_tries_per_s": rate,
            "solving_share": seconds / wall,
            "by_bits": {str(b): row for b, row in sorted(by_bits.items())},
            "accepted_last_60s": len(last_minute),
            "at_max_bits_expected_s": 2**MAX_BITS / rate if rate else None,
            "crossed_an_hour": crossed,
            "problems": dict(tally.problems),
            **state,
        }
        self.result["B"] = figures
        print(
            f"\nB. one client solving every puzzle with Python's hashlib (one core), limit "
            f"raised, {wall:.1f} s (machine {_pct(state['machine_busy_before'])} busy before)"
        )
        print(
            f"  accepted {accepted} ({accepted / wall:.2f}/s; {len(last_minute)} in the last "
            f"60 s), held {figures['held']}; difficulty reached {top} bits; solver "
            f"{(rate or 0) / 1e6:.2f} M tries/s, solving {seconds / wall:.0%} of the time"
        )
        print(f"  {'bits':>4}{'posts':>7}{'mean solve s':>14}")
        for b, row in sorted(by_bits.items()):
            print(f"  {b:>4}{row['posts']:>7}{row['seconds'] / row['posts']:>14.3f}")
        if rate:
            hour = hourly_yield(rate, per_post=(wall - seconds) / max(len(solves), 1))
            figures["projected_hour"] = hour
            print(
                f"  at the cap ({MAX_BITS} bits) a post costs this bot {2**MAX_BITS / rate:.1f} s"
                f" on average; over a whole hour, by the rule and this solver's speed: "
                f"{hour['posts']} accepted tips (cap reached after {hour['cap_after_s']} s)"
            )
        self._check(tally, figures, "B")

    def _check(self, tally: Tally, figures: dict, letter: str) -> None:
        if tally.problems:
            self.failures.append(f"{letter}: {dict(tally.problems)}")
        if figures["tips_added"] != figures["accepted"]:
            self.failures.append(
                f"{letter}: {figures['accepted']} accepted but {figures['tips_added']} tips added"
            )

    def write(self) -> None:
        self.result["failures"] = self.failures
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        default = load.OUT_DIR / f"flood-{self.args.database}-{stamp}.json"
        out = (self.args.json or default).resolve()
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(self.result, indent=2, ensure_ascii=False, default=str))
        print(f"\nfigures written to {out}")


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{share:.0%}"


def _git(*command: str) -> str:
    done = subprocess.run(
        ["git", *command], cwd=load.ROOT, capture_output=True, text=True, check=False, timeout=30
    )
    return done.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    flood = Flood(args)
    run = flood.run
    hard_limit = 300 + args.duration + 4 * (args.quiet_wait + 5) + args.posts
    print(
        f"setup: {args.database}, gunicorn {args.workers} workers x {args.threads} threads, "
        f"Redis db 14 prefix {run.prefix}; commit {flood.result['commit']} "
        f"({flood.result['uncommitted_files']} files changed in the work tree)"
    )

    def watchdog() -> None:
        print(f"\nwatchdog: still running after {hard_limit} s, stopping", file=sys.stderr)
        run.cleanup()
        os._exit(3)

    timer = threading.Timer(hard_limit, watchdog)
    timer.daemon = True
    timer.start()
    try:
        places = run.setup_database()
        commune = places["commune"]
        flood.result["commune"] = commune
        if "weight" in args.scenarios:
            flood.weight(commune)
        if "A" in args.scenarios:
            flood.without_puzzle("A", DEFAULT_LIMIT, commune)
        if "C" in args.scenarios:
            flood.without_puzzle("C", load.HIGH_LIMIT, commune)
        if "B" in args.scenarios:
            flood.solving(commune)
    except Exception as exc:
        print(f"\nsetup or run failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        for server in run.servers:
            print(f"--- {server.name} log ---\n{server.log_tail()}", file=sys.stderr)
        return 2
    finally:
        run.cleanup()
        timer.cancel()
    flood.write()
    if flood.failures:
        print("FAILED: " + "; ".join(flood.failures))
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
