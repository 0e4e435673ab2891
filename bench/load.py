"""Load test of Tipline under gunicorn, beside a bare Flask baseline (bench/bare.py).

Run it with the project's virtualenv, from any directory:

    .venv/bin/python bench/load.py --database sqlite --workers 2 --threads 4 \\
        --clients 16 --duration 30
    .venv/bin/python bench/load.py --database postgres ...

What it does, all on 127.0.0.1 and all bounded in time:

1. Its own database: a fresh SQLite file in a temp folder, or (``--database postgres``)
   a uniquely named database on postgresql://postgres@127.0.0.1:5432, dropped at the end.
   ``flask db upgrade``, ``flask tipline setup --province 38`` and a few villages plus the
   demo's ``totruong`` (village leader of ``<commune>-01``) and ``congan`` (commune police)
   accounts, made through the app's own services (``--setup demo`` runs the whole demo).
2. The bare app under the project's gunicorn.conf.py with the same workers and threads,
   loaded with GET / by the same number of clients: the baseline throughput.
3. Tipline under the same settings, its rate limits raised, Redis db 14 with a key prefix
   of its own (its keys are deleted at the end). Every client logs in as leader or police
   (CSRF token from the login page), then for ``--duration`` seconds picks operations at
   random from the mix: the form page, anonymous submissions without and with a photo,
   re-posts of a submission key (sometimes while the first post is still in flight: it
   must give back the same receipt), receipt lookups, inbox views and transitions
   (tip page, then its action form; two clients racing on one tip get 409, counted as an
   expected refusal).
4. Checks in the database that every reference handed out is one tip, that no submission
   key made two tips, that the run added exactly as many tips as distinct receipts, and
   runs ``flask tipline counters check``.

Other options: ``--setup demo`` (the whole demo, a year of tips), ``--photo FILE`` (attach
a JPEG of one's own), ``--override NAME=VALUE`` (try a setting, served through
bench/tuned.py), ``--quiet-wait`` (the machine is shared: wait for it to be mostly idle
before each measurement; the CPU use of everything else is reported either way).

Exit status 1 on any error (5xx, connection failure, unexpected status or receipt),
lost or duplicated tip, or counter difference; 2 on a setup failure.
Figures are also written as JSON to bench/out/ (ignored by git).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
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
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from http.client import HTTPConnection, HTTPException, RemoteDisconnected
from pathlib import Path
from urllib.parse import urlencode

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
HOST = "127.0.0.1"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/14"
PROVINCE = "38"
PASSWORD = "tipline-demo"  # noqa: S105 - the demo accounts' published password
LEADER, POLICE = "totruong", "congan"
HIGH_LIMIT = "100000 per hour"

REQUEST_TIMEOUT = 30.0  # seconds, per request (gunicorn's own timeout is 30 s)
READY_TIMEOUT = 40.0
MAX_ITERATIONS = 200_000  # per client, whatever the duration
MAX_DURATION = 300
MAX_CLIENTS = 128
RECENT_KEYS = 16  # re-posts pick among the newest submission keys (some still in flight)
KEPT_RECEIPTS = 5000

# mix name -> weight; "photo" is a submission with a photo.
DEFAULT_MIX = {
    "form": 5,
    "submit": 35,
    "photo": 8,
    "duplicate": 7,
    "lookup": 15,
    "inbox": 15,
    "transition": 15,
}
OP_KINDS = {"photo": "submit_photo"}
# The kinds of request reported, in this order.
KINDS = [
    "form",
    "submit",
    "submit_photo",
    "duplicate",
    "lookup",
    "inbox",
    "tip_page",
    "transition",
]
OPEN_STATUSES = {"received", "triaged", "verifying", "verified"}
# Transitions tried, in order of preference: the tip moves forward, closing at "resolve".
PROGRESS = ["triage", "start_verification", "verify", "resolve"]
STALE_MESSAGE = "vừa được người khác thay đổi"

DESCRIPTIONS = [
    "Có người lạ đi xe máy không biển số hay qua lại đầu ngõ vào buổi tối.",
    "Nhóm thanh niên tụ tập uống rượu, gây ồn ào sau 23 giờ ở nhà văn hóa thôn.",
    "Nghi có người ghi lô đề ở quán nước đầu chợ, nhiều người ra vào.",
    "Mất trộm gà trong vườn hai đêm liền, thấy dấu chân trèo tường.",
    "Xe tải chở đất làm rơi vãi ra đường liên thôn, trời mưa rất trơn.",
]


# ------------------------------------------------------------------------- statistics


@dataclass
class KindStats:
    latencies_ms: list[float] = field(default_factory=list)
    ok: int = 0
    refused: int = 0
    errors: int = 0
    notes: Counter = field(default_factory=Counter)


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.kinds: dict[str, KindStats] = {}

    def record(self, kind: str, ms: float | None, outcome: str, note: str | None = None) -> None:
        with self.lock:
            stats = self.kinds.setdefault(kind, KindStats())
            if ms is not None:
                stats.latencies_ms.append(ms)
            if outcome == "ok":
                stats.ok += 1
            elif outcome == "refused":
                stats.refused += 1
            else:
                stats.errors += 1
            if note:
                stats.notes[note] += 1


def percentile(sorted_values: list[float], share: float) -> float | None:
    if not sorted_values:
        return None
    rank = math.ceil(share * len(sorted_values))  # nearest-rank percentile
    return sorted_values[min(len(sorted_values), max(rank, 1)) - 1]


def summarize(stats: Stats, elapsed: float, kinds: list[str]) -> dict[str, dict]:
    table = {}
    for kind in kinds:
        ks = stats.kinds.get(kind)
        if ks is None:
            continue
        values = sorted(ks.latencies_ms)
        count = ks.ok + ks.refused + ks.errors
        table[kind] = {
            "count": count,
            "ok": ks.ok,
            "refused": ks.refused,
            "errors": ks.errors,
            "rps": count / elapsed if elapsed > 0 else 0.0,
            "p50_ms": percentile(values, 0.50),
            "p95_ms": percentile(values, 0.95),
            "p99_ms": percentile(values, 0.99),
            "notes": dict(ks.notes.most_common(8)),
        }
    return table


# ----------------------------------------------------------------------------- HTTP


@dataclass
class Response:
    status: int
    headers: object  # http.client.HTTPMessage
    body: bytes
    ms: float

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Http:
    """One keep-alive connection; a request that finds it closed by the server is re-sent
    once on a new one (as browsers do), which gunicorn's worker recycling makes routine."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: HTTPConnection | None = None
        self.used = False
        self.resent = 0

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.close()
        self.conn = None
        self.used = False

    def request(self, method: str, path: str, body=None, headers=None) -> Response:
        start = time.perf_counter()
        for attempt in range(2):
            if self.conn is None:
                self.conn = HTTPConnection(HOST, self.port, timeout=REQUEST_TIMEOUT)
                self.used = False
            reused = self.used
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                raw = self.conn.getresponse()
                data = raw.read()
            except (RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self.close()
                if attempt == 0 and reused:
                    self.resent += 1
                    continue
                raise exc
            except (OSError, HTTPException):
                self.close()
                raise
            if raw.will_close:
                self.close()
            else:
                self.used = True
            return Response(raw.status, raw.msg, data, (time.perf_counter() - start) * 1000)
        raise ConnectionError("unreachable")  # the loop always returns or raises


class FormScraper(HTMLParser):
    """The forms of a page: action, hidden/text values, radio values, select options."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "fields": {}, "choices": {}})
            return
        if not self.forms:
            return
        form = self.forms[-1]
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind == "radio":
                form["choices"].setdefault(a["name"], []).append(a.get("value", ""))
            elif kind not in {"checkbox", "file", "submit"}:
                form["fields"][a["name"]] = a.get("value", "")
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
            form["choices"].setdefault(self._select, [])
        elif tag == "option" and self._select is not None:
            form["choices"][self._select].append(a.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def scrape_forms(html: str) -> list[dict]:
    parser = FormScraper()
    parser.feed(html)
    return parser.forms


RECEIPT_REF = re.compile(r'id="reference">\s*([^<\s]+)\s*<')
RECEIPT_CODE = re.compile(r'id="follow-up-code">\s*([^<\s]+)\s*<')
INBOX_TIP = re.compile(r'href="/staff/tips/([^"/]+)".*?class="status status-([a-z_]+)"', re.S)
ERROR_TEXT = re.compile(r'<p class="error"[^>]*>([^<]+)<')


def multipart(fields: dict[str, str], photo: bytes | None) -> tuple[bytes, str]:
    boundary = "----tiplinebench" + secrets.token_hex(12)
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    # A browser sends the file part even when no file is chosen (empty filename).
    filename, content_type = ("photo.jpg", "image/jpeg") if photo else ("", "text/plain")
    parts.append(
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; '
            f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
        ).encode()
        + (photo or b"")
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def make_photo() -> bytes:
    """A 1280x960 JPEG of 100-300 KB (gradients, blurred noise and a fractal)."""
    from PIL import Image, ImageFilter

    w, h = 1280, 960
    red = Image.linear_gradient("L").resize((w, h))
    green = Image.effect_noise((w, h), 60).filter(ImageFilter.GaussianBlur(1.2))
    blue = Image.effect_mandelbrot((w, h), (-2.0, -1.2, 0.8, 1.2), 60)
    img = Image.merge("RGB", (red, green, blue))
    data = b""
    for quality in (85, 75, 65, 55, 45):
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=quality)
        data = buf.getvalue()
        if len(data) <= 300_000:
            break
    return data


# ------------------------------------------------------------------------ the load


class Shared:
    """What the clients share: the receipts handed out and the keys to re-post."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.receipt_by_key: dict[str, tuple[str, str]] = {}
        self.key_by_reference: dict[str, str] = {}
        self.receipts: deque[tuple[str, str]] = deque(maxlen=KEPT_RECEIPTS)
        self.recent: deque[tuple[str, bytes, str]] = deque(maxlen=RECENT_KEYS)
        self.keys_sent: set[str] = set()
        self.unknown_outcome: set[str] = set()  # keys whose post got no answer
        self.reposts_in_flight = 0  # re-posts sent before the first post had its receipt
        self.anomalies: Counter = Counter()

    def offer(self, key: str, body: bytes, content_type: str) -> None:
        with self.lock:
            self.keys_sent.add(key)
            self.recent.append((key, body, content_type))

    def pick_recent(self, rng: random.Random) -> tuple[str, bytes, str] | None:
        with self.lock:
            return rng.choice(self.recent) if self.recent else None

    def pick_receipt(self, rng: random.Random) -> tuple[str, str] | None:
        with self.lock:
            return rng.choice(self.receipts) if self.receipts else None

    def register(self, key: str, reference: str, code: str) -> str | None:
        """Record a receipt; returns what is wrong with it, if anything."""
        with self.lock:
            self.unknown_outcome.discard(key)
            known = self.receipt_by_key.get(key)
            if known is not None:
                if known != (reference, code):
                    return "re-post gave a different receipt"
                return None
            other = self.key_by_reference.get(reference)
            if other is not None and other != key:
                return "one reference for two submission keys"
            self.receipt_by_key[key] = (reference, code)
            self.key_by_reference[reference] = key
            self.receipts.append((reference, code))
            return None


@dataclass
class Target:
    port: int
    commune: str
    villages: list[str]
    categories: list[str]
    photo: bytes


class Client:
    def __init__(self, index: int, target: Target, stats: Stats, shared: Shared, seed: int):
        self.index = index
        self.target = target
        self.stats = stats
        self.shared = shared
        self.rng = random.Random(seed * 1000 + index)
        self.http = Http(target.port)
        self.username = LEADER if index % 2 == 0 else POLICE
        self.cookies: dict[str, str] = {}
        self.candidates: list[str] = []
        self.logged_in = False
        self.skipped = Counter()
        origin = f"http://{HOST}:{target.port}"
        self.public_headers = {"Origin": origin, "Sec-Fetch-Site": "same-origin"}

    # --- plumbing

    def call(self, kind: str, method: str, path: str, *, body=None, headers=None, staff=False):
        headers = dict(headers or {})
        if staff and self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        start = time.perf_counter()
        try:
            response = self.http.request(method, path, body=body, headers=headers)
        except (OSError, HTTPException) as exc:
            ms = (time.perf_counter() - start) * 1000
            self.stats.record(kind, ms, "error", f"connection: {type(exc).__name__}")
            return None
        cookies = response.headers.get_all("Set-Cookie") or []
        if staff:
            self._keep_cookies(cookies)
        elif cookies:
            self.shared.anomalies["a resident page set a cookie"] += 1
        return response

    def _keep_cookies(self, headers: list[str]) -> None:
        for header in headers:
            pair, _, attributes = header.partition(";")
            name, _, value = pair.strip().partition("=")
            expired = "max-age=0" in attributes.lower() or "1970" in attributes
            if not value or expired:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value

    def judge(self, kind: str, response: Response | None, expected: set[int]) -> bool:
        """Record a response: True when its status is one of `expected`."""
        if response is None:
            return False
        if response.status in expected:
            self.stats.record(kind, response.ms, "ok")
            return True
        note = f"status {response.status}"
        if response.status == 422:
            errors = ERROR_TEXT.findall(response.text)
            note += f": {errors[0].strip()[:80]}" if errors else ""
        self.stats.record(kind, response.ms, "error", note)
        return False

    # --- staff session

    def login(self) -> bool:
        page = self.call("login_page", "GET", "/staff/login", staff=True)
        if not self.judge("login_page", page, {200}):
            return False
        forms = [f for f in scrape_forms(page.text) if "csrf_token" in f["fields"]]
        if not forms:
            self.stats.record("login", None, "error", "no csrf_token on the login page")
            return False
        fields = {
            "csrf_token": forms[0]["fields"]["csrf_token"],
            "next": "",
            "username": self.username,
            "password": PASSWORD,
        }
        response = self.call(
            "login",
            "POST",
            "/staff/login",
            body=urlencode(fields),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            staff=True,
        )
        self.logged_in = self.judge("login", response, {302, 303}) and "session" in self.cookies
        return self.logged_in

    # --- operations

    def run_op(self, op: str) -> None:
        if op == "form":
            self.op_form()
        elif op == "submit":
            self.op_submit(photo=False)
        elif op == "photo":
            self.op_submit(photo=True)
        elif op == "duplicate":
            self.op_duplicate()
        elif op == "lookup":
            self.op_lookup()
        elif op == "inbox":
            self.op_inbox()
        elif op == "transition":
            self.op_transition()
        elif op == "bare":
            self.judge("bare", self.call("bare", "GET", "/"), {200})

    def op_form(self) -> None:
        response = self.call("form", "GET", f"/gui-tin?xa={self.target.commune}")
        self.judge("form", response, {200})

    def op_submit(self, *, photo: bool) -> None:
        rng = self.rng
        key = secrets.token_urlsafe(18)
        fields = {
            "submission_key": key,
            "photo_token": "",
            "village": rng.choice(self.target.villages),
            "category": rng.choice(self.target.categories),
            # One to three sentences: the photo's offset in the body varies, as in real use.
            "description": " ".join(rng.sample(DESCRIPTIONS, rng.randint(1, 3))),
            "place": "",
            "occurred_on": "",
            "occurred_time": "",
            "latitude": "",
            "longitude": "",
            "identity_tier": "anonymous",
            "name": "",
            "phone": "",
        }
        body, content_type = multipart(fields, self.target.photo if photo else None)
        # Offered before it is sent: another client may re-post it while this one waits.
        self.shared.offer(key, body, content_type)
        self._post_submission("submit_photo" if photo else "submit", key, body, content_type)

    def op_duplicate(self) -> None:
        recent = self.shared.pick_recent(self.rng)
        if recent is None:
            self.op_submit(photo=False)
            return
        key, body, content_type = recent
        with self.shared.lock:
            if key not in self.shared.receipt_by_key:
                self.shared.reposts_in_flight += 1
        self._post_submission("duplicate", key, body, content_type)

    def _post_submission(self, kind: str, key: str, body: bytes, content_type: str) -> None:
        headers = {**self.public_headers, "Content-Type": content_type}
        path = f"/gui-tin?xa={self.target.commune}"
        response = self.call(kind, "POST", path, body=body, headers=headers)
        if response is None or response.status >= 500:
            with self.shared.lock:
                if key not in self.shared.receipt_by_key:
                    self.shared.unknown_outcome.add(key)
        if not self.judge(kind, response, {200}):
            return
        reference = RECEIPT_REF.search(response.text)
        code = RECEIPT_CODE.search(response.text)
        if not (reference and code):
            self._downgrade(kind, "200 without a receipt")
            return
        problem = self.shared.register(key, reference.group(1), code.group(1))
        if problem:
            self._downgrade(kind, problem)

    def _downgrade(self, kind: str, note: str) -> None:
        """Turn the last 'ok' of `kind` into an error (the receipt was wrong)."""
        with self.stats.lock:
            ks = self.stats.kinds[kind]
            ks.ok -= 1
            ks.errors += 1
            ks.notes[note] += 1

    def op_lookup(self) -> None:
        receipt = self.shared.pick_receipt(self.rng)
        if receipt is None:
            self.op_form()
            return
        reference, code = receipt
        body = urlencode({"reference": reference, "code": code})
        headers = {**self.public_headers, "Content-Type": "application/x-www-form-urlencoded"}
        response = self.call("lookup", "POST", "/tra-cuu", body=body, headers=headers)
        if self.judge("lookup", response, {200}) and reference not in response.text:
            self._downgrade("lookup", "status page without the reference")

    def op_inbox(self) -> None:
        response = self.call("inbox", "GET", "/staff/", staff=True)
        if not self.judge("inbox", response, {200}):
            return
        tips = INBOX_TIP.findall(response.text)
        # The newest open tips: every client of a role sees the same few, so they race.
        self.candidates = [public_id for public_id, status in tips if status in OPEN_STATUSES][:4]

    def op_transition(self) -> None:
        if not self.candidates:
            self.op_inbox()
            if not self.candidates:
                self.skipped["no open tip in the inbox"] += 1
                return
        public_id = self.rng.choice(self.candidates)
        page = self.call("tip_page", "GET", f"/staff/tips/{public_id}", staff=True)
        if not self.judge("tip_page", page, {200}):
            self.candidates.remove(public_id)
            return
        act_path = f"/staff/tips/{public_id}/act"
        forms = {
            f["fields"].get("action"): f
            for f in scrape_forms(page.text)
            if f["action"] == act_path and f["fields"].get("action")
        }
        action = next((a for a in PROGRESS if a in forms), None)
        if action is None:
            self.candidates.remove(public_id)
            self.skipped["tip page without a forward action"] += 1
            return
        form = forms[action]
        fields = {
            "csrf_token": form["fields"].get("csrf_token", ""),
            "action": action,
            "version": form["fields"].get("version", ""),
            "note": "",
        }
        if action == "resolve":
            outcomes = [o for o in form["choices"].get("outcome", []) if o]
            fields["outcome"] = self.rng.choice(outcomes) if outcomes else ""
            # Closing owes the tipster a note.
            fields["note"] = "Đã giải quyết xong."
            fields["note_to_tipster"] = "y"
        response = self.call(
            "transition",
            "POST",
            act_path,
            body=urlencode(fields),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            staff=True,
        )
        if response is None:
            return
        if response.status == 409 and STALE_MESSAGE in response.text:
            self.stats.record("transition", response.ms, "refused", "409 changed by someone else")
            return
        self.judge("transition", response, {302, 303})
        if action == "resolve" and public_id in self.candidates:
            self.candidates.remove(public_id)


def run_clients(
    target: Target,
    *,
    clients: int,
    duration: float,
    mix: dict[str, int],
    stats: Stats,
    shared: Shared,
    seed: int,
    login: bool,
) -> tuple[float, float, list[Client]]:
    """Run the clients; returns (wall seconds of the timed part, client CPU seconds, clients)."""
    workers = [Client(i, target, stats, shared, seed) for i in range(clients)]
    ops, weights = list(mix), list(mix.values())
    ready = threading.Barrier(clients + 1, timeout=READY_TIMEOUT + 60)
    start_at: list[float] = []

    def body(client: Client) -> None:
        try:
            if login:
                client.login()
            ready.wait()
        except threading.BrokenBarrierError:
            return
        ready.wait()
        deadline = start_at[0] + duration
        for _ in range(MAX_ITERATIONS):
            if time.monotonic() >= deadline:
                break
            op = client.rng.choices(ops, weights)[0]
            if op in {"inbox", "transition"} and not client.logged_in:
                client.skipped["staff operation without a session"] += 1
                op = "form"
            try:
                client.run_op(op)
            except Exception as exc:  # a bug in the bench must not end the run silently
                kind = OP_KINDS.get(op, op)
                stats.record(kind, None, "error", f"client exception: {type(exc).__name__}: {exc}")
        client.http.close()

    threads = [threading.Thread(target=body, args=(c,), daemon=True) for c in workers]
    for thread in threads:
        thread.start()
    ready.wait()  # everyone logged in (the logins are not part of the timed window)
    cpu0 = time.process_time()
    start_at.append(time.monotonic())
    ready.wait()
    for thread in threads:
        thread.join(timeout=duration + REQUEST_TIMEOUT * 2 + 10)
    wall = time.monotonic() - start_at[0]
    return wall, time.process_time() - cpu0, workers


# ---------------------------------------------------------------- processes, setup


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    try:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
    except OSError:
        return 0, 0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


def wait_for_quiet(max_wait: float, busy_limit: float = 0.35) -> float | None:
    """Wait (at most `max_wait` s) until the shared machine is mostly idle; returns the
    last 2-second busy share seen (all cores), so the report can say what else ran."""
    deadline = time.monotonic() + max_wait
    busy = None
    while True:
        before = cpu_times()
        time.sleep(2)
        busy = machine_busy(before, cpu_times())
        if busy is None or busy <= busy_limit or time.monotonic() >= deadline:
            return busy
        print(f"  machine {busy:.0%} busy before the measurement: waiting...", flush=True)
        time.sleep(3)


def proc_tree_cpu(pid: int) -> float:
    """CPU seconds used so far by `pid` and its live children (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


class Server:
    """A gunicorn master we started (its own process group), with its log in a file."""

    def __init__(self, name: str, app: str, env: dict, workdir: Path, extra: list[str]):
        self.name = name
        self.port = free_port()
        self.log_path = workdir / f"gunicorn-{name}.log"
        env = {
            **env,
            "GUNICORN_BIND": f"{HOST}:{self.port}",
            "GUNICORN_ACCESS_LOG": str(workdir / f"access-{name}.log"),
            "GUNICORN_LOG_LEVEL": "info",
        }
        command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")]
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [*command, *extra, app],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.cpu_seconds: float | None = None

    def wait_ready(self) -> str:
        deadline = time.monotonic() + READY_TIMEOUT
        paths = ["/healthz", "/"]
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name}: gunicorn exited\n{self.log_tail()}")
            for path in list(paths):
                try:
                    conn = HTTPConnection(HOST, self.port, timeout=5)
                    conn.request("GET", path)
                    status = conn.getresponse().status
                    conn.close()
                except OSError:
                    break
                if status == 200:
                    return path
                if status == 404 and path == "/healthz":
                    paths.remove(path)  # no health check in this version: GET / instead
            time.sleep(0.2)
        raise RuntimeError(f"{self.name}: not ready after {READY_TIMEOUT:.0f} s\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def worker_boots(self) -> int:
        return self.log_tail(100_000).count("Booting worker")

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL to its own group; keeps the tree's CPU seconds."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGTERM)
            deadline = time.monotonic() + 25
            while time.monotonic() < deadline:
                pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
                if pid:
                    # The master's usage includes the workers it reaped.
                    self.cpu_seconds = usage.ru_utime + usage.ru_stime
                    self.proc.returncode = os.waitstatus_to_exitcode(status)
                    break
                time.sleep(0.1)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()


def run_command(args: list[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


CREATE_ALL_SNIPPET = r"""
from tipline import create_app
from tipline.extensions import db

with create_app().app_context():
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    db.create_all()
"""

SEED_SNIPPET = r"""
import json
from sqlalchemy import select
from tipline import create_app
from tipline.accounts.models import Role
from tipline.accounts.services import create_user, grant, user_by_username
from tipline.extensions import db
from tipline.places.models import Unit, UnitLevel
from tipline.places.services import get_or_add_unit

app = create_app()
with app.app_context():
    root = db.session.scalar(select(Unit).where(Unit.code == app.config["TIPLINE_ROOT_UNIT"]))
    # The demo's focus commune: the first by code.
    focus = db.session.scalars(
        select(Unit).where(Unit.parent_id == root.id).order_by(Unit.code)
    ).first()
    villages = [
        get_or_add_unit(
            code=f"{focus.code}-{n:02d}", name=f"Tổ dân phố {n}", level=UnitLevel.VILLAGE,
            kind="tổ dân phố", parent=focus,
        )
        for n in range(1, 7)
    ]
    for username, name, role, unit in [
        ("totruong", "Nguyễn Văn Tổ Trưởng", Role.VILLAGE_LEADER, villages[0]),
        ("congan", "Trần Thị Công An", Role.COMMUNE_POLICE, focus),
    ]:
        user = user_by_username(username) or create_user(username, name, "tipline-demo")
        grant(user, role, unit)
    db.session.commit()
    print(json.dumps({"commune": focus.code, "village": villages[0].code}))
"""


class Database:
    def __init__(self, kind: str, workdir: Path):
        self.kind = kind
        self.name: str | None = None
        if kind == "sqlite":
            self.path = workdir / "tipline.db"
            self.url = f"sqlite:///{self.path}"
        else:
            self.name = f"tipline_bench_{os.getpid()}_{secrets.token_hex(4)}"
            self.url = f"postgresql+psycopg://postgres@{HOST}:5432/{self.name}"

    def create(self) -> None:
        if self.kind == "postgres":
            import psycopg
            from psycopg import sql

            with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))

    def drop(self) -> None:
        if self.kind == "postgres" and self.name:
            import psycopg
            from psycopg import sql

            with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(self.name)
                    )
                )

    @contextlib.contextmanager
    def connect(self):
        if self.kind == "sqlite":
            import sqlite3

            conn = sqlite3.connect(self.path, timeout=30)
            try:
                yield conn
            finally:
                conn.close()
        else:
            import psycopg

            with psycopg.connect(
                f"postgresql://postgres@{HOST}:5432/{self.name}", connect_timeout=5
            ) as conn:
                yield conn

    def tip_count(self) -> int:
        with self.connect() as conn:
            return conn.execute("SELECT count(*) FROM tips").fetchone()[0]

    def check(self, references: set[str], tips_before: int) -> dict:
        refs = sorted(references)
        with self.connect() as conn:
            if self.kind == "sqlite":
                conn.execute("CREATE TEMP TABLE bench_refs (reference TEXT PRIMARY KEY)")
                conn.executemany("INSERT INTO bench_refs VALUES (?)", [(r,) for r in refs])
                rows = conn.execute(
                    "SELECT b.reference, count(t.id) FROM bench_refs b "
                    "LEFT JOIN tips t ON t.reference = b.reference GROUP BY b.reference"
                ).fetchall()
            else:
                rows = conn.execute(
                    "SELECT r, (SELECT count(*) FROM tips t WHERE t.reference = r) "
                    "FROM unnest(%s::text[]) AS r",
                    (refs,),
                ).fetchall()
            repeated_keys = conn.execute(
                "SELECT count(*) FROM (SELECT submission_key FROM tips "
                "GROUP BY submission_key HAVING count(*) > 1) AS d"
            ).fetchone()[0]
            tips_after = conn.execute("SELECT count(*) FROM tips").fetchone()[0]
        found = Counter(n for _, n in rows)
        return {
            "references_received": len(refs),
            "references_found_once": found.get(1, 0),
            "references_missing": found.get(0, 0),
            "references_found_more_than_once": sum(v for k, v in found.items() if k > 1),
            "submission_keys_with_several_tips": repeated_keys,
            "tips_added": tips_after - tips_before,
        }


def flush_redis_prefix(prefix: str) -> int:
    try:
        import redis
    except ImportError:
        return 0
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
        keys = list(client.scan_iter(match=f"*{prefix}*", count=500))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
        return len(keys)
    except Exception as exc:  # Redis down: nothing of ours to delete
        print(f"redis cleanup skipped: {exc}", file=sys.stderr)
        return 0


# -------------------------------------------------------------------------- report


def fmt(value, digits=1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_table(title: str, table: dict[str, dict], bare_rps: float | None) -> None:
    print(f"\n{title}")
    header = (
        f"{'kind':<13}{'count':>8}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'errors':>8}{'refused':>9}{'x bare':>9}"
    )
    print(header)
    print("-" * len(header))
    for kind, row in table.items():
        ratio = row["rps"] / bare_rps if bare_rps and row["rps"] is not None else None
        print(
            f"{kind:<13}{row['count']:>8}{fmt(row['rps']):>9}{fmt(row['p50_ms']):>9}"
            f"{fmt(row['p95_ms']):>9}{fmt(row['p99_ms']):>9}{row['errors']:>8}"
            f"{row['refused']:>9}{fmt(ratio, 3):>9}"
        )
    for kind, row in table.items():
        if row["notes"]:
            print(f"  {kind}: {row['notes']}")


def parse_mix(text: str | None) -> dict[str, int]:
    if not text:
        return dict(DEFAULT_MIX)
    mix = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        name = name.strip()
        if name not in DEFAULT_MIX:
            raise argparse.ArgumentTypeError(f"unknown operation {name!r} in --mix")
        mix[name] = int(weight or 1)
    if not any(mix.values()):
        raise argparse.ArgumentTypeError("--mix needs a positive weight")
    return {k: v for k, v in mix.items() if v > 0}


def bounded(low: int, high: int):
    def check(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return value

    return check


def config_line(text: str) -> tuple[str, object]:
    name, _, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not name.isidentifier() or not value:
        raise argparse.ArgumentTypeError(f"wants NAME=VALUE, not {text!r}")
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value  # a plain string


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--clients", type=bounded(1, MAX_CLIENTS), default=16, help="concurrent clients (16)"
    )
    parser.add_argument(
        "--duration", type=bounded(1, MAX_DURATION), default=30, help="seconds of load (30)"
    )
    parser.add_argument(
        "--bare-duration", type=bounded(1, 60), default=10, help="seconds on bench/bare.py (10)"
    )
    parser.add_argument(
        "--workers", type=bounded(1, 16), default=2, help="GUNICORN_WORKERS for both apps (2)"
    )
    parser.add_argument(
        "--threads",
        type=bounded(1, 32),
        default=4,
        help="GUNICORN_THREADS for both apps (4; 1 means the sync worker)",
    )
    parser.add_argument(
        "--mix",
        type=parse_mix,
        default=None,
        help="weights, e.g. 'submit=35,photo=8,duplicate=7,lookup=15,inbox=15,transition=15,"
        "form=5' (the default)",
    )
    parser.add_argument(
        "--setup",
        choices=["quick", "demo"],
        default="quick",
        help="quick: province, categories, 6 villages, 2 accounts (seconds); "
        "demo: `flask tipline demo`, a year of tips (about a minute)",
    )
    parser.add_argument(
        "--photo",
        type=Path,
        default=None,
        help="a JPEG to attach instead of the generated 1280x960 one (~240 KB)",
    )
    parser.add_argument(
        "--override",
        type=config_line,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting to try without editing the app (value in JSON, else a string), "
        "e.g. MAX_FORM_MEMORY_SIZE=262144; served through bench/tuned.py",
    )
    parser.add_argument(
        "--quiet-wait",
        type=bounded(0, 300),
        default=60,
        help="before each measurement, wait up to this many seconds for the shared machine "
        "to be mostly idle (default 60)",
    )
    parser.add_argument(
        "--schema",
        choices=["migrations", "models"],
        default="migrations",
        help="migrations: `flask db upgrade` (the default); models: create the tables from "
        "the models and stamp the head revision (while someone's models are ahead of their "
        "migration)",
    )
    parser.add_argument("--seed", type=int, default=1, help="of the clients' random choices")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs)")
    parser.add_argument("--json", type=Path, default=None, help="where to write the figures")
    args = parser.parse_args(argv)
    if args.mix is None:
        args.mix = dict(DEFAULT_MIX)
    return args


# ---------------------------------------------------------------------------- main


class Run:
    """One run: its temp folder, database, servers and Redis prefix, and their cleanup."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.workdir = Path(tempfile.mkdtemp(prefix="tipline-bench-"))
        self.prefix = f"tlbench{secrets.token_hex(6)}"
        self.database = Database(args.database, self.workdir)
        self.servers: list[Server] = []
        self.cleaned = threading.Event()
        self.failures: list[str] = []
        self.env = self._environment()
        self.result: dict = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": args.database,
            "workers": args.workers,
            "threads": args.threads,
            "worker_class": "gthread" if args.threads > 1 else "sync",
            "clients": args.clients,
            "duration": args.duration,
            "bare_duration": args.bare_duration,
            "mix": args.mix,
            "setup": args.setup,
            "overrides": args.override,
            "cpus": os.cpu_count(),
            "load_average_before": os.getloadavg(),
        }

    def _environment(self) -> dict[str, str]:
        args = self.args
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TIPLINE_", "GUNICORN_"))}
        env.update(
            {
                "FLASK_APP": "wsgi.py",
                "DATABASE_URL": self.database.url,
                "UPLOAD_DIR": str(self.workdir / "uploads"),
                # Its own instance folder: no instance/config.py of the checkout is loaded.
                "TIPLINE_INSTANCE_DIR": str(self.workdir / "instance"),
                "SECRET_KEY": secrets.token_hex(32),
                "REDIS_URL": REDIS_URL,
                "RATELIMIT_KEY_PREFIX": self.prefix,
                "TIPLINE_SUBMIT_LIMIT": HIGH_LIMIT,
                "TIPLINE_FOLLOWUP_LIMIT": HIGH_LIMIT,
                "TIPLINE_LOGIN_LIMIT": HIGH_LIMIT,
                "TIPLINE_ROOT_UNIT": PROVINCE,
                "GUNICORN_WORKERS": str(args.workers),
                "GUNICORN_THREADS": str(args.threads),
                "PYTHONUNBUFFERED": "1",
            }
        )
        for name in ("GUNICORN_MAX_REQUESTS", "GUNICORN_TIMEOUT"):
            if name in os.environ:  # passed through on purpose
                env[name] = os.environ[name]
        if args.override:
            env["TIPLINE_BENCH_OVERRIDES"] = json.dumps(dict(args.override))
        return env

    def cleanup(self) -> None:
        if self.cleaned.is_set():
            return
        self.cleaned.set()
        for server in self.servers:
            with contextlib.suppress(Exception):
                server.stop()
        try:
            self.database.drop()
        except Exception as exc:
            print(f"could not drop {self.database.name}: {exc}", file=sys.stderr)
        removed = flush_redis_prefix(self.prefix)
        if removed:
            print(f"Redis: deleted {removed} keys with prefix {self.prefix}")
        if self.args.keep:
            print(f"kept {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # --- phases

    def setup_database(self) -> dict:
        started = time.monotonic()
        self.database.create()
        if self.args.schema == "models":
            created = subprocess.run(
                [sys.executable, "-c", CREATE_ALL_SNIPPET],
                cwd=ROOT,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            if created.returncode != 0:
                raise RuntimeError(f"creating the tables failed:\n{created.stderr}")
            steps = [["db", "stamp", "head"]]
        else:
            steps = [["db", "upgrade"]]
        if self.args.setup == "demo":
            steps.append(["tipline", "demo"])
        else:
            steps.append(["tipline", "setup", "--province", PROVINCE])
        for step in steps:
            done = run_command(step, self.env, timeout=300)
            if done.returncode != 0:
                raise RuntimeError(f"flask {' '.join(step)} failed:\n{done.stdout}{done.stderr}")
        seeded = subprocess.run(
            [sys.executable, "-c", SEED_SNIPPET],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if seeded.returncode != 0:
            raise RuntimeError(f"seeding accounts failed:\n{seeded.stderr}")
        places = json.loads(seeded.stdout.strip().splitlines()[-1])
        places["tips_before"] = self.database.tip_count()
        print(
            f"database {self.args.database} ready in {time.monotonic() - started:.1f} s "
            f"({places['tips_before']} tips; commune {places['commune']}, leader's village "
            f"{places['village']})"
        )
        return places

    def measure(self, server: Server, target: Target, mix: dict, duration: int, login: bool):
        stats, shared = Stats(), Shared()
        idle_busy = wait_for_quiet(self.args.quiet_wait)
        busy0, server_cpu0 = cpu_times(), proc_tree_cpu(server.proc.pid)
        wall, client_cpu, clients = run_clients(
            target,
            clients=self.args.clients,
            duration=duration,
            mix=mix,
            stats=stats,
            shared=shared,
            seed=self.args.seed,
            login=login,
        )
        busy1, server_cpu1 = cpu_times(), proc_tree_cpu(server.proc.pid)
        boots = server.worker_boots()
        server.stop()
        self.servers.remove(server)
        figures = {
            "wall_s": wall,
            "client_cpu_s": client_cpu,
            "server_cpu_s": (server.cpu_seconds or server_cpu1) - server_cpu0,
            "machine_busy_before": idle_busy,
            "machine_busy": machine_busy(busy0, busy1),
            "worker_boots": boots,
            "resent_on_closed_keepalive": sum(c.http.resent for c in clients),
            "skipped": dict(sum((c.skipped for c in clients), Counter())),
        }
        return stats, shared, figures

    def run_bare(self) -> float:
        args = self.args
        bare = Server("bare", "bare:app", self.env, self.workdir, ["--pythonpath", str(BENCH_DIR)])
        self.servers.append(bare)
        bare.wait_ready()
        target = Target(bare.port, "", [], [], b"")
        stats, _, figures = self.measure(bare, target, {"bare": 1}, args.bare_duration, False)
        table = summarize(stats, figures["wall_s"], ["bare"])
        self.result["bare"] = {**table["bare"], **figures}
        print_table(
            f"bare Flask, GET / ({args.workers} workers x {args.threads} threads, "
            f"{args.clients} clients, {figures['wall_s']:.1f} s)",
            table,
            table["bare"]["rps"],
        )
        print_cpu(figures)
        if table["bare"]["errors"]:
            self.failures.append("errors on the bare endpoint")
        return table["bare"]["rps"]

    def run_app(self, places: dict, bare_rps: float) -> Shared:
        args = self.args
        if args.override:  # bench/tuned.py: wsgi.py plus the overrides
            app = Server(
                "tipline", "tuned:app", self.env, self.workdir, ["--pythonpath", str(BENCH_DIR)]
            )
        else:
            app = Server("tipline", "wsgi:app", self.env, self.workdir, [])
        self.servers.append(app)
        ready_path = app.wait_ready()
        conn = HTTPConnection(HOST, app.port, timeout=REQUEST_TIMEOUT)
        conn.request("GET", f"/gui-tin?xa={places['commune']}")
        page = conn.getresponse().read().decode()
        conn.close()
        submit_form = next(f for f in scrape_forms(page) if "submission_key" in f["fields"])
        villages = list(submit_form["choices"].get("village", []))
        categories = [c for c in submit_form["choices"].get("category", []) if c]
        photo = args.photo.read_bytes() if args.photo else make_photo()
        self.result["photo_bytes"] = len(photo)
        print(
            f"\nTipline ready ({ready_path}); {len(villages)} village choices, "
            f"{len(categories)} categories, photo {len(photo) // 1024} KB"
        )
        target = Target(app.port, places["commune"], villages, categories, photo)
        login = bool({"inbox", "transition"} & set(args.mix))
        stats, shared, figures = self.measure(app, target, args.mix, args.duration, login)
        wall = figures["wall_s"]
        logins = summarize(stats, wall, ["login_page", "login"])
        table = summarize(stats, wall, KINDS)
        total = sum(row["count"] for row in table.values())
        for row in table.values():
            row["ratio_to_bare"] = row["rps"] / bare_rps if bare_rps else None
        self.result.update(
            {
                "logins": logins,
                "kinds": table,
                "total": {"count": total, "rps": total / wall, "ratio": total / wall / bare_rps},
                **figures,
                "anomalies": dict(shared.anomalies),
            }
        )
        if logins:
            for row in logins.values():
                row["rps"] = None  # before the timed window: no throughput
            print_table("logins (concurrent, before the timed window)", logins, None)
        print_table(
            f"Tipline on {args.database} ({args.workers} workers x {args.threads} threads, "
            f"{args.clients} clients, {wall:.1f} s)",
            table,
            bare_rps,
        )
        print(
            f"all kinds: {total} requests, {total / wall:.1f} req/s "
            f"= {total / wall / bare_rps:.3f} x bare"
        )
        print_cpu(figures)
        print(
            f"worker boots (incl. the first {args.workers}): {figures['worker_boots']}; "
            f"requests re-sent after a closed keep-alive: "
            f"{figures['resent_on_closed_keepalive']}; skipped: {figures['skipped']}; "
            f"anomalies: {self.result['anomalies'] or 'none'}"
        )
        errors = sum(row["errors"] for row in [*table.values(), *logins.values()])
        if errors:
            self.failures.append(f"{errors} errors")
        return shared

    def check_integrity(self, shared: Shared, tips_before: int) -> None:
        integrity = self.database.check(set(shared.key_by_reference), tips_before)
        integrity["submission_keys_sent"] = len(shared.keys_sent)
        integrity["submission_keys_without_answer"] = len(shared.unknown_outcome)
        integrity["reposts_sent_while_first_post_in_flight"] = shared.reposts_in_flight
        counters = run_command(["tipline", "counters", "check"], self.env, timeout=300)
        integrity["counters_check_exit"] = counters.returncode
        integrity["counters_check_output"] = (counters.stdout + counters.stderr).strip()[-2000:]
        self.result["integrity"] = integrity
        print("\nintegrity:")
        for key, value in integrity.items():
            print(f"  {key}: {value}")
        if integrity["references_missing"]:
            self.failures.append(f"{integrity['references_missing']} receipts without a tip")
        if integrity["references_found_more_than_once"]:
            self.failures.append("a reference found on several tips")
        if integrity["submission_keys_with_several_tips"]:
            self.failures.append("a submission key made several tips")
        unknown = integrity["submission_keys_without_answer"]
        added, received = integrity["tips_added"], integrity["references_received"]
        if not received <= added <= received + unknown:
            self.failures.append(f"the run added {added} tips for {received} distinct receipts")
        if counters.returncode != 0:
            self.failures.append("flask tipline counters check failed")

    def write(self) -> None:
        self.result["failures"] = self.failures
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        out = (self.args.json or OUT_DIR / f"{self.args.database}-{stamp}.json").resolve()
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(self.result, indent=2, ensure_ascii=False, default=str))
        shown = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
        print(f"\nfigures written to {shown}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import flask  # noqa: F401
        import gunicorn  # noqa: F401
    except ImportError:
        print("Run with the project's virtualenv: .venv/bin/python bench/load.py", file=sys.stderr)
        return 2

    run = Run(args)
    # Whatever happens, the run ends: a watchdog well past the expected time.
    hard_limit = (
        150
        + args.bare_duration
        + args.duration
        + 2 * (args.quiet_wait + 5)
        + (240 if args.setup == "demo" else 0)
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
        bare_rps = run.run_bare()
        shared = run.run_app(places, bare_rps)
        run.check_integrity(shared, places["tips_before"])
    except Exception as exc:
        print(f"\nsetup or run failed: {exc}", file=sys.stderr)
        for server in run.servers:
            print(f"--- {server.name} log ---\n{server.log_tail()}", file=sys.stderr)
        return 2
    finally:
        run.cleanup()
        timer.cancel()

    run.write()
    if run.failures:
        print("FAILED: " + "; ".join(run.failures))
        return 1
    print("OK: no errors, every receipt is one tip, counters match")
    return 0


def machine_busy(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    busy, total = after[0] - before[0], after[1] - before[1]
    return busy / total if total else None


def print_cpu(figures: dict) -> None:
    wall, cores = figures["wall_s"], os.cpu_count() or 1
    busy, before = figures.get("machine_busy"), figures.get("machine_busy_before")
    client, server = figures["client_cpu_s"] / wall, figures["server_cpu_s"] / wall
    # Clamped: the server's figure includes its start and stop, so this can dip below 0.
    others = max(0.0, busy * cores - client - server) if busy is not None else None
    print(
        f"CPU (of {cores} cores): machine busy {fmt(busy * 100 if busy else None, 0)}% "
        f"(before: {fmt(before * 100 if before is not None else None, 0)}%); gunicorn "
        f"{server:.2f} cores, client {client:.2f}, everything else {fmt(others, 2)} "
        f"(database server, Redis, other users of the machine)"
    )


if __name__ == "__main__":
    sys.exit(main())
