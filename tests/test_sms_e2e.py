"""SMS end to end: a resident's tip → the outbox → the worker → the Android gateway's fake.

The worker's pass runs in the test's transaction (its commits release savepoints); the
gateway is sms_fakes' local server speaking SMS Gateway for Android's API.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tipline.alerts import delivery
from tipline.alerts.channels import CHANNELS
from tipline.alerts.compose import compose
from tipline.alerts.models import DEAD, FAILED, SENT, Delivery
from tipline.alerts.worker import run_pass
from tipline.core.timeutil import utcnow
from tipline.extensions import db
from tipline.tips.models import Tip

from .sms_fakes import FakeAndroidGateway, FakeHttpProvider, android_settings, use
from .test_public import DESCRIPTION, PLACE, post_tip, receipt_of, tip_form
from .test_sms_numbers import PAGE, add_number, confirm, last_code

TIPSTER = {"identity_tier": "confidential", "name": "Trần Thị Mai", "phone": "0987 654 321"}


@pytest.fixture
def android(app, monkeypatch):
    fake = FakeAndroidGateway()
    use(app, monkeypatch, android_settings(fake))
    yield fake
    fake.close()


def with_number(login, fake, name="leader_a1", phone="0912 345 678"):
    client = login(name)
    assert add_number(client, phone).status_code == 302
    assert confirm(client, last_code(fake)).status_code == 302
    fake.received.clear()
    return client


def sms_deliveries() -> list[Delivery]:
    db.session.expire_all()
    return db.session.scalars(
        select(Delivery).where(Delivery.channel == "sms").order_by(Delivery.id)
    ).all()


def test_an_urgent_tip_reaches_the_leaders_phone_and_a_question_the_tipster(
    app, client, world, login, android
):
    leader = with_number(login, android)
    with_number(login, android, "leader_a2", "0911 111 111")  # another village
    reference, _ = receipt_of(
        post_tip(client, tip_form(category="disturbance", sms_updates="y", **TIPSTER))
    )
    tip = db.session.scalar(select(Tip).where(Tip.reference == reference))

    run_pass(run_jobs=False)

    [alert] = android.received
    assert alert["phoneNumbers"] == ["+84912345678"]
    text = alert["textMessage"]["text"]
    assert text == (
        f"Tin bao khan moi {reference}. Xem: http://127.0.0.1:5000/staff/tips/{tip.public_id}"
    )
    for secret in (DESCRIPTION, PLACE, "Mai", "987654321", "Đánh nhau", "Danh nhau"):
        assert secret not in text
    assert [d.state for d in sms_deliveries()] == [SENT]

    question = leader.post(
        f"/staff/tips/{tip.public_id}/message",
        data={"body": "Chị thấy mấy người?", "kind": "question"},
    )
    assert question.status_code == 303
    run_pass(run_jobs=False)

    resident = android.received[-1]
    assert resident["phoneNumbers"] == ["+84987654321"]
    assert resident["textMessage"]["text"] == (
        f"Tin bao {reference} cua ban co cap nhat moi. Xem: http://127.0.0.1:5000/tra-cuu"
    )
    assert [d.state for d in sms_deliveries()] == [SENT, SENT]


def test_by_default_sms_brings_urgent_tips_only(client, world, login, android):
    with_number(login, android)
    post_tip(client, tip_form(category="theft"))  # normal priority: the app and push only
    run_pass(run_jobs=False)
    assert android.received == []
    assert sms_deliveries() == []


def test_an_offline_gateway_is_retried_until_it_comes_back(app, client, world, login, monkeypatch):
    fake = FakeAndroidGateway()
    use(app, monkeypatch, android_settings(fake))
    with_number(login, fake)
    fake.close()  # the phone loses its Wi-Fi
    post_tip(client, tip_form(category="disturbance"))
    run_pass(run_jobs=False)
    [delivery] = sms_deliveries()
    assert delivery.state == FAILED and "cannot be reached" in delivery.last_error
    assert delivery.next_attempt_at > utcnow()

    back = FakeAndroidGateway()  # the same phone, back on the network
    use(app, monkeypatch, android_settings(back))
    try:
        db.session.execute(update(Delivery).values(next_attempt_at=utcnow()))
        db.session.commit()
        run_pass(run_jobs=False)
        assert [d.state for d in sms_deliveries()] == [SENT]
        assert len(back.received) == 1
    finally:
        back.close()


def test_wrong_credentials_give_up_at_once_with_words_for_the_administrator(
    app, client, world, login, android, monkeypatch
):
    with_number(login, android)
    monkeypatch.setitem(app.config, "TIPLINE_SMS_ANDROID_PASSWORD", "changed-on-the-phone")
    post_tip(client, tip_form(category="disturbance"))
    run_pass(run_jobs=False)
    [delivery] = sms_deliveries()
    assert delivery.state == DEAD
    assert "401" in delivery.last_error and "TIPLINE_SMS_ANDROID_PASSWORD" in delivery.last_error
    assert "912345678" not in delivery.last_error


def test_a_number_removed_before_the_send_drops_its_delivery(client, world, login, android):
    leader = with_number(login, android)
    post_tip(client, tip_form(category="disturbance"))
    run_pass(run_jobs=False)
    assert len(android.received) == 1
    assert leader.post(PAGE + "/xoa", data={"back": PAGE}).status_code == 302
    post_tip(client, tip_form(category="disturbance"))
    run_pass(run_jobs=False)
    assert len(android.received) == 1  # nothing more went out


@pytest.mark.parametrize("driver", ["android", "http"])
def test_a_worker_dying_after_the_send_repeats_nothing_on_a_gateway_with_ids(
    app, client, world, login, monkeypatch, driver
):
    """The gateway took the text, then the worker died before marking it: another worker
    sends it again once the lease runs out. The Android gateway drops the repeated id;
    a provider without ids may deliver it twice, and the worker counts that."""
    android = FakeAndroidGateway()
    use(app, monkeypatch, android_settings(android))
    try:
        with_number(login, android)
    finally:
        android.close()
    fake = FakeAndroidGateway() if driver == "android" else FakeHttpProvider()
    settings = (
        android_settings(fake)
        if driver == "android"
        else {
            "TIPLINE_SMS_DRIVER": "http",
            "TIPLINE_SMS_HTTP_URL": fake.url + "/send",
            "TIPLINE_SMS_HTTP_KEY": fake.key,
        }
    )
    use(app, monkeypatch, settings)
    try:
        post_tip(client, tip_form(category="disturbance"))
        delivery.fan_out(10)
        claimed = delivery.claim(10, lease_seconds=60)
        [row] = sms_deliveries()
        assert row.state == "sending" and row.id in claimed.ids
        tip = db.session.get(Tip, row.notification.tip_id)
        alert = compose(row.notification, tip, row, show_category=False)
        CHANNELS["sms"].send(row.target, alert, timeout=2)  # ... and the worker dies here
        db.session.execute(update(Delivery).values(lease_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()

        run_pass(run_jobs=False)

        [row] = sms_deliveries()
        assert row.state == SENT
        if driver == "android":
            assert len(fake.received) == 1 and len(fake.requests) == 2  # the 409 repeat
            assert row.repeats == 0
        else:
            assert len(fake.received) == 2
            assert row.repeats == 1
    finally:
        fake.close()
