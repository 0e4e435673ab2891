"""The alerts worker: throughput against a channel that costs nothing, and SIGKILL mid-batch.

    .venv/bin/python bench/alerts_worker.py [--deliveries 2000] [--kills 3]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

1. Throughput: N notifications to one account, each fanned out to one delivery on a
   local fake channel whose send does nothing but append the delivery's key to a file.
   Worker figure: deliveries sent per second by `delivery.deliver()` (fan-out, claim,
   send, mark; one commit per delivery). Baseline, same run, same database: N single-row
   UPDATEs each in its own commit (the floor of "mark each delivery in its own
   transaction"); the ratio says what the worker costs above that floor.
2. SIGKILL mid-batch: a worker in a child process sends the same kind of load; once it
   has sent about a third, it is killed with SIGKILL. Time then passes (the leases of
   what it held are set to have run out, as they would after TIPLINE_WORKER_LEASE_SECONDS)
   and a second worker finishes. Lost = deliveries whose key never reached the channel
   (must be 0); repeats = keys the channel received twice, against the repeats the rows
   counted. Repeated --kills times.

A temporary SQLite file (default) or a temporary PostgreSQL database, dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text, update  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from tipline import create_app  # noqa: E402
from tipline.alerts import delivery  # noqa: E402
from tipline.alerts.channels import CHANNELS  # noqa: E402
from tipline.alerts.channels.base import NEW_TIP, Alert  # noqa: E402
from tipline.alerts.models import SENDING, SENT, Delivery, Notification  # noqa: E402
from tipline.core.timeutil import utcnow  # noqa: E402
from tipline.extensions import db  # noqa: E402


@dataclass
class LogChannel:
    """Sends nothing anywhere: appends the alert's key to a file (one write, O_APPEND)."""

    path: str
    name: str = "bench"
    idempotent: bool = False
    fd: int = field(default=-1)

    def available(self) -> bool:
        return True

    def staff_targets(self, user_id: int) -> list[str]:
        return [str(user_id)]

    def resident_targets(self, tip_id: int) -> list[str]:
        return []

    def send(self, target: str, alert: Alert, *, timeout: float) -> None:
        if self.fd < 0:
            self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.write(self.fd, f"{alert.key}\n".encode())

    def forget(self, target: str) -> None:
        return None


def make_app(url: str, upload: str):
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench-" + "x" * 40,
            "UPLOAD_DIR": upload,
            "TIPLINE_ROOT_UNIT": "T",
            "RATELIMIT_ENABLED": False,
            "TIPLINE_WORKER_BATCH": 50,
        }
    )


def install_channel(log: str) -> None:
    # Only the bench channel: the others would each look for targets of their own.
    CHANNELS.clear()
    channel = LogChannel(log)
    CHANNELS[channel.name] = channel


def seed(count: int) -> None:
    """One village, one leader, one tip, `count` alerts to the leader."""
    from tipline.accounts.models import Role
    from tipline.accounts.services import create_user, grant
    from tipline.places.models import UnitLevel
    from tipline.places.services import add_unit
    from tipline.tips.models import Category
    from tipline.tips.services import TipDraft, new_submission_key, submit_tip

    province = add_unit(code="T", name="Tỉnh", level=UnitLevel.PROVINCE, kind="tỉnh")
    commune = add_unit(code="A", name="Xã", level=UnitLevel.COMMUNE, kind="xã", parent=province)
    village = add_unit(code="A1", name="Thôn", level=UnitLevel.VILLAGE, kind="thôn", parent=commune)
    category = Category(code="theft", name="Trộm cắp", sort_order=0)
    db.session.add(category)
    db.session.flush()
    leader = create_user("leader", "Leader", "bench password 123")
    grant(leader, Role.VILLAGE_LEADER, village)
    receipt = submit_tip(
        TipDraft(
            submission_key=new_submission_key(), category=category, unit=village, description="x"
        )
    )
    db.session.commit()
    load(receipt.tip.id, leader.id, count)


def load(tip_id: int, user_id: int, count: int) -> None:
    db.session.execute(delete_all())
    now = utcnow()
    if not count:
        db.session.commit()
        return
    db.session.execute(
        Notification.__table__.insert(),
        [
            {"kind": NEW_TIP, "tip_id": tip_id, "user_id": user_id, "created_at": now}
            for _ in range(count)
        ],
    )
    db.session.commit()


def delete_all():
    return Notification.__table__.delete()


def ids() -> tuple[int, int]:
    tip_id = db.session.scalar(text("SELECT id FROM tips LIMIT 1"))
    user_id = db.session.scalar(text("SELECT id FROM users LIMIT 1"))
    return tip_id, user_id


def throughput(count: int, log: str) -> dict:
    tip_id, user_id = ids()
    load(tip_id, user_id, count)
    Path(log).unlink(missing_ok=True)
    install_channel(log)
    started = time.perf_counter()
    report = delivery.deliver()
    worker_seconds = time.perf_counter() - started
    assert report.sent == count, report
    # Baseline: one single-row UPDATE and one commit per delivery.
    rows = db.session.scalars(select(Delivery.id)).all()
    started = time.perf_counter()
    for row_id in rows:
        db.session.execute(
            update(Delivery).where(Delivery.id == row_id).values(attempts=Delivery.attempts + 1)
        )
        db.session.commit()
    baseline_seconds = time.perf_counter() - started
    return {
        "worker_per_s": count / worker_seconds,
        "baseline_per_s": len(rows) / baseline_seconds,
    }


def kill_round(count: int, log: str, url: str, upload: str) -> dict:
    tip_id, user_id = ids()
    load(tip_id, user_id, count)
    Path(log).unlink(missing_ok=True)
    db.session.remove()
    child = subprocess.Popen(  # noqa: S603 (this script, with its own arguments)
        [sys.executable, __file__, "--child", url, "--log", log, "--upload", upload],
        cwd=ROOT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        sent = _lines(log)
        if sent >= count // 3:
            break
        time.sleep(0.005)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    sent_before = _lines(log)
    held = db.session.scalar(
        select(func.count()).select_from(Delivery).where(Delivery.state == SENDING)
    )
    # Time passes: the dead worker's leases run out.
    db.session.execute(
        update(Delivery)
        .where(Delivery.state == SENDING)
        .values(lease_until=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    install_channel(log)  # a fresh descriptor on the new file
    recovery = delivery.deliver()
    keys = Counter(Path(log).read_text().split())
    expected = {f"tipline-{i}" for i in db.session.scalars(select(Delivery.id))}
    states = Counter(db.session.scalars(select(Delivery.state)))
    counted = db.session.scalar(select(func.sum(Delivery.repeats))) or 0
    return {
        "deliveries": len(expected),
        "sent_before_kill": sent_before,
        "held_at_kill": held,
        "taken_over": recovery.reclaimed,
        "lost": len(expected - set(keys)) + sum(n for s, n in states.items() if s != SENT),
        "received_twice": sum(1 for n in keys.values() if n > 1),
        "repeats_counted": counted,
    }


def _lines(path: str) -> int:
    try:
        with open(path, "rb") as handle:
            return handle.read().count(b"\n")
    except FileNotFoundError:
        return 0


def child(url: str, log: str, upload: str) -> None:
    app = make_app(url, upload)
    with app.app_context():
        install_channel(log)
        while True:
            delivery.deliver()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--log", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--upload", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.log, args.upload)
        return

    folder = Path(tempfile.mkdtemp(prefix="alerts-bench-"))
    upload = str(folder / "uploads")
    log = str(folder / "sent.log")
    server = None
    if args.database_url:
        import psycopg

        name = f"alerts_bench_{uuid.uuid4().hex[:10]}"
        server = make_url(args.database_url).set(drivername="postgresql")
        with psycopg.connect(server.render_as_string(hide_password=False), autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        url = (
            make_url(args.database_url)
            .set(drivername="postgresql+psycopg", database=name)
            .render_as_string(hide_password=False)
        )
    else:
        url = f"sqlite:///{folder / 'bench.db'}"
    app = make_app(url, upload)
    try:
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            install_channel(log)
            seed(0)
            backend = db.engine.dialect.name
            print(f"database: {backend}; deliveries per run: {args.deliveries}")
            figures = throughput(args.deliveries, log)
            print(
                f"throughput: worker {figures['worker_per_s']:.0f} deliveries/s; baseline "
                f"(one UPDATE + commit each) {figures['baseline_per_s']:.0f}/s; ratio "
                f"{figures['worker_per_s'] / figures['baseline_per_s']:.2f}"
            )
            for round_number in range(1, args.kills + 1):
                result = kill_round(args.deliveries, log, url, upload)
                print(
                    f"SIGKILL round {round_number}: "
                    + ", ".join(f"{k} {v}" for k, v in result.items())
                )
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if server is not None:
            import psycopg

            with psycopg.connect(
                server.render_as_string(hide_password=False), autocommit=True
            ) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
