"""The alerts worker: retries with backoff, dead letters, leases taken over after a crash,
repeats counted, targets that are gone, the time limit per send, two workers at once,
the periodic jobs run once, and the CLI."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tipline.alerts import delivery, jobs
from tipline.alerts.channels.base import DeliveryError
from tipline.alerts.delivery import Settings
from tipline.alerts.models import DEAD, FAILED, PENDING, SENDING, SENT, Delivery, JobRun
from tipline.core.timeutil import utcnow
from tipline.extensions import db
from tipline.tips.models import Tip

from .alerts_fake import FakeChannel, install, remove
from .conftest import at_once

FAST = Settings(
    batch=10,
    lease_seconds=60,
    send_timeout=0.05,
    max_attempts=3,
    backoff_seconds=30,
    backoff_max_seconds=600,
)


@pytest.fixture
def fake(app):
    channel = install(FakeChannel())
    yield channel
    remove(channel)


def fake_deliveries() -> list[Delivery]:
    return db.session.scalars(
        select(Delivery).where(Delivery.channel == "fake").order_by(Delivery.id)
    ).all()


def make_due() -> None:
    """Time passes: every waiting delivery is due now."""
    db.session.execute(
        update(Delivery)
        .where(Delivery.state == FAILED)
        .values(next_attempt_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


def test_a_delivery_is_sent_once(world, make_tip, fake):
    tip = make_tip(world.a1)
    report = delivery.deliver(FAST)
    assert report.sent == 2 and report.repeats == 0  # leader_a1 and police_a
    assert {d.state for d in fake_deliveries()} == {SENT}
    assert all(alert.reference == tip.reference for _, alert in fake.sent)
    assert len({alert.key for _, alert in fake.sent}) == 2
    assert delivery.deliver(FAST).sent == 0


def test_a_failing_channel_is_retried_with_backoff_then_fails_for_good(
    world, make_tip, fake, login
):
    fake.fail = DeliveryError("HTTP 500 from the push service")
    make_tip(world.a1)
    before = utcnow()
    report = delivery.deliver(FAST)
    assert report.failed == 2 and report.sent == 0
    waits = []
    for row in fake_deliveries():
        assert row.state == FAILED and row.attempts == 1
        assert row.last_error == "HTTP 500 from the push service"
        waits.append((row.next_attempt_at - before).total_seconds())
    # The first wait is the base (30 s) with jitter: between half of it and all of it,
    # then up to the next minute (a new tip's delivery keeps its times to the minute).
    assert all(14 <= wait <= 91 for wait in waits)
    assert all(row.next_attempt_at.second == 0 for row in fake_deliveries())
    assert delivery.deliver(FAST).sent == 0  # not due yet
    make_due()
    delivery.deliver(FAST)
    second = [(r.next_attempt_at - utcnow()).total_seconds() for r in fake_deliveries()]
    assert all(29 <= wait <= 121 for wait in second)  # doubled (and up to the minute)
    make_due()
    report = delivery.deliver(FAST)
    assert report.dead == 2
    assert {(r.state, r.attempts) for r in fake_deliveries()} == {(DEAD, 3)}
    # The administrators' page lists them, without personal data, and sends them again.
    admin = login("admin")
    page = admin.get("/admin/thong-bao-loi/").get_data(as_text=True)
    assert "HTTP 500 from the push service" in page and "Tin báo mới" in page
    assert "Leader A1" not in page and "user-" not in page
    fake.fail = None
    one = fake_deliveries()[0]
    assert (
        admin.post("/admin/thong-bao-loi/gui-lai", data={"delivery": str(one.id)}).status_code
        == 303
    )
    assert db.session.get(Delivery, one.id, populate_existing=True).state == PENDING
    assert admin.post("/admin/thong-bao-loi/gui-lai", data={"delivery": "x"}).status_code == 404
    assert admin.post("/admin/thong-bao-loi/gui-lai", data={"delivery": "all"}).status_code == 303
    assert delivery.deliver(FAST).sent == 2
    assert "Không có thông báo nào gửi không được" in admin.get("/admin/thong-bao-loi/").get_data(
        as_text=True
    )


def test_an_administrator_of_another_province_sees_no_dead_letter_of_this_one(
    world, make_tip, fake, login
):
    fake.fail = DeliveryError("refused", retry=False)
    make_tip(world.a1)
    assert delivery.deliver(FAST).dead == 2
    assert "refused" in login("admin").get("/admin/thong-bao-loi/").get_data(as_text=True)
    assert login("police_a").get("/admin/thong-bao-loi/").status_code == 404


def test_the_far_ends_wait_is_respected(world, make_tip, fake):
    fake.fail = DeliveryError("429", retry_after=3600)
    make_tip(world.a1)
    delivery.deliver(FAST)
    assert all((row.next_attempt_at - utcnow()).total_seconds() > 3500 for row in fake_deliveries())


def test_a_target_that_is_gone_is_forgotten_and_its_delivery_removed(world, make_tip, fake):
    fake.fail = DeliveryError("410 Gone", gone=True)
    make_tip(world.a1)
    report = delivery.deliver(FAST)
    assert report.gone == 2 and fake_deliveries() == []
    assert sorted(fake.forgotten) == sorted(
        f"user-{world.users[name].id}" for name in ("leader_a1", "police_a")
    )


def test_a_send_that_hangs_is_stopped_by_the_time_limit(world, make_tip, fake):
    hang = threading.Event()

    def hangs(target, alert):
        hang.wait(30)  # never set: only the worker's time limit ends it

    fake.fail = hangs
    make_tip(world.a1)
    started = utcnow()
    report = delivery.deliver(FAST)
    assert report.failed == 2
    assert (utcnow() - started).total_seconds() < 5
    # The fake has no idempotency key, and the request may have left: a later success
    # would be a possible repeat.
    assert {row.last_error for row in fake_deliveries()} == {"maybe sent: time limit"}


def test_a_channels_own_bug_is_recorded_by_its_class_only(world, make_tip, fake):
    def broken(target, alert):
        raise ValueError(f"cannot reach {target} at leader@example.test")

    fake.fail = broken
    make_tip(world.a1)
    assert delivery.deliver(FAST).failed == 2
    assert {row.last_error for row in fake_deliveries()} == {"ValueError"}


@pytest.mark.parametrize("idempotent", [False, True])
def test_a_delivery_left_sending_by_a_dead_worker_is_sent_again_and_a_repeat_counted(
    world, make_tip, fake, idempotent
):
    """A worker killed between claiming and marking: its lease runs out, another takes over."""
    fake.idempotent = idempotent
    make_tip(world.a1)
    delivery.fan_out(10)
    claimed = delivery.claim(10, lease_seconds=60)
    assert len(claimed.ids) == 2
    # ... the worker dies here, maybe after the far end took the alert. Its lease holds:
    assert delivery.deliver(FAST).sent == 0
    assert {row.state for row in fake_deliveries()} == {SENDING}
    db.session.execute(
        update(Delivery).values(lease_until=utcnow() - timedelta(seconds=1))
    )  # time passes
    db.session.commit()
    report = delivery.deliver(FAST)
    assert report.sent == 2 and report.reclaimed == 2
    rows = fake_deliveries()
    # The dead worker sent its batch in order, marking each before the next: only the
    # first of it may have gone out, so only its second send is a possible repeat, and
    # only that one used a second attempt.
    assert [(row.state, row.attempts) for row in rows] == [(SENT, 2), (SENT, 1)]
    assert [row.repeats for row in rows] == ([0, 0] if idempotent else [1, 0])
    assert report.repeats == (0 if idempotent else 1)


def test_a_stopped_worker_gives_back_what_it_did_not_try(world, make_tip, fake):
    make_tip(world.a1)
    delivery.fan_out(10)
    stop = threading.Event()

    def stop_after_first(target, alert):
        stop.set()

    fake.fail = stop_after_first
    report = delivery.send_claimed(delivery.claim(10, 60), FAST, stop)
    assert report.sent == 1
    states = sorted((row.state, row.attempts) for row in fake_deliveries())
    assert states == [(PENDING, 0), (SENT, 1)]


def test_deliveries_of_a_deleted_tip_go_with_it(world, make_tip, fake):
    tip = make_tip(world.a1)
    delivery.fan_out(10)
    db.session.delete(db.session.get(Tip, tip.id))
    db.session.commit()
    assert fake_deliveries() == []
    assert delivery.deliver(FAST).sent == 0


def test_the_worker_command_runs_one_pass(runner, world, make_tip, fake):
    make_tip(world.a1)
    result = runner.invoke(args=["tipline", "worker", "--once", "--no-jobs"])
    assert result.exit_code == 0, result.output
    assert "sent 2" in result.output and "jobs: none" in result.output
    assert len(fake.sent) == 2


def test_a_due_job_runs_once_and_waits_for_its_period(app, ctx):
    now = utcnow()
    assert jobs.run_due(now, only={"alert-scans"}) == ["alert-scans"]
    assert jobs.run_due(now, only={"alert-scans"}) == []
    row = db.session.get(JobRun, "alert-scans")
    period = app.config["TIPLINE_SCHEDULE_ALERT_SCANS_MINUTES"]
    assert row.lease_until is None and row.last_result.startswith("unacknowledged 0")
    assert row.next_run_at >= now + timedelta(minutes=period)
    assert jobs.run_due(row.next_run_at, only={"alert-scans"}) == ["alert-scans"]


def test_a_job_whose_worker_died_is_taken_over_after_its_lease(app, ctx):
    now = utcnow()
    jobs.run_due(now, only={"alert-scans"})  # makes the rows
    db.session.execute(
        update(JobRun)
        .where(JobRun.name == "escalate-stale")
        .values(next_run_at=now, lease_until=now + timedelta(minutes=30))
    )
    db.session.commit()
    assert jobs.run_due(now, only={"escalate-stale"}) == []  # someone holds it
    later = now + timedelta(minutes=31)
    assert jobs.run_due(later, only={"escalate-stale"}) == ["escalate-stale"]


def test_a_job_set_to_zero_minutes_never_runs(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "TIPLINE_SCHEDULE_RETENTION_MINUTES", 0)
    assert "retention-purge" not in jobs.run_due(utcnow(), only={"retention-purge"})


# --- several workers at once (real commits, other connections) --------------------------


@pytest.mark.commits
def test_two_workers_at_once_send_each_delivery_exactly_once(app, fake):
    with app.app_context():
        _world_with_tips(app, 12)
    settings = Settings(
        batch=5,
        lease_seconds=60,
        send_timeout=1,
        max_attempts=3,
        backoff_seconds=1,
        backoff_max_seconds=1,
    )

    def work(_index):
        with app.app_context():
            return delivery.deliver(settings)

    reports = at_once(2, work)
    with app.app_context():
        rows = db.session.scalars(select(Delivery).where(Delivery.channel == "fake")).all()
        expected = {f"tipline-{row.id}" for row in rows}
        # Whatever each worker claimed, the other did not: every key once, none twice.
        keys = [alert.key for _, alert in fake.sent]
        if any(row.state != SENT for row in rows):  # SQLite: the loser backed off
            with app.app_context():
                delivery.deliver(settings)
            keys = [alert.key for _, alert in fake.sent]
        assert sorted(keys) == sorted(expected) and len(keys) == len(set(keys))
        claimed = [set(r.claimed) for r in reports]
        assert not (claimed[0] & claimed[1])
        if db.engine.dialect.name == "postgresql":
            # SKIP LOCKED: neither waited for the other's rows, both took a share.
            assert all(claimed) and sum(r.sent for r in reports) == len(expected)


@pytest.mark.commits
def test_skip_locked_lets_a_second_worker_pass_rows_another_holds(app, fake):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("FOR UPDATE SKIP LOCKED is PostgreSQL's; SQLite has one writer")
        _world_with_tips(app, 3)
        delivery.fan_out(100)
        total = len(db.session.scalars(select(Delivery.id)).all())
        held = db.session.scalars(
            select(Delivery).order_by(Delivery.id).limit(2).with_for_update()
        ).all()  # this transaction stays open: a worker mid-claim
        got = {}

        def other():
            with app.app_context():
                got["claim"] = delivery.claim(100, 60)

        thread = threading.Thread(target=other)
        thread.start()
        thread.join(timeout=20)
        assert not thread.is_alive(), "the second worker waited for the locked rows"
        assert not ({row.id for row in held} & set(got["claim"].ids))
        assert len(got["claim"].ids) == total - 2
        db.session.rollback()


def _world_with_tips(app, count: int) -> None:
    """Commune A with a leader and police (as conftest's world, committed), and tips."""
    from tipline.accounts.models import Role
    from tipline.accounts.services import create_user, grant
    from tipline.places.models import UnitLevel
    from tipline.places.services import add_unit
    from tipline.tips.models import Category
    from tipline.tips.services import TipDraft, new_submission_key, submit_tip

    province = add_unit(code="T", name="Tỉnh Thử", level=UnitLevel.PROVINCE, kind="tỉnh")
    commune = add_unit(
        code="A", name="Xã An Bình", level=UnitLevel.COMMUNE, kind="xã", parent=province
    )
    village = add_unit(
        code="A1", name="Thôn Đông", level=UnitLevel.VILLAGE, kind="thôn", parent=commune
    )
    theft = Category(code="theft", name="Trộm cắp tài sản", sort_order=0)
    db.session.add(theft)
    db.session.flush()
    grant(create_user("leader", "Leader", "correct horse battery"), Role.VILLAGE_LEADER, village)
    grant(create_user("police", "Police", "correct horse battery"), Role.COMMUNE_POLICE, commune)
    db.session.commit()
    for _ in range(count):
        submit_tip(
            TipDraft(
                submission_key=new_submission_key(),
                category=theft,
                unit=village,
                description="Mất trộm xe máy.",
            )
        )
    db.session.commit()


def _expire_leases() -> None:
    db.session.execute(update(Delivery).values(lease_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def test_a_delivery_that_kills_every_worker_ends_dead_without_another_send(world, make_tip, fake):
    """A send that kills the worker each time (out of memory, a crash in a library): the
    row's lease runs out again and again; once its attempts are used up it is dead."""
    make_tip(world.a1)
    delivery.fan_out(10)
    for attempt in range(1, FAST.max_attempts + 1):
        claimed = delivery.claim(1, 60, max_attempts=FAST.max_attempts)
        assert len(claimed.ids) == 1 and claimed.lost == 0
        poison = claimed.ids[0]
        assert db.session.get(Delivery, poison, populate_existing=True).attempts == attempt
        _expire_leases()  # ... the worker died while sending it
    report = delivery.deliver(FAST)
    row = db.session.get(Delivery, poison, populate_existing=True)
    assert (row.state, row.attempts, row.last_error) == (DEAD, FAST.max_attempts, "worker lost")
    assert report.lost == 1 and report.dead == 1
    assert len(fake.sent) == 1  # the other one only
    assert all(d.state == SENT for d in fake_deliveries() if d.id != poison)
    # The administrators see it among the dead letters, and may send it again.
    assert delivery.deliver(FAST).sent == 0


def test_the_untried_rest_of_a_dead_workers_batch_uses_no_attempt(world, make_tip, fake):
    make_tip(world.a1)
    delivery.fan_out(10)
    for _ in range(FAST.max_attempts + 1):  # more takeovers than attempts
        claimed = delivery.claim(10, 60, max_attempts=FAST.max_attempts)
        _expire_leases()
        if claimed.lost:
            break
    rows = fake_deliveries()
    # The first of the batch was perhaps tried each time and died; the second never was.
    assert (rows[0].state, rows[0].last_error) == (DEAD, "worker lost")
    assert rows[1].attempts == 1 and rows[1].state == SENDING
    assert delivery.deliver(FAST).sent == 1
    assert fake_deliveries()[1].state == SENT


@pytest.mark.parametrize("idempotent", [False, True])
def test_a_success_after_a_time_limit_counts_a_possible_repeat(world, make_tip, fake, idempotent):
    fake.idempotent = idempotent
    hang = threading.Event()
    calls = []

    def hangs_then_a_500_then_takes(target, alert):
        calls.append(target)
        if len(calls) <= 2:
            hang.wait(30)  # the request left; no answer in time
        elif len(calls) <= 4:
            return DeliveryError("HTTP 500")
        return None

    fake.fail = hangs_then_a_500_then_takes
    make_tip(world.a1)
    assert delivery.deliver(FAST).failed == 2
    expected = "time limit" if idempotent else "maybe sent: time limit"
    assert {row.last_error for row in fake_deliveries()} == {expected}
    make_due()
    assert delivery.deliver(FAST).failed == 2  # a plain failure keeps the flag
    expected = "HTTP 500" if idempotent else "maybe sent: HTTP 500"
    assert {row.last_error for row in fake_deliveries()} == {expected}
    make_due()
    report = delivery.deliver(FAST)
    assert report.sent == 2 and report.repeats == (0 if idempotent else 2)
    rows = fake_deliveries()
    assert [(r.state, r.repeats, r.last_error) for r in rows] == [
        (SENT, 0 if idempotent else 1, None)
    ] * 2


def test_old_alerts_go_with_the_retention_purge_unless_still_on_their_way(
    app, world, make_tip, fake
):
    from tipline.alerts.models import Notification

    make_tip(world.a1)
    delivery.deliver(FAST)  # sent
    fake.fail = DeliveryError("HTTP 500")
    make_tip(world.a1)
    delivery.deliver(FAST)  # waiting for a retry
    fake.fail = None
    make_tip(world.a1)  # recent, sent
    old = utcnow() - timedelta(days=91)
    first_two = db.session.scalars(select(Notification.id).order_by(Notification.id)).all()[:4]
    db.session.execute(
        update(Notification).where(Notification.id.in_(first_two)).values(created_at=old)
    )
    db.session.commit()
    before = len(fake_deliveries())
    summary = next(job for job in jobs.JOBS if job.name == "retention-purge").run()
    assert "2 alerts" in summary  # the first tip's two alerts; the retried ones stay
    remaining = db.session.scalars(select(Notification.id)).all()
    assert not set(first_two[:2]) & set(remaining)
    assert set(first_two[2:]) <= set(remaining)
    assert len(fake_deliveries()) == before - 2
    app.config["TIPLINE_ALERT_RETENTION_DAYS"] = 0
    try:
        assert "0 alerts" in next(j for j in jobs.JOBS if j.name == "retention-purge").run()
    finally:
        app.config["TIPLINE_ALERT_RETENTION_DAYS"] = 90
