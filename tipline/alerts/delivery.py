"""Fan-out and delivery: from notifications to deliveries, and from deliveries to channels.

At least once: a delivery is claimed ("sending", with a lease) and committed before the
channel is called, and marked after. A worker that dies in between leaves it "sending";
once its lease has run out another worker takes it over and sends it again. On a
channel without an idempotency key that second send may be a repeat: it is counted. So is
a success after a try that timed out once its request may have left (the row's last_error
starts with "maybe sent: " until then). A delivery taken over with its attempts used up
(it kills every worker that sends it) is dead, "worker lost", without another send.

Several workers may run at once on PostgreSQL: claims read with FOR UPDATE SKIP LOCKED,
so two workers never wait for, nor take, the same rows. Every claim and every mark is
also a conditional UPDATE (on the state, or on the lease it holds), which keeps two
processes on SQLite (a worker and a `--once` from cron) from sending a row twice.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.exc import OperationalError

from tipline.accounts.models import User
from tipline.alerts import outbox, preferences
from tipline.alerts.channels import CHANNELS
from tipline.alerts.channels.base import (
    FLOOD,
    NEW_TIP,
    TIPSTER_REPLY,
    URGENT_TIP,
    Alert,
    Channel,
    DeliveryError,
)
from tipline.alerts.compose import compose
from tipline.alerts.models import (
    DEAD,
    FAILED,
    PENDING,
    SENDING,
    SENT,
    Delivery,
    Notification,
)
from tipline.alerts.preferences import URGENT_KINDS
from tipline.core.timeutil import to_minute, utcnow
from tipline.extensions import db
from tipline.tips.models import Priority, Tip

log = logging.getLogger("tipline.alerts")

ERROR_LENGTH = 200
# A try that may have reached the far end although it failed (a time limit after the
# request left, a worker lost mid-send): its row's last_error starts with this, so that a
# later success on a channel without an idempotency key is counted as a repeat.
MAYBE_SENT = "maybe sent: "
WORKER_LOST = "worker lost"
# Notifications that a resident's action causes (a web tip, a reply), and every one for
# residents: their deliveries keep times to the minute, like the tip's own rows, so that
# no delivery gives a submission's second.
RESIDENT_CAUSED = frozenset({NEW_TIP, URGENT_TIP, TIPSTER_REPLY})


def coarse(notification: Notification) -> bool:
    return notification.user_id is None or notification.kind in RESIDENT_CAUSED


def _up_to_minute(moment: datetime) -> datetime:
    """The next whole minute (never earlier than `moment`: a backoff is not shortened)."""
    floor = to_minute(moment)
    return floor if floor == moment else floor + timedelta(minutes=1)


@dataclass(frozen=True)
class Settings:
    batch: int
    lease_seconds: float
    send_timeout: float
    max_attempts: int
    backoff_seconds: float
    backoff_max_seconds: float

    @classmethod
    def from_config(cls, config) -> Settings:
        return cls(
            batch=max(1, int(config["TIPLINE_WORKER_BATCH"])),
            lease_seconds=float(config["TIPLINE_WORKER_LEASE_SECONDS"]),
            send_timeout=float(config["TIPLINE_ALERT_SEND_TIMEOUT"]),
            max_attempts=max(1, int(config["TIPLINE_ALERT_MAX_ATTEMPTS"])),
            backoff_seconds=float(config["TIPLINE_ALERT_BACKOFF_SECONDS"]),
            backoff_max_seconds=float(config["TIPLINE_ALERT_BACKOFF_MAX_SECONDS"]),
        )


@dataclass
class Report:
    """What one pass did (the worker logs it; tests and the bench read it)."""

    fanned_out: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0
    gone: int = 0
    repeats: int = 0
    reclaimed: int = 0
    lost: int = 0  # taken over with no attempt left: dead without another send
    claimed: list[int] = field(default_factory=list)

    def add(self, other: Report) -> None:
        for name in (
            "fanned_out",
            "sent",
            "failed",
            "dead",
            "gone",
            "repeats",
            "reclaimed",
            "lost",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.claimed += other.claimed


def _skip_locked(query):
    """FOR UPDATE SKIP LOCKED where the database has it (PostgreSQL); SQLite has one writer."""
    if db.session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query


# --- fan-out ----------------------------------------------------------------------------


def fan_out(limit: int, now: datetime | None = None) -> int:
    """Write the deliveries of up to `limit` waiting notifications; commits."""
    now = now or utcnow()
    try:
        notifications = db.session.scalars(
            _skip_locked(
                select(Notification)
                .where(Notification.fanned_out_at.is_(None))
                .order_by(Notification.id)
                .limit(limit)
            )
        ).all()
        # What the batch's notifications refer to, read once for all of them.
        tips = _by_id(Tip, {n.tip_id for n in notifications if n.tip_id})
        # An alert for "the staff who can act" becomes one per person now, in this batch;
        # its own row has done its work.
        wide = [n for n in notifications if n.for_staff]
        notifications = [n for n in notifications if not n.for_staff]
        for row in wide:
            notifications += outbox.expand(row, tips.get(row.tip_id))
            db.session.delete(row)
        users = _by_id(User, {n.user_id for n in notifications if n.user_id})
        stored = preferences.load(users.values())
        available = [channel for channel in CHANNELS.values() if channel.available()]
        for notification in notifications:
            made = _deliveries(
                notification,
                now,
                tips.get(notification.tip_id),
                users.get(notification.user_id),
                stored,
                available,
            )
            db.session.add_all(made)
            notification.fanned_out_at = to_minute(now) if coarse(notification) else now
        db.session.commit()
    except OperationalError:
        db.session.rollback()  # SQLite: another process wrote first; next pass
        return 0
    return len(notifications)


def _by_id(model, ids: set[int]) -> dict:
    if not ids:
        return {}
    return {row.id: row for row in db.session.scalars(select(model).where(model.id.in_(ids)))}


def deliveries_for(notification: Notification, now: datetime) -> list[Delivery]:
    """One delivery per available channel and target that the recipient wants this on
    (a notification to one account or to a tip's residents, not a `for_staff` one)."""
    tip = db.session.get(Tip, notification.tip_id) if notification.tip_id else None
    user = db.session.get(User, notification.user_id) if notification.user_id else None
    stored = preferences.load([user] if user is not None else [])
    available = [channel for channel in CHANNELS.values() if channel.available()]
    return _deliveries(notification, now, tip, user, stored, available)


def _deliveries(
    notification: Notification,
    now: datetime,
    tip: Tip | None,
    user: User | None,
    stored: dict,
    available: list[Channel],
) -> list[Delivery]:
    made: list[Delivery] = []
    # The fan-out follows a resident's action within seconds: its time, and the first
    # try's, are kept to the minute for those (floored: due at once all the same).
    now = to_minute(now) if coarse(notification) else now
    if notification.user_id is None:  # the tip's residents: every subscription they made
        if tip is None:
            return made
        for channel in available:
            made += [
                Delivery(channel=channel.name, target=target, next_attempt_at=now, created_at=now)
                for target in channel.resident_targets(tip.id)
            ]
    else:
        if user is None or not user.active:
            return made
        # A flood alarm is about the commune, not the urgency of the tip that set it off.
        urgent = notification.kind in URGENT_KINDS or (
            tip is not None and tip.priority == Priority.URGENT and notification.kind != FLOOD
        )
        for channel in available:
            wanted = preferences.for_user(user, channel.name, stored)
            if not wanted.wants(notification.kind):
                continue
            # Quiet hours hold an alert until they end; urgent ones go at once.
            at = now if urgent else (wanted.quiet_until(now) or now)
            made += [
                Delivery(channel=channel.name, target=target, next_attempt_at=at, created_at=now)
                for target in channel.staff_targets(user.id)
            ]
    for delivery in made:
        delivery.notification = notification
    return made


# --- claiming ---------------------------------------------------------------------------


def _due(now: datetime):
    return or_(
        and_(Delivery.state.in_((PENDING, FAILED)), Delivery.next_attempt_at <= now),
        and_(Delivery.state == SENDING, Delivery.lease_until < now),
    )


@dataclass(frozen=True)
class Claim:
    ids: list[int]
    reclaimed: frozenset[int]  # taken over mid-send: the earlier try may have gone out
    lease_until: datetime
    taken_over: int = 0  # taken over from a worker whose lease ran out (tried or not)
    lost: int = 0  # taken over with its attempts used up: marked dead, not claimed


def claim(
    limit: int,
    lease_seconds: float,
    now: datetime | None = None,
    *,
    max_attempts: int | None = None,
) -> Claim:
    """Take up to `limit` due deliveries for this worker ("sending", leased); commits.

    A delivery taken over from a worker that died while sending it has used an attempt:
    with none left (`max_attempts`) it is dead ("worker lost") without another send, so
    that an alert that kills every worker trying it cannot kill them for ever. The rest
    of a dead worker's batch was never tried: those keep the attempt its claim counted,
    and are not charged another.
    """
    now = now or utcnow()
    lease_until = now + timedelta(seconds=lease_seconds)
    try:
        rows = db.session.execute(
            _skip_locked(
                select(Delivery.id, Delivery.state, Delivery.lease_until, Delivery.attempts)
                .where(_due(now))
                .order_by(Delivery.next_attempt_at, Delivery.id)
                .limit(limit)
            )
        ).all()
        ids, reclaimed, taken_over, batches, lost = [], set(), set(), set(), 0
        for delivery_id, state, old_lease, attempts in rows:
            tried = True  # may the last holder have sent it?
            if state == SENDING:
                # A worker sends its batch in this order and marks each delivery before
                # the next: of a dead worker's batch (one lease), only the first one
                # still "sending" may have gone out.
                tried = old_lease not in batches
                batches.add(old_lease)
            if state == SENDING and tried and max_attempts and attempts >= max_attempts:
                result = db.session.execute(
                    update(Delivery)
                    .where(Delivery.id == delivery_id, _due(now))
                    .values(state=DEAD, lease_until=None, last_error=WORKER_LOST)
                    .execution_options(synchronize_session=False)
                )
                lost += result.rowcount
                continue
            result = db.session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id, _due(now))
                .values(
                    state=SENDING,
                    lease_until=lease_until,
                    attempts=Delivery.attempts + 1 if tried else Delivery.attempts,
                )
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:
                ids.append(delivery_id)
                if state == SENDING:
                    taken_over.add(delivery_id)
                    if tried:
                        reclaimed.add(delivery_id)
        db.session.commit()
    except OperationalError:
        # SQLite: another process wrote first ("database is locked"); next pass.
        db.session.rollback()
        return Claim([], frozenset(), lease_until, 0)
    return Claim(ids, frozenset(reclaimed), lease_until, len(taken_over), lost)


def _renew(ids: list[int], old: datetime, seconds: float) -> datetime:
    """Extend this worker's lease on the deliveries it still holds; commits."""
    new = utcnow() + timedelta(seconds=seconds)
    db.session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.state == SENDING, Delivery.lease_until == old)
        .values(lease_until=new)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return new


def release(ids: list[int], lease_until: datetime) -> None:
    """Give back deliveries claimed but not tried (a stop): due again at once; commits."""
    if not ids:
        return
    db.session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.state == SENDING, Delivery.lease_until == lease_until)
        .values(state=PENDING, lease_until=None, attempts=Delivery.attempts - 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


# --- sending ----------------------------------------------------------------------------


class TimeLimit(Exception):
    """A channel took longer than the per-send time limit."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Stop a send that overruns (SIGALRM, in the main thread; elsewhere the channel's own
    timeout is the only one)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "setitimer"
    ):
        yield
        return

    def fire(signum, frame):
        raise TimeLimit()

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def backoff(attempts: int, settings: Settings, retry_after: float | None = None) -> float:
    """Seconds before the next try: exponential, capped, with jitter (so that a channel
    that comes back is not hit by every waiting delivery in the same second)."""
    ceiling = min(settings.backoff_max_seconds, settings.backoff_seconds * 2 ** (attempts - 1))
    delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311 (spreading, not secrecy)
    return max(delay, retry_after or 0.0)


def _error_text(error: BaseException, maybe_sent: bool = False) -> str:
    """What the row keeps of an error: a DeliveryError's words (channels write them
    without personal data), of anything else its class name only (a library's message
    may hold an address)."""
    if isinstance(error, DeliveryError):
        text = f"{error}"
    elif isinstance(error, TimeLimit):
        text = "time limit"
    else:
        text = type(error).__name__
    prefix = MAYBE_SENT if maybe_sent else ""
    return (prefix + text)[:ERROR_LENGTH]


@dataclass(frozen=True)
class _Job:
    """A claimed delivery, with what its alert needs, read before any send."""

    id: int
    channel: str
    target: str
    attempts: int
    alert: Alert | None  # None: its channel is gone from this deployment
    maybe_sent: bool = False  # an earlier try may have reached the far end
    coarse: bool = False  # times to the minute (caused by a resident)


def _jobs(ids: list[int], lease_until: datetime) -> list[_Job]:
    """The batch's deliveries and their alerts, in a few queries for the whole batch."""
    rows = db.session.execute(
        select(Delivery, Notification)
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(Delivery.id.in_(ids), Delivery.state == SENDING, Delivery.lease_until == lease_until)
    ).all()
    tips = _by_id(Tip, {n.tip_id for _, n in rows if n.tip_id})
    stored = preferences.load_ids({n.user_id for _, n in rows if n.user_id})
    order = {delivery_id: index for index, delivery_id in enumerate(ids)}
    jobs = []
    for delivery, notification in sorted(rows, key=lambda row: order[row[0].id]):
        alert = None
        if delivery.channel in CHANNELS:
            show = notification.user_id is not None and preferences.shows_category(
                stored, notification.user_id, delivery.channel
            )
            alert = compose(
                notification, tips.get(notification.tip_id), delivery, show_category=show
            )
        jobs.append(
            _Job(
                delivery.id,
                delivery.channel,
                delivery.target,
                delivery.attempts,
                alert,
                maybe_sent=(delivery.last_error or "").startswith(MAYBE_SENT),
                coarse=coarse(notification),
            )
        )
    return jobs


def send_claimed(claimed: Claim, settings: Settings, stop: threading.Event | None = None) -> Report:
    """Try each claimed delivery once and mark it; commits after each."""
    report = Report(
        claimed=list(claimed.ids),
        reclaimed=claimed.taken_over,
        lost=claimed.lost,
        dead=claimed.lost,
    )
    lease_until = claimed.lease_until
    jobs = _jobs(claimed.ids, lease_until)
    db.session.commit()  # no transaction stays open during the sends
    while jobs:
        if stop is not None and stop.is_set():
            release([job.id for job in jobs], lease_until)
            break
        # Never send on a lease that could run out during the send.
        margin = timedelta(seconds=settings.send_timeout + 5)
        if utcnow() + margin > lease_until:
            lease_until = _renew([job.id for job in jobs], lease_until, settings.lease_seconds)
        _send_one(jobs.pop(0), claimed, lease_until, settings, report)
    return report


def _send_one(
    job: _Job, claimed: Claim, lease_until: datetime, settings: Settings, report: Report
) -> None:
    channel = CHANNELS.get(job.channel)
    if channel is None or job.alert is None:
        _mark(job, lease_until, _failure(job, "unknown channel", False, None, settings, report))
        return
    # Did a try of this alert perhaps reach the far end already? A second send is then a
    # repeat, on a channel that has no idempotency key to collapse it.
    earlier = (job.maybe_sent or job.id in claimed.reclaimed) and not channel.idempotent
    try:
        with time_limit(settings.send_timeout + min(1.0, settings.send_timeout)):
            channel.send(job.target, job.alert, timeout=settings.send_timeout)
    except DeliveryError as error:
        db.session.rollback()
        if error.gone:
            _forget(channel, job.target)
            gone = db.session.execute(
                delete(Delivery)
                .where(_held(job.id, lease_until))
                .execution_options(synchronize_session=False)
            )
            db.session.commit()
            report.gone += gone.rowcount
            return
        maybe = earlier or (error.maybe_sent and not channel.idempotent)
        text = _error_text(error, maybe)
        values = _failure(job, text, error.retry, error.retry_after, settings, report)
    except Exception as error:  # a channel's bug must not stop the worker
        db.session.rollback()
        log.warning("alert channel %s failed: %s", channel.name, type(error).__name__)
        # A time limit may strike after the request left: the far end may have it.
        maybe = earlier or (isinstance(error, TimeLimit) and not channel.idempotent)
        values = _failure(job, _error_text(error, maybe), True, None, settings, report)
    else:
        sent_at = utcnow()
        values = {
            "state": SENT,
            "sent_at": to_minute(sent_at) if job.coarse else sent_at,
            "last_error": None,
        }
        report.sent += 1
        if earlier:
            values["repeats"] = Delivery.repeats + 1
            report.repeats += 1
    _mark(job, lease_until, values)


def _held(delivery_id: int, lease_until: datetime):
    """The delivery, while this worker still holds it (its lease was not taken over)."""
    return and_(
        Delivery.id == delivery_id,
        Delivery.state == SENDING,
        Delivery.lease_until == lease_until,
    )


def _mark(job: _Job, lease_until: datetime, values: dict) -> None:
    db.session.execute(
        update(Delivery)
        .where(_held(job.id, lease_until))
        .values(lease_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _forget(channel: Channel, target: str) -> None:
    try:
        channel.forget(target)
        db.session.commit()
    except Exception as error:  # noqa: BLE001 (the delivery goes either way)
        db.session.rollback()
        log.warning(
            "alert channel %s could not forget a target: %s", channel.name, type(error).__name__
        )


def _failure(
    job: _Job,
    text: str,
    retry: bool,
    retry_after: float | None,
    settings: Settings,
    report: Report,
) -> dict:
    """The row's new values after a failed try: another later, or failed for good."""
    if retry and job.attempts < settings.max_attempts:
        report.failed += 1
        wait = backoff(job.attempts, settings, retry_after)
        due = utcnow() + timedelta(seconds=wait)
        return {
            "state": FAILED,
            "last_error": text,
            # The first failure follows a resident's submission by seconds: to the minute.
            "next_attempt_at": _up_to_minute(due) if job.coarse else due,
        }
    report.dead += 1
    return {"state": DEAD, "last_error": text}


def retry_dead(delivery: Delivery) -> None:
    """An administrator sends a dead delivery again: a fresh set of attempts."""
    delivery.state = PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = utcnow()
    delivery.lease_until = None


def deliver(settings: Settings | None = None, *, stop=None, rounds: int = 1000) -> Report:
    """Fan out and send everything due now, batch by batch (`worker --once`, tests)."""
    settings = settings or Settings.from_config(current_app.config)
    report = Report()
    for _ in range(rounds):
        if stop is not None and stop.is_set():
            break
        fanned = fan_out(settings.batch)
        report.fanned_out += fanned
        claimed = claim(settings.batch, settings.lease_seconds, max_attempts=settings.max_attempts)
        if claimed.ids:
            report.add(send_claimed(claimed, settings, stop))
        elif claimed.lost:
            report.lost += claimed.lost
            report.dead += claimed.lost
        if not fanned and not claimed.ids and not claimed.lost:
            break
    return report
