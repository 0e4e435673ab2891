"""SMS intake: from a webhook arriving to its reply being queued, and the parts of each reply.

    .venv/bin/python bench/sms_intake.py
    .venv/bin/python bench/sms_intake.py --messages 300 --setups client,gunicorn

1. Parts: every reply template filled with a realistic reference and code, without marks
   (the default) and with TIPLINE_SMS_MARKS on; alone and as a first reply (with the
   sentence on privacy). Each must be at most 2 parts, the receipt 1 without marks.
2. Latency, "webhook arriving → reply queued": the webhook answers only after the tip
   and its reply are committed to the outbox, so a request's round trip is that time.
   Signed `sms:received` bodies (SMS Gateway for Android's documented format) from
   distinct numbers, each a new tip on a commune's number. Baseline in the same run and
   setup: GET /healthz (the app's cheapest route). Setups: `client` (Flask's test client,
   in process) and `gunicorn` (gunicorn.conf.py, 2 workers, over HTTP on 127.0.0.1).
   The app runs on a temporary SQLite file; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv" / "bin"
sys.path.insert(0, str(ROOT))

KEY = "bench-signing-key"
PREPARE = """
import sys
from tipline import create_app
from tipline.extensions import db
from tipline.places.models import UnitLevel
from tipline.places.services import add_unit
from tipline.sms import gateways
from tipline.tips.models import Category

app = create_app()
with app.app_context():
    province = add_unit(code="T", name="Tỉnh Thử", level=UnitLevel.PROVINCE, kind="tỉnh")
    commune = add_unit(code="A", name="Xã An Bình", level=UnitLevel.COMMUNE, kind="xã",
                       parent=province)
    db.session.add(Category(code="other", name="Khác", sort_order=9))
    gateway = gateways.register(commune, number="0912000111", base_url="http://127.0.0.1:9",
                                username="sms", password="bench-password",
                                signing_key=sys.argv[1])
    db.session.commit()
    print(gateway.public_id)
"""


def pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def line(name: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return f"  {name:34} p50 {pct(ms, 0.5):7.2f} ms   p95 {pct(ms, 0.95):7.2f} ms   (n={len(ms)})"


def body(i: int, run: str) -> bytes:
    number = f"+8498{(7000000 + i) % 10000000:07d}"
    return json.dumps(
        {
            "deviceId": "ffffffffceb0b1db0000018e937c815b",
            "event": "sms:received",
            "id": f"{run}-{i}",
            "payload": {
                "messageId": "abc123",
                "message": f"Co nguoi la lay trom bo o thon Dong, lan {i}",
                "sender": number,
                "recipient": "+84912000111",
                "phoneNumber": number,
                "simNumber": 1,
                "receivedAt": "2024-06-22T15:46:11.000+07:00",
            },
            "webhookId": "LreFUt-Z3sSq0JufY9uWB",
        }
    ).encode()


def headers(raw: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    sig = hmac.new(KEY.encode(), raw + stamp.encode(), hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Timestamp": stamp, "X-Signature": sig}


def show_parts() -> None:
    from tipline import create_app
    from tipline.alerts.sms import sms_parts
    from tipline.sms import texts

    app = create_app({"SECRET_KEY": "x" * 40, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    ref, code = "TL-7K3M-9QX2", "YW57-EVUG-59RJ-3L4S"
    with app.app_context():
        for marks in (False, True):
            app.config["TIPLINE_SMS_MARKS"] = marks
            print(f"\nReply templates, TIPLINE_SMS_MARKS={'on' if marks else 'off'}:")
            print(f"  {'reply':22} {'chars':>5} {'enc':>5} {'parts':>5}   first reply (+ privacy)")
            replies = {
                "receipt": texts.receipt(ref, code),
                "ask_commune": texts.ask_commune(),
                "confirm_commune": texts.confirm_commune("xã An Bình"),
                "unknown_commune": texts.unknown_commune(),
                "empty": texts.empty(),
                "status": texts.status(ref, "Đã tiếp nhận, đang xử lý"),
                "not_found": texts.not_found(),
                "stopped": texts.stopped(),
                "callback": texts.callback(ref),
                "no_tip": texts.no_tip(),
                "answer_received": texts.answer_received(ref),
                "update": texts.update(ref, "Đã tiếp nhận, đang xử lý"),
                "staff_message (long)": texts.staff_message(ref, "Anh chị cho biết thêm " * 40),
            }
            for name, text in replies.items():
                alone = texts.fit(text)
                first = texts.fit(f"{text} {texts.privacy()}")
                a, f = sms_parts(alone), sms_parts(first)
                print(
                    f"  {name:22} {len(alone):5} {a.encoding:>5} {a.count:5}   "
                    f"{len(first):3} chars, {f.count} parts"
                )
        app.config["TIPLINE_SMS_MARKS"] = False
        print(f"  e.g. {texts.fit(texts.receipt(ref, code))}")


def env_for(work: Path) -> dict[str, str]:
    return dict(
        os.environ,
        TIPLINE_INSTANCE_DIR=str(work / "instance"),
        UPLOAD_DIR=str(work / "uploads"),
        DATABASE_URL=f"sqlite:///{work / 'bench.db'}",
        SECRET_KEY=secrets.token_hex(32),
        TIPLINE_DATA_KEY=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        TIPLINE_ROOT_UNIT="T",
        TIPLINE_SMS_NUMBER_LIMIT="100000 per hour",
        TIPLINE_SMS_GATEWAY_LIMIT="100000 per hour",
        FLASK_APP="wsgi.py",
        PYTHONUNBUFFERED="1",
    )


def prepare(env: dict[str, str]) -> str:
    for command in (
        [str(VENV / "flask"), "db", "upgrade"],
        [str(VENV / "python"), "-c", PREPARE, KEY],
    ):
        done = subprocess.run(
            command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0:
            raise RuntimeError(f"{command[1]} failed:\n{done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


def run_client(count: int) -> tuple[list[float], list[float]]:
    work = Path(tempfile.mkdtemp(prefix="sms-intake-bench-"))
    env = env_for(work)
    public_id = prepare(env)
    from tipline import create_app

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"],
            "SECRET_KEY": env["SECRET_KEY"],
            "TIPLINE_DATA_KEY": env["TIPLINE_DATA_KEY"],
            "UPLOAD_DIR": env["UPLOAD_DIR"],
            "TIPLINE_ROOT_UNIT": "T",
            "TIPLINE_SMS_NUMBER_LIMIT": env["TIPLINE_SMS_NUMBER_LIMIT"],
            "TIPLINE_SMS_GATEWAY_LIMIT": env["TIPLINE_SMS_GATEWAY_LIMIT"],
        }
    )
    client = app.test_client()
    run = secrets.token_hex(3)
    hooks, bare = [], []
    client.get("/healthz")
    for i in range(count):
        raw = body(i, run)
        start = time.perf_counter()
        answer = client.post(f"/sms/webhook/{public_id}", data=raw, headers=headers(raw))
        hooks.append(time.perf_counter() - start)
        assert answer.status_code == 200 and answer.get_json()["action"] == "tip", answer.data
        start = time.perf_counter()
        client.get("/healthz")
        bare.append(time.perf_counter() - start)
    return hooks, bare


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, method: str, path: str, raw: bytes | None = None, head=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request(method, path, body=raw, headers=head or {})
    answer = connection.getresponse()
    data = answer.read()
    connection.close()
    return answer.status, data


def run_gunicorn(count: int) -> tuple[list[float], list[float]]:
    work = Path(tempfile.mkdtemp(prefix="sms-intake-bench-"))
    env = env_for(work)
    public_id = prepare(env)
    port = free_port()
    env.update(
        GUNICORN_WORKERS="2",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_ACCESS_LOG=str(work / "access.log"),
    )
    log = open(work / "gunicorn.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [str(VENV / "python"), "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if request(port, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.2)
        for _ in range(4):
            request(port, "GET", "/healthz")
        run = secrets.token_hex(3)
        hooks, bare = [], []
        for i in range(count):
            raw = body(i, run)
            start = time.perf_counter()
            status, data = request(port, "POST", f"/sms/webhook/{public_id}", raw, headers(raw))
            hooks.append(time.perf_counter() - start)
            assert status == 200 and b'"tip"' in data, (status, data)
            start = time.perf_counter()
            request(port, "GET", "/healthz")
            bare.append(time.perf_counter() - start)
        return hooks, bare
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--setups", default="client,gunicorn")
    args = parser.parse_args()
    show_parts()
    for setup in args.setups.split(","):
        hooks, bare = (run_client if setup == "client" else run_gunicorn)(args.messages)
        print(f"\n{setup}: webhook arriving → tip and reply committed to the outbox")
        print(line("webhook (new tip + reply queued)", hooks))
        print(line("baseline GET /healthz", bare))
        print(f"  p95 ÷ baseline p95: {pct(hooks, 0.95) / pct(bare, 0.95):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
