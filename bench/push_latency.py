"""Time from a resident's submit to the staff push arriving at a local push service.

    .venv/bin/python bench/push_latency.py --tips 40
    .venv/bin/python bench/push_latency.py --setups serve --tips 20

For each setup, all on 127.0.0.1, in a temp folder, bounded in time:

- ``serve``: what ``make run`` runs: ``flask tipline serve`` (Werkzeug) with its alerts
  worker as a child process, on SQLite;
- ``gunicorn``: gunicorn (gunicorn.conf.py, 2 web workers) + PostgreSQL (a database of its
  own, dropped at the end) + Redis (db 14, its keys deleted at the end) and two
  ``flask tipline worker`` processes (FOR UPDATE SKIP LOCKED between them).

A province, a commune, a village, a category and the village's leader are made through the
app's own services, with one Web Push device of the leader's: its endpoint is this
script's push receiver (a threading HTTP server that decrypts each push with the device's
keys and notes when it arrived). Then ``--tips`` anonymous tips are posted one after the
other (as the phone's outbox does: multipart, ``Accept: application/json``), each a random
0 to 1.5 idle waits after the last push arrived (any phase of the worker's wait), and the
latency is the time from the start of the
POST to the push naming that tip's reference. Baselines measured in the same run: the POST
alone (submit to receipt), and the channel's own send to the same receiver (encrypt, sign,
POST: no queue). The worker's wait when idle (TIPLINE_WORKER_IDLE_SECONDS, 2 s by default)
is in the latency: ``--idle`` tries another value.

Exit status 1 when a push does not arrive within 30 s or names the wrong tip.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from load import Database, flush_redis_prefix, multipart  # noqa: E402

VENV = ROOT / ".venv" / "bin"
HOST = "127.0.0.1"
REDIS_URL = "redis://127.0.0.1:6379/14"
ARRIVAL_TIMEOUT = 30.0

PREPARE = """
import json, sys
from tipline import create_app
from tipline.accounts.models import Role
from tipline.accounts.services import create_user, grant
from tipline.alerts import push
from tipline.extensions import db
from tipline.places.models import UnitLevel
from tipline.places.services import add_unit
from tipline.tips.models import Category

subscription = json.loads(sys.argv[1])
app = create_app()
with app.app_context():
    province = add_unit(code="T", name="Tỉnh Thử", level=UnitLevel.PROVINCE, kind="tỉnh")
    commune = add_unit(code="A", name="Xã An Bình", level=UnitLevel.COMMUNE, kind="xã",
                       parent=province)
    village = add_unit(code="A1", name="Thôn Đông", level=UnitLevel.VILLAGE, kind="thôn",
                       parent=commune)
    db.session.add(Category(code="theft", name="Trộm cắp tài sản", sort_order=0))
    leader = create_user("totruong", "Tổ trưởng", "bench-password-123")
    grant(leader, Role.VILLAGE_LEADER, village)
    db.session.flush()
    push.subscribe_staff(leader.id, push.parse_subscription(subscription))
    db.session.commit()
"""

DIRECT = """
import json, sys, time
from tipline import create_app
from tipline.alerts.channels import CHANNELS
from tipline.alerts.channels.base import Alert
from tipline.alerts import push
from tipline.extensions import db
from sqlalchemy import select

app = create_app()
times = []
with app.app_context():
    target = str(db.session.scalar(select(push.PushSubscription.id)))
    channel = CHANNELS["webpush"]
    for i in range(int(sys.argv[1])):
        alert = Alert(kind="test", title=f"direct-{i}", body="", url="http://x/staff/",
                      urgent=False, topic=f"direct-{i}", key=f"direct-{i}")
        start = time.perf_counter()
        channel.send(target, alert, timeout=10)
        times.append(time.perf_counter() - start)
print(json.dumps(times))
"""


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class Receiver:
    """The push service: decrypts each push and notes when it arrived, by title."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        self.arrivals: dict[str, float] = {}
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                at = time.perf_counter()
                plain = http_ece.decrypt(
                    body, private_key=receiver.private, auth_secret=receiver.auth
                )
                title = json.loads(plain)["title"]
                with receiver.cond:
                    receiver.arrivals.setdefault(title, at)
                    receiver.cond.notify_all()
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.origin = f"http://{HOST}:{self.server.server_address[1]}"

    def subscription(self) -> dict:
        public = self.private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": f"{self.origin}/push/{secrets.token_urlsafe(12)}",
            "keys": {"p256dh": b64(public), "auth": b64(self.auth)},
        }

    def wait_for(self, needle: str, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [at for title, at in self.arrivals.items() if needle in title]
                if found:
                    return found[0]
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_healthy(url: str, procs: list[subprocess.Popen], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"a server process exited ({proc.args[:3]})")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not become healthy in time")


def submit(url: str, description: str) -> tuple[str, float]:
    fields = {
        "submission_key": secrets.token_urlsafe(18),
        "village": "A1",
        "category": "theft",
        "description": description,
        "identity_tier": "anonymous",
        "photo_token": "",
    }
    body, content_type = multipart(fields, None)
    request = urllib.request.Request(
        f"{url}/gui-tin?xa=A",
        data=body,
        method="POST",
        headers={"Content-Type": content_type, "Accept": "application/json"},
    )
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as answer:
        data = json.loads(answer.read())
    return data["reference"], start


def pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def summary(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"p50 {pct(ms, 0.5):7.0f} ms   p95 {pct(ms, 0.95):7.0f} ms   "
        f"mean {statistics.mean(ms):7.0f} ms   max {max(ms):7.0f} ms   (n={len(ms)})"
    )


def run_setup(name: str, args: argparse.Namespace) -> dict:
    receiver = Receiver()
    work = Path(tempfile.mkdtemp(prefix=f"push-bench-{name}-"))
    database = Database("sqlite" if name == "serve" else "postgres", work)
    prefix = f"push-bench-{secrets.token_hex(4)}"
    env = dict(
        os.environ,
        TIPLINE_INSTANCE_DIR=str(work / "instance"),
        UPLOAD_DIR=str(work / "uploads"),
        DATABASE_URL=database.url,
        SECRET_KEY=secrets.token_hex(32),
        TIPLINE_ROOT_UNIT="T",
        TIPLINE_SUBMIT_LIMIT="100000 per hour",  # the limiter on, as deployed, out of the way
        TIPLINE_PUSH_SERVICE_HOSTS=receiver.origin,
        TIPLINE_WORKER_IDLE_SECONDS=str(args.idle),
        FLASK_APP="wsgi.py",
        PYTHONUNBUFFERED="1",
    )
    if name == "gunicorn":
        env.update(REDIS_URL=REDIS_URL, RATELIMIT_KEY_PREFIX=prefix)
    procs: list[subprocess.Popen] = []
    logs = []
    try:
        database.create()
        for command in (
            [str(VENV / "flask"), "db", "upgrade"],
            [str(VENV / "python"), "-c", PREPARE, json.dumps(receiver.subscription())],
        ):
            subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True, timeout=300)
        port = free_port()
        url = f"http://{HOST}:{port}"

        def start(command: list[str], label: str) -> None:
            log = open(work / f"{label}.log", "wb")  # noqa: SIM115 (closed below)
            logs.append(log)
            procs.append(
                subprocess.Popen(
                    command,
                    env=env,
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

        if name == "serve":
            start(
                [str(VENV / "flask"), "tipline", "serve", "--host", HOST, "--port", str(port)],
                "serve",
            )
        else:
            env.update(
                GUNICORN_WORKERS="2",
                GUNICORN_BIND=f"{HOST}:{port}",
                GUNICORN_ACCESS_LOG=str(work / "access.log"),
            )
            start(
                [str(VENV / "python"), "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                "gunicorn",
            )
            for i in range(2):
                start([str(VENV / "flask"), "tipline", "worker"], f"worker-{i}")
        wait_healthy(url, procs)
        submit(url, "Bài gửi khởi động, không tính.")  # first request of each process
        time.sleep(args.idle + 1)

        latencies, posts = [], []
        for i in range(args.tips):
            time.sleep(random.uniform(0, 1.5 * args.idle))  # any phase of the worker's wait
            reference, started = submit(url, f"Tin thử số {i}: có người lạ quanh xóm.")
            posts.append(time.perf_counter() - started)
            arrived = receiver.wait_for(reference, ARRIVAL_TIMEOUT)
            if arrived is None:
                raise RuntimeError(f"{name}: no push for {reference} within {ARRIVAL_TIMEOUT} s")
            latencies.append(arrived - started)
        direct = json.loads(
            subprocess.run(
                [str(VENV / "python"), "-c", DIRECT, str(args.tips)],
                env=env,
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
                timeout=300,
            ).stdout
        )
        shutil.rmtree(work, ignore_errors=True)  # kept, with the logs, when a run fails
        return {"submit_to_push": latencies, "submit_only": posts, "direct_send": direct}
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        for log in logs:
            log.close()
        database.drop()
        if name == "gunicorn":
            flush_redis_prefix(prefix)
        receiver.server.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tips", type=int, default=40)
    parser.add_argument("--setups", default="serve,gunicorn")
    parser.add_argument("--idle", type=float, default=2.0, help="TIPLINE_WORKER_IDLE_SECONDS")
    args = parser.parse_args()
    failed = False
    for name in args.setups.split(","):
        try:
            figures = run_setup(name, args)
        except RuntimeError as error:
            print(f"{name}: {error}")
            failed = True
            continue
        print(f"\n{name} (worker idle wait {args.idle:g} s)")
        print(f"  submit -> push arrives  {summary(figures['submit_to_push'])}")
        print(f"  baseline: submit alone  {summary(figures['submit_only'])}")
        print(f"  baseline: channel send  {summary(figures['direct_send'])}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
