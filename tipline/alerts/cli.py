"""`flask tipline worker` and `flask tipline notify send`."""

from __future__ import annotations

import logging

import click
from flask import current_app
from flask.cli import with_appcontext

from tipline.alerts import delivery
from tipline.alerts.worker import Worker, run_pass


def _log_to_stderr() -> None:
    logger = logging.getLogger("tipline.alerts")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    if not logger.hasHandlers():
        logger.addHandler(logging.StreamHandler())


@click.command("worker")
@click.option("--once", is_flag=True, help="One pass (due jobs, every due alert), then exit.")
@click.option("--jobs/--no-jobs", default=True, show_default=True, help="Run the periodic jobs.")
@click.option("--parent-pid", type=int, default=None, hidden=True)
@with_appcontext
def worker_command(once: bool, jobs: bool, parent_pid: int | None) -> None:
    """Send alerts and run the periodic jobs until stopped (SIGTERM, Ctrl-C)."""
    _log_to_stderr()
    if once:
        report = run_pass(run_jobs=jobs)
        d = report.delivery
        click.echo(
            f"Fanned out {d.fanned_out} notifications; sent {d.sent}, to retry {d.failed}, "
            f"failed {d.dead}, targets gone {d.gone}, repeats {d.repeats}; "
            f"jobs: {', '.join(report.jobs) or 'none'}."
        )
        return
    worker = Worker(current_app._get_current_object(), run_jobs=jobs, parent_pid=parent_pid)
    worker.install_signals()
    worker.run()


@click.group("notify")
def notify_cli() -> None:
    """Alerts: send what is due (the worker does this continuously)."""


@notify_cli.command("send")
@with_appcontext
def notify_send_command() -> None:
    """Send every due alert once, without the periodic jobs (for cron without a worker)."""
    report = delivery.deliver()
    click.echo(
        f"Sent {report.sent} alerts, {report.failed} to retry, {report.dead} failed for good."
    )
    if report.failed or report.dead:
        raise click.exceptions.Exit(1)
