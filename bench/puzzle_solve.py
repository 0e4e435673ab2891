"""Time to solve the form's proof of work (issue 21) in Chromium, at each difficulty.

    .venv/bin/python bench/puzzle_solve.py
    .venv/bin/python bench/puzzle_solve.py --rate 4 --bits 16-20 --trials 10 --json out.json

Serves tipline/static on 127.0.0.1 (http.server in a thread) and opens it in Debian's
Chromium through Playwright; for each CPU throttling rate (DevTools'
Emulation.setCPUThrottlingRate, as Lighthouse slows a mid-range phone 4x) and each
difficulty, solves fresh puzzles made by the app's own `puzzle.issue()` (signed tokens of
a 5-digit commune, as the form gets them) and reports the median, p90 and max time, the
hash rate (tries per second) and the expected time 2^bits / rate (a solve time is
geometric: its spread is large whatever the number of trials).

Two ways of running the same solver (tipline/static/puzzle-worker.js, unchanged):

- ``worker``: as the form does, a new Web Worker per puzzle; the time is the page's, from
  `new Worker()` to the answer (the worker's start included). Chromium's CPU throttling
  does not reach dedicated workers ("Operation is only supported for pages, not
  workers"), so this runs unthrottled only: at rate 1 by default.
- ``main``: the worker's script loaded as a classic script in the page and its `solve()`
  called on the page's own thread, where the throttling applies: the throttled figures.
  At rate 1 both run, so that the two can be compared.

Bounded: a time budget for the whole run (levels left when it is spent are reported as
skipped), a per-trial limit for the worker, and a watchdog that ends the process.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load  # noqa: E402 - bench/load.py, next to this file
from screenshots import ARGS  # noqa: E402 - Chromium as bench/screenshots.py runs it

ROOT = load.ROOT
STATIC = ROOT / "tipline" / "static"
HOST = "127.0.0.1"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# The page: the solver's script loaded as a classic script (for `main`); `worker` mode
# starts its own Worker from the same file, as tipline.js does.
PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><title>puzzle bench</title>
<script src="/puzzle-worker.js"></script></head><body>puzzle bench</body></html>"""

WORKER_JS = """async ([puzzle, bits, limitMs]) => {
  const started = performance.now();
  const worker = new Worker("/puzzle-worker.js");
  return await new Promise((ok, fail) => {
    const timer = setTimeout(() => { worker.terminate(); ok({timeout: true,
      wall: performance.now() - started}); }, limitMs);
    worker.onmessage = (event) => {
      if (event.data.answer === undefined) return;  // progress
      clearTimeout(timer);
      worker.terminate();
      ok({answer: event.data.answer, ms: event.data.ms, wall: performance.now() - started});
    };
    worker.onerror = (error) => { clearTimeout(timer); worker.terminate();
      fail(new Error(String(error.message))); };
    worker.postMessage({puzzle: puzzle, bits: bits});
  });
}"""

MAIN_JS = """([puzzle, bits]) => {
  const started = performance.now();
  const answer = solve(puzzle, bits, null);
  const ms = performance.now() - started;
  return {answer: answer, ms: ms, wall: ms};
}"""

TOKENS_SNIPPET = r"""
import json, sys
from tipline import create_app
from tipline.public import puzzle
wanted = json.loads(sys.argv[1])
app = create_app()
with app.test_request_context():
    print(json.dumps({b: [puzzle.issue(wanted["commune"], int(b)) for _ in range(n)]
                      for b, n in wanted["counts"].items()}))
"""


def default_trials(bits: int) -> int:
    if bits <= 16:
        return 20
    if bits <= 20:
        return 8
    if bits <= 21:
        return 5
    return 3


def parse_bits(text: str) -> list[int]:
    values: list[int] = []
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        values.extend(range(int(low), int(high or low) + 1))
    if not values or not all(1 <= b <= 32 for b in values):
        raise argparse.ArgumentTypeError("bits between 1 and 32, e.g. 12-24 or 12,16,20")
    return sorted(set(values))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rate",
        type=float,
        action="append",
        default=None,
        help="CPU throttling rate(s), repeatable (default: 4 then 1)",
    )
    parser.add_argument(
        "--bits", type=parse_bits, default=parse_bits("12-24"), help="difficulties (12-24)"
    )
    parser.add_argument(
        "--trials",
        type=load.bounded(1, 200),
        default=None,
        help="trials per difficulty (default: 20 up to 16 bits, 8 up to 20, 5 at 21, 3 above)",
    )
    parser.add_argument(
        "--modes",
        default="main,worker",
        help="main (solve() on the page's thread, throttled) and/or worker (a Web Worker, "
        "which the throttling does not reach: run at rate 1 only unless "
        "--worker-at-every-rate); default main,worker",
    )
    parser.add_argument("--worker-at-every-rate", action="store_true")
    parser.add_argument(
        "--puzzles",
        choices=["app", "random"],
        default="app",
        help="app: signed tokens from puzzle.issue() (default); random: 93 random "
        "URL-safe characters, as long as a real one",
    )
    parser.add_argument(
        "--budget",
        type=load.bounded(10, 3600),
        default=900,
        help="seconds for all the solving (900); levels left after it are skipped",
    )
    parser.add_argument(
        "--trial-limit",
        type=load.bounded(1, 600),
        default=120,
        help="seconds one worker trial may take before it is stopped (120)",
    )
    parser.add_argument("--quiet-wait", type=load.bounded(0, 300), default=60)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    args.rate = args.rate or [4.0, 1.0]
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not args.modes or not set(args.modes) <= {"main", "worker"}:
        parser.error("--modes takes main, worker or both")
    return args


class StaticHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def do_GET(self):
        if self.path in {"/", "/index.html"}:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)
            return
        super().do_GET()


def serve_static() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((HOST, 0), functools.partial(StaticHandler, directory=STATIC))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def plan(args: argparse.Namespace) -> list[tuple[float, str]]:
    """(rate, mode) pairs in the order they run."""
    runs = []
    for rate in args.rate:
        for mode in args.modes:
            if mode == "worker" and rate != 1 and not args.worker_at_every_rate:
                continue
            runs.append((rate, mode))
    return runs


def make_puzzles(args: argparse.Namespace, counts: dict[int, int]) -> dict[int, list[str]]:
    commune = f"{secrets.randbelow(90000) + 10000}"
    if args.puzzles == "app":
        with tempfile.TemporaryDirectory(prefix="tipline-puzzle-bench-") as folder:
            env = {k: v for k, v in os.environ.items() if not k.startswith("TIPLINE_")}
            env.update(
                {
                    "SECRET_KEY": secrets.token_hex(32),
                    "DATABASE_URL": f"sqlite:///{folder}/unused.db",
                    "TIPLINE_INSTANCE_DIR": f"{folder}/instance",
                    "UPLOAD_DIR": f"{folder}/uploads",
                    "REDIS_URL": "memory://",
                }
            )
            wanted = json.dumps(
                {"commune": commune, "counts": {str(b): n for b, n in counts.items()}}
            )
            done = subprocess.run(
                [sys.executable, "-W", "ignore", "-c", TOKENS_SNIPPET, wanted],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        if done.returncode == 0:
            tokens = json.loads(done.stdout.strip().splitlines()[-1])
            return {int(b): values for b, values in tokens.items()}
        print(f"puzzle.issue() failed, using random strings:\n{done.stderr[-800:]}")
        args.puzzles = "random"
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return {
        b: ["".join(secrets.choice(alphabet) for _ in range(93)) for _ in range(n)]
        for b, n in counts.items()
    }


def leading_zero_bits(digest: bytes) -> int:
    bits = 0
    for byte in digest:
        if byte:
            return bits + 8 - byte.bit_length()
        bits += 8
    return bits


def verify(puzzle: str, answer: str, bits: int) -> bool:
    return leading_zero_bits(hashlib.sha256(f"{puzzle}:{answer}".encode()).digest()) >= bits


def native_rate(puzzle: str, seconds: float = 1.0) -> float:
    """Tries per second of Python's hashlib (one core), with the prefix hashed once."""
    base = hashlib.sha256(f"{puzzle}:".encode())
    tried, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for n in range(tried, tried + 20000):
            h = base.copy()
            h.update(str(n).encode())
            h.digest()
        tried += 20000
    return tried / (time.perf_counter() - started)


def summarize_level(bits: int, trials: list[dict]) -> dict:
    solved = [t for t in trials if not t.get("timeout")]
    walls = sorted(t["wall"] for t in solved)
    tried = sum(int(t["answer"]) + 1 for t in solved)
    ms = sum(t["ms"] for t in solved)
    return {
        "bits": bits,
        "trials": len(trials),
        "timeouts": len(trials) - len(solved),
        "median_ms": load.percentile(walls, 0.5),
        "p90_ms": load.percentile(walls, 0.9),
        "max_ms": walls[-1] if walls else None,
        "tried": tried,
        "solve_ms": ms,
        # Below ~50 ms the division says more about timer resolution than speed.
        "rate": tried / ms * 1000 if ms >= 50 else None,
    }


def run_levels(page, cdp, rate: float, mode: str, args, puzzles, deadline: float) -> dict:
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": rate})
    levels, tried, ms = [], 0, 0.0
    for bits in args.bits:
        count = args.trials or default_trials(bits)
        trials = []
        for _ in range(count):
            if time.monotonic() >= deadline:
                break
            puzzle = puzzles[bits].pop()
            if mode == "worker":
                result = page.evaluate(WORKER_JS, [puzzle, bits, args.trial_limit * 1000])
            else:
                result = page.evaluate(MAIN_JS, [puzzle, bits])
            if not result.get("timeout") and not verify(puzzle, result["answer"], bits):
                raise RuntimeError(f"wrong answer {result['answer']} at {bits} bits")
            trials.append(result)
        if not trials:
            levels.append({"bits": bits, "trials": 0, "skipped": "time budget spent"})
            continue
        level = summarize_level(bits, trials)
        levels.append(level)
        tried += level["tried"]
        ms += level["solve_ms"]
        print(f"  rate {rate:g} {mode:<6} {bits:>2} bits: {len(trials)} trials", flush=True)
    overall = tried / ms * 1000 if ms else None
    for level in levels:
        if overall and "skipped" not in level:
            level["expected_ms"] = 2 ** level["bits"] / overall * 1000
    return {"rate": rate, "mode": mode, "hash_rate": overall, "levels": levels}


def print_run(run: dict) -> None:
    where = "Web Worker, unthrottled" if run["mode"] == "worker" else "page thread"
    print(
        f"\nCPU throttling {run['rate']:g}x, {run['mode']} ({where}): "
        f"{load.fmt(run['hash_rate'] / 1e6 if run['hash_rate'] else None, 2)} M tries/s overall"
    )
    header = (
        f"{'bits':>4}{'trials':>7}{'median ms':>11}{'p90 ms':>10}{'max ms':>10}"
        f"{'M tries/s':>11}{'expected ms':>13}"
    )
    print(header)
    print("-" * len(header))
    for level in run["levels"]:
        if "skipped" in level:
            print(f"{level['bits']:>4}{0:>7}  skipped: {level['skipped']}")
            continue
        rate = level["rate"] / 1e6 if level["rate"] else None
        note = f"  ({level['timeouts']} stopped at the limit)" if level["timeouts"] else ""
        print(
            f"{level['bits']:>4}{level['trials']:>7}{load.fmt(level['median_ms']):>11}"
            f"{load.fmt(level['p90_ms']):>10}{load.fmt(level['max_ms']):>10}"
            f"{load.fmt(rate, 2):>11}{load.fmt(level.get('expected_ms')):>13}{note}"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("Run with the project's virtualenv (Playwright)", file=sys.stderr)
        return 2
    runs = plan(args)
    counts = {b: (args.trials or default_trials(b)) * len(runs) for b in args.bits}
    state: dict = {"browser": None}
    hard_limit = args.budget + args.quiet_wait + args.trial_limit + 180

    def watchdog() -> None:
        print(f"\nwatchdog: still running after {hard_limit} s, stopping", file=sys.stderr)
        with contextlib.suppress(Exception):
            state["process"].kill()
        os._exit(3)

    timer = threading.Timer(hard_limit, watchdog)
    timer.daemon = True
    timer.start()
    result: dict = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "puzzles": args.puzzles,
    }
    puzzles = make_puzzles(args, counts)
    result["puzzles"] = args.puzzles
    result["puzzle_length"] = len(next(iter(puzzles.values()))[0])
    print(f"puzzles: {args.puzzles}, {result['puzzle_length']} characters")
    server = serve_static()
    try:
        result["machine_busy_before"] = load.wait_for_quiet(args.quiet_wait)
        result["load_average_before"] = os.getloadavg()
        busy0 = load.cpu_times()
        result["native_rate"] = native_rate(puzzles[args.bits[0]][0])
        print(f"Python hashlib, one core: {result['native_rate'] / 1e6:.2f} M tries/s")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            state["process"] = browser
            result["chromium"] = browser.version
            page = browser.new_page()
            page.goto(f"http://{HOST}:{server.server_port}/")
            cdp = page.context.new_cdp_session(page)
            deadline = time.monotonic() + args.budget
            result["runs"] = []
            for rate, mode in runs:
                run = run_levels(page, cdp, rate, mode, args, puzzles, deadline)
                result["runs"].append(run)
            browser.close()
        result["machine_busy"] = load.machine_busy(busy0, load.cpu_times())
        result["load_average_after"] = os.getloadavg()
    finally:
        server.shutdown()
        timer.cancel()
    before = load.fmt(_pct(result["machine_busy_before"]), 0)
    print(
        f"\nChromium {result['chromium']}, puzzles of {result['puzzle_length']} characters "
        f"({args.puzzles}); machine busy before {before}%,"
        f" during {load.fmt(_pct(result['machine_busy']), 0)}% of {os.cpu_count()} cores; "
        f"load average {result['load_average_before'][0]:.2f} -> "
        f"{result['load_average_after'][0]:.2f}"
    )
    for run in result["runs"]:
        print_run(run)
    native = result["native_rate"]
    print(f"\nPython hashlib (one core, prefix hashed once): {native / 1e6:.2f} M tries/s")
    for run in result["runs"]:
        if run["hash_rate"]:
            print(f"  {native / run['hash_rate']:.1f}x the {run['mode']} at rate {run['rate']:g}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
        print(f"figures written to {args.json}")
    return 0


def _pct(share: float | None) -> float | None:
    return None if share is None else share * 100


if __name__ == "__main__":
    sys.exit(main())
