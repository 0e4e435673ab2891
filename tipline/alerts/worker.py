"""`flask tipline worker`: sends the alerts and runs the periodic jobs, until told to stop.

One pass: the due jobs (each claimed by one worker only), the fan-out of new
notifications, then batches of due deliveries until none is left. Between passes the
worker waits TIPLINE_WORKER_IDLE_SECONDS. SIGTERM or SIGINT lets the current send finish,
gives back what it claimed but did not try, and exits.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from dataclasses import dataclass

from flask import Flask

from tipline.alerts import delivery, jobs
from tipline.extensions import db

log = logging.getLogger("tipline.alerts")


@dataclass
class PassReport:
    jobs: list[str]
    delivery: delivery.Report


def run_pass(*, stop: threading.Event | None = None, run_jobs: bool = True) -> PassReport:
    """One pass in the current app context."""
    ran = jobs.run_due() if run_jobs else []
    return PassReport(ran, delivery.deliver(stop=stop))


class Worker:
    def __init__(self, app: Flask, *, run_jobs: bool = True, parent_pid: int | None = None):
        self.app = app
        self.run_jobs = run_jobs
        self.stop = threading.Event()
        # Started by `flask tipline serve`: end when that process is gone.
        self.parent_pid = parent_pid

    def _on_signal(self, signum, frame) -> None:
        self.stop.set()

    def install_signals(self) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)

    def orphaned(self) -> bool:
        return self.parent_pid is not None and os.getppid() != self.parent_pid

    def run(self) -> None:
        idle = float(self.app.config["TIPLINE_WORKER_IDLE_SECONDS"])
        log.info("alerts worker started (pid %d)", os.getpid())
        while not self.stop.is_set() and not self.orphaned():
            with self.app.app_context():
                try:
                    report = run_pass(stop=self.stop, run_jobs=self.run_jobs)
                except Exception as error:  # the database restarting, say: wait, go on
                    db.session.rollback()
                    db.session.remove()
                    log.error("alerts worker pass failed: %s", type(error).__name__)
                    self.stop.wait(idle)
                    continue
            busy = report.delivery.claimed or report.delivery.fanned_out
            if report.delivery.sent or report.delivery.dead or report.jobs:
                log.info(
                    "alerts: %d sent, %d to retry, %d failed for good; jobs: %s",
                    report.delivery.sent,
                    report.delivery.failed,
                    report.delivery.dead,
                    ", ".join(report.jobs) or "-",
                )
            if not busy:
                self.stop.wait(idle)
        log.info("alerts worker stopped")
