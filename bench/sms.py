"""SMS: the parts of every text Tipline sends, and the cost of a send through the Android driver.

    .venv/bin/python bench/sms.py
    .venv/bin/python bench/sms.py --sends 500 --base-url https://tinbao.thanhhoa.gov.vn

1. Every SMS template (each staff alert kind, the tipster's update, the staff number's
   code), filled with a realistic reference and link under ``--base-url``: characters,
   encoding and parts, without marks (the default) and with TIPLINE_SMS_MARKS on.
2. ``--sends`` texts through ``sms.send_sms`` (number check, parts, the budget in the
   limiter's store, the driver's request) to a local fake of SMS Gateway for Android on
   127.0.0.1, one after the other; baseline in the same run: the same JSON POST with
   http.client alone, to the same fake. Per-send p50 and p95, and sends per second.

Nothing outside 127.0.0.1 is reached; the app runs on a temporary SQLite file.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.sms_fakes import FakeAndroidGateway, android_settings  # noqa: E402
from tipline import create_app  # noqa: E402
from tipline.alerts import sms  # noqa: E402
from tipline.alerts.channels.base import STAFF_KINDS, Alert  # noqa: E402
from tipline.alerts.compose import staff_title  # noqa: E402

REFERENCE = "TL-7K3M-9QX2"
PUBLIC_ID = "AbCdEfGhIjKlMnOpQrStUvWx"[:16]  # secrets.token_urlsafe(12): 16 characters


def templates(base_url: str) -> list[tuple[str, str]]:
    texts = []
    for kind in STAFF_KINDS:
        alert = Alert(
            kind=kind,
            title=staff_title(kind, REFERENCE),
            body="",
            url=f"{base_url}/staff/tips/{PUBLIC_ID}",
            urgent=kind in ("urgent_tip", "unacknowledged"),
            topic="t",
            key="k",
            reference=REFERENCE,
        )
        texts.append((f"staff: {kind}", sms.staff_text(alert)))
        if kind == "new_tip":  # a new tip of urgent priority: the [KHẨN] mark
            urgent = Alert(**{**alert.__dict__, "urgent": True})
            texts.append(("staff: new_tip, urgent", sms.staff_text(urgent)))
    texts.append(("tipster: update", sms.resident_text(REFERENCE)))
    texts.append(("staff number: code", sms.code_text("482913", 10)))
    return texts


def show_templates(app, base_url: str) -> None:
    for marks in (False, True):
        app.config["TIPLINE_SMS_MARKS"] = marks
        print(f"\nTemplates, TIPLINE_SMS_MARKS={'on' if marks else 'off'}:")
        print(f"  {'text':28} {'chars':>5} {'encoding':>8} {'parts':>5}")
        for name, text in templates(base_url):
            parts = sms.sms_parts(text)
            print(f"  {name:28} {len(text):5} {parts.encoding:>8} {parts.count:5}")
        print(f"  e.g. {templates(base_url)[1][1]}")
    app.config["TIPLINE_SMS_MARKS"] = False


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summary(name: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    rate = len(seconds) / sum(seconds)
    return (
        f"  {name:34} p50 {statistics.median(ms):6.2f} ms   p95 {percentile(ms, 0.95):6.2f} ms"
        f"   {rate:7.0f} sends/s"
    )


def bare_posts(fake: FakeAndroidGateway, count: int, run: str) -> list[float]:
    token = base64.b64encode(f"{fake.user}:{fake.password}".encode()).decode()
    host, port = fake.server.server_address[:2]
    times = []
    for i in range(count):
        body = json.dumps(
            {
                "id": f"bare-{run}-{i}",
                "textMessage": {"text": "Tin bao moi TL-7K3M-9QX2"},
                "phoneNumbers": ["+84912345678"],
            }
        ).encode()
        start = time.perf_counter()
        connection = http.client.HTTPConnection(host, port, timeout=10)
        connection.request(
            "POST",
            "/messages",
            body=body,
            headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        response.read()
        connection.close()
        times.append(time.perf_counter() - start)
        assert response.status == 202, response.status
    return times


def driver_sends(count: int, run: str) -> list[float]:
    times = []
    for i in range(count):
        start = time.perf_counter()
        sms.send_sms("0912 345 678", "Tin bao moi TL-7K3M-9QX2", key=f"bench-{run}-{i}")
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=300)
    parser.add_argument("--base-url", default="https://tinbao.thanhhoa.gov.vn")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="tipline-bench-sms-"))
    fake = FakeAndroidGateway()
    app = create_app(
        {
            "SECRET_KEY": "bench-" + "x" * 40,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.db'}",
            "TIPLINE_BASE_URL": args.base_url,
            "RATELIMIT_ENABLED": True,  # the budget counts in the limiter's store (memory)
            **android_settings(fake),
            "TIPLINE_SMS_BUDGET_PARTS": 10 * args.sends + 100,
        }
    )
    try:
        with app.app_context():
            show_templates(app, args.base_url)
            bare_posts(fake, 20, "warm")  # warm-up, both paths
            driver_sends(20, "warm")
            baseline = bare_posts(fake, args.sends, "run")
            measured = driver_sends(args.sends, "run")
        print(f"\nSends to a local fake of SMS Gateway for Android, {args.sends} each, in turn:")
        print(summary("http.client POST alone (baseline)", baseline))
        print(summary("sms.send_sms (android driver)", measured))
        ratio = statistics.median(measured) / statistics.median(baseline)
        print(f"  driver / baseline, p50: {ratio:.2f}x; texts the fake took: {len(fake.received)}")
    finally:
        fake.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
