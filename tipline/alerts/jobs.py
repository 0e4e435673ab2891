"""Periodic jobs the worker runs, so that a deployment needs no crontab.

Each job has a row in job_runs. A worker runs a job only after claiming its due row with
one conditional UPDATE (due, and no live lease): the database lets exactly one of several
workers win, on PostgreSQL as on SQLite, and a worker that dies mid-job leaves a lease
that runs out, after which another worker runs it again. No scheduling library: APScheduler's
job stores would still need this lease to run a job once across processes, and the
schedules here are plain intervals.

The CLI commands (escalate-stale, retention purge, photos prune, counters check) stay for
cron users and for running a job by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from tipline.alerts import escalation, outbox
from tipline.alerts.models import JobRun
from tipline.core.timeutil import utcnow
from tipline.extensions import db
from tipline.media.storage import storage_for
from tipline.tips.counts import differences
from tipline.tips.retention import purge_closed_tips
from tipline.tips.services import prune_orphan_photos
from tipline.tips.triage import escalate_stale

log = logging.getLogger("tipline.alerts")


def _escalate_stale() -> str:
    return f"escalated {len(escalate_stale())}"


def _retention_purge() -> str:
    report = purge_closed_tips()
    alerts = outbox.prune(current_app.config["TIPLINE_ALERT_RETENTION_DAYS"])
    return f"purged {report.tips} tips, {alerts} alerts"


def _photos_prune() -> str:
    sweep = getattr(storage_for(current_app), "sweep_temporary", None)
    swept = sweep(3600) if sweep is not None else 0
    removed = prune_orphan_photos(48 * 3600)
    return f"removed {len(removed)} orphans, {swept} temporary files"


def _counters_check() -> str:
    count = len(differences())
    if count:
        log.error(
            "counters differ from the tips in %d cells: run `flask tipline counters check`", count
        )
    return f"{count} differences"


def _alert_scans() -> str:
    report = escalation.scan()
    return f"unacknowledged {report.unacknowledged}, deadline near {report.deadline_near}"


@dataclass(frozen=True)
class Job:
    name: str
    setting: str  # minutes between runs; 0 turns the job off
    run: Callable[[], str]  # returns a short summary (no personal data); may commit


JOBS = (
    Job("alert-scans", "TIPLINE_SCHEDULE_ALERT_SCANS_MINUTES", _alert_scans),
    Job("escalate-stale", "TIPLINE_SCHEDULE_ESCALATE_MINUTES", _escalate_stale),
    Job("retention-purge", "TIPLINE_SCHEDULE_RETENTION_MINUTES", _retention_purge),
    Job("photos-prune", "TIPLINE_SCHEDULE_PHOTOS_MINUTES", _photos_prune),
    Job("counters-check", "TIPLINE_SCHEDULE_COUNTERS_MINUTES", _counters_check),
)


def _ensure_rows(now: datetime) -> None:
    known = set(db.session.scalars(select(JobRun.name)))
    for job in JOBS:
        if job.name not in known:
            try:
                with db.session.begin_nested():
                    db.session.add(JobRun(name=job.name, next_run_at=now))
            except IntegrityError:
                pass  # another worker made it first
    db.session.commit()


def claim(name: str, now: datetime, lease_seconds: float) -> bool:
    """Take the job's due run for this worker; True for exactly one claimant. Commits."""
    try:
        result = db.session.execute(
            update(JobRun)
            .where(
                JobRun.name == name,
                JobRun.next_run_at <= now,
                or_(JobRun.lease_until.is_(None), JobRun.lease_until < now),
            )
            .values(lease_until=now + timedelta(seconds=lease_seconds), last_started_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    except OperationalError:
        db.session.rollback()  # SQLite: another process holds the write lock; next pass
        return False
    return result.rowcount == 1


def _finish(name: str, minutes: float, result: str, *, failed: bool = False) -> None:
    now = utcnow()
    # A failed job is tried again sooner than its period, but not at once.
    wait = min(minutes, 5) if failed else minutes
    db.session.execute(
        update(JobRun)
        .where(JobRun.name == name)
        .values(
            lease_until=None,
            last_finished_at=now,
            next_run_at=now + timedelta(minutes=wait),
            last_result=result[:200],
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def run_due(now: datetime | None = None, *, only: set[str] | None = None) -> list[str]:
    """Run every job whose time has come and that this worker claims; their names."""
    config = current_app.config
    now = now or utcnow()
    lease = float(config["TIPLINE_JOB_LEASE_SECONDS"])
    _ensure_rows(now)
    ran = []
    for job in JOBS:
        minutes = float(config[job.setting] or 0)
        if minutes <= 0 or (only is not None and job.name not in only):
            continue
        if not claim(job.name, now, lease):
            continue
        try:
            result = job.run()
            db.session.commit()
        except Exception as error:  # one job's failure must not stop the others
            db.session.rollback()
            log.error("job %s failed: %s", job.name, type(error).__name__)
            _finish(job.name, minutes, f"error: {type(error).__name__}", failed=True)
        else:
            _finish(job.name, minutes, result)
            ran.append(job.name)
    return ran
