"""Numbers for SMS: a staff member's own (checked by a code sent to it), a tipster's opt-in
on the tip form, both sealed at rest, never logged, and removed by retention."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from tipline.alerts import sms
from tipline.alerts.channels import CHANNELS
from tipline.alerts.channels.base import STAFF_REPLY, URGENT_TIP, Alert, DeliveryError
from tipline.alerts.sms_models import StaffSmsNumber, TipSmsSubscription
from tipline.alerts.sms_numbers import CODE_TRIES
from tipline.extensions import db
from tipline.tips.models import IdentityTier, Tip
from tipline.tips.retention import purge_closed_tips

from .conftest import database_text
from .sms_fakes import FakeAndroidGateway, android_settings, use
from .test_caching import post_tip, tip_form
from .test_retention import NOW, closed_tip

PAGE = "/staff/settings/notifications/sms"
NUMBER = "0912 345 678"
# Every way the number could be written down (a log, a column, an error).
WRITTEN = ("912345678", "912 345 678", "912.345.678")


@pytest.fixture
def android(app, monkeypatch):
    fake = FakeAndroidGateway()
    use(app, monkeypatch, android_settings(fake))
    yield fake
    fake.close()


def channel():
    return CHANNELS["sms"]


def last_code(fake: FakeAndroidGateway) -> str:
    return re.search(r"\b(\d{6})\b", fake.received[-1]["textMessage"]["text"]).group(1)


def add_number(client, phone=NUMBER, back=PAGE):
    return client.post(PAGE, data={"sms-phone": phone, "back": back})


def confirm(client, code):
    return client.post(PAGE + "/xac-nhan", data={"sms-code": code, "back": PAGE})


def number_row(world, name="police_a") -> StaffSmsNumber | None:
    db.session.expire_all()
    return db.session.scalar(
        select(StaffSmsNumber).where(StaffSmsNumber.user_id == world.users[name].id)
    )


def assert_nowhere(text: str) -> None:
    assert not any(written in text for written in WRITTEN)


# --- staff numbers -------------------------------------------------------------------


def test_a_staff_number_takes_alerts_only_once_the_code_sent_to_it_comes_back(
    ctx, world, login, android
):
    client = login("police_a")
    response = add_number(client)
    assert response.status_code == 302 and response.headers["Location"] == PAGE
    sent = android.received[-1]
    assert sent["phoneNumbers"] == ["+84912345678"]
    assert sms.sms_parts(sent["textMessage"]["text"]).count == 1
    user_id = world.users["police_a"].id
    assert channel().staff_targets(user_id) == []  # not checked yet: no alert goes there

    page = client.get(PAGE).get_data(as_text=True)
    assert "0912 *** 678" in page and "chờ xác nhận" in page
    code = last_code(android)
    wrong = "000000" if code != "000000" else "111111"
    refused = confirm(client, wrong)
    assert refused.status_code == 422 and "Mã không đúng." in refused.get_data(as_text=True)
    assert confirm(client, f" {code[:3]} {code[3:]} ").status_code == 302  # spaces allowed
    assert "Đang nhận tin nhắn ở số" in (page := client.get(PAGE).get_data(as_text=True))
    assert '<span class="number">0912 *** 678</span>' in page
    assert channel().staff_targets(user_id) == [f"staff:{number_row(world).id}"]
    # The code works once.
    assert confirm(client, code).status_code == 422


def test_a_staff_number_is_sealed_in_the_database_and_never_logged(
    app, ctx, world, login, android, caplog
):
    caplog.set_level(logging.DEBUG)
    client = login("police_a")
    add_number(client)
    confirm(client, last_code(android))
    row = number_row(world)
    assert row.verified_at is not None
    assert_nowhere(database_text())
    assert_nowhere(caplog.text + " ".join(str(record.args) for record in caplog.records))
    assert "+84912345678" not in database_text()


def test_a_bad_number_is_refused_and_shown_back_cut(ctx, world, login, android):
    client = login("leader_a1")
    refused = add_number(client, "12345")
    assert refused.status_code == 422
    assert "Số điện thoại không đúng" in refused.get_data(as_text=True)
    long = add_number(client, "9" * 5000)
    assert long.status_code == 422 and "9" * 21 not in long.get_data(as_text=True)
    assert number_row(world, "leader_a1") is None and android.requests == []


def test_an_offline_gateway_keeps_the_number_waiting_for_a_new_code(
    app, ctx, world, login, monkeypatch
):
    fake = FakeAndroidGateway()
    use(app, monkeypatch, android_settings(fake))
    fake.close()
    client = login("police_a")
    response = add_number(client, back="/staff/settings/notifications")
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "cổng SMS bận hoặc không trả lời" in page
    assert 'value="0912 345 678"' in page  # what was typed is kept
    assert number_row(world).code_hash is None  # no code went out: none is waiting

    again = FakeAndroidGateway()
    use(app, monkeypatch, android_settings(again))
    try:
        resent = client.post(PAGE + "/gui-lai", data={"back": "/staff/settings/notifications"})
        assert resent.status_code == 302
        assert resent.headers["Location"] == "/staff/settings/notifications"
        assert confirm(client, last_code(again)).status_code == 302
    finally:
        again.close()
    assert number_row(world).verified_at is not None


def test_a_code_expires_and_wrong_tries_run_out(ctx, world, login, android, time_machine):
    time_machine.move_to(datetime(2026, 6, 1, 3, 0), tick=False)
    client = login("police_a")
    add_number(client)
    code = last_code(android)
    time_machine.move_to(datetime(2026, 6, 1, 3, 11), tick=False)
    expired = confirm(client, code)
    assert expired.status_code == 422 and "hết hạn" in expired.get_data(as_text=True)

    client.post(PAGE + "/gui-lai", data={"back": PAGE})
    code = last_code(android)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(CODE_TRIES):
        assert confirm(client, wrong).status_code == 422
    spent = confirm(client, code)
    assert spent.status_code == 422 and "sai quá nhiều lần" in spent.get_data(as_text=True)
    assert number_row(world).verified_at is None


def test_a_code_of_letters_is_refused_without_counting_a_try(ctx, world, login, android):
    client = login("police_a")
    add_number(client)
    refused = confirm(client, "abc")
    assert refused.status_code == 422 and "6 chữ số" in refused.get_data(as_text=True)
    assert number_row(world).code_tries == 0


def test_removing_the_number_stops_sms_alerts(ctx, world, login, android):
    client = login("police_a")
    add_number(client)
    confirm(client, last_code(android))
    target = channel().staff_targets(world.users["police_a"].id)[0]
    assert client.post(PAGE + "/xoa", data={"back": PAGE}).status_code == 302
    assert number_row(world) is None
    with pytest.raises(DeliveryError) as gone:
        channel().send(target, urgent_alert(), timeout=2)
    assert gone.value.gone is True


def test_back_never_leaves_the_site(ctx, world, login, android):
    client = login("police_a")
    response = add_number(client, back="https://evil.example/")
    assert response.headers["Location"] == PAGE


def test_without_a_gateway_the_page_says_so_and_nothing_is_kept(ctx, world, login):
    client = login("police_a")
    assert "chưa bật gửi tin nhắn SMS" in client.get(PAGE).get_data(as_text=True)
    response = add_number(client)
    assert response.status_code == 503
    assert "chưa bật gửi tin nhắn SMS" in response.get_data(as_text=True)
    assert number_row(world) is None


def test_the_page_fits_a_phone_and_carries_csrf_tokens(ctx, world, login, android):
    page = login("police_a").get(PAGE).get_data(as_text=True)
    assert 'name="sms-phone"' in page and 'type="tel"' in page
    assert page.count('name="csrf_token"') >= 2  # the page's sign-out form and this one


# --- what staff receive --------------------------------------------------------------


def urgent_alert(key="tipline-9") -> Alert:
    return Alert(
        kind=URGENT_TIP,
        title="Tin báo khẩn mới TL-AB12-CD34",
        body="Mức ưu tiên: Khẩn\nLoại vụ việc: Đánh nhau",
        url="http://127.0.0.1:5000/staff/tips/abcdefghijklmnop",
        urgent=True,
        topic="tipline-n9",
        key=key,
        reference="TL-AB12-CD34",
    )


def test_a_staff_sms_names_the_tip_and_its_link_in_one_part(ctx, world, login, android):
    client = login("police_a")
    add_number(client)
    confirm(client, last_code(android))
    target = channel().staff_targets(world.users["police_a"].id)[0]
    channel().send(target, urgent_alert(), timeout=2)
    sent = android.received[-1]
    assert sent["phoneNumbers"] == ["+84912345678"]
    assert sent["textMessage"]["text"] == (
        "Tin bao khan moi TL-AB12-CD34. Xem: http://127.0.0.1:5000/staff/tips/abcdefghijklmnop"
    )
    channel().send(target, urgent_alert(), timeout=2)  # a repeat after a crash
    assert len(android.received) == 2  # the code and one alert: the repeat was dropped
    assert channel().idempotent is True


# --- tipsters ------------------------------------------------------------------------


def test_the_tip_form_offers_sms_updates_only_with_a_gateway(client, world, android):
    page = client.get("/gui-tin?xa=A").get_data(as_text=True)
    assert 'name="sms_updates"' in page


def test_the_tip_form_has_no_sms_box_without_a_gateway(client, world):
    page = client.get("/gui-tin?xa=A").get_data(as_text=True)
    assert 'name="sms_updates"' not in page


def confidential_form(**overrides):
    data = tip_form(
        identity_tier="confidential", name="Trần Thị Mai", phone=NUMBER, sms_updates="y"
    )
    data.update(overrides)
    return data


def latest_tip() -> Tip:
    db.session.expire_all()
    return db.session.scalar(select(Tip).order_by(Tip.id.desc()))


def test_a_confidential_tipster_opts_in_and_gets_a_content_free_sms(
    app, ctx, client, world, android, caplog
):
    caplog.set_level(logging.DEBUG)
    response = post_tip(client, confidential_form())
    assert response.status_code == 200
    tip = latest_tip()
    targets = channel().resident_targets(tip.id)
    assert len(targets) == 1
    row = db.session.scalar(select(TipSmsSubscription).where(TipSmsSubscription.tip_id == tip.id))
    assert "912345678" not in row.phone_sealed + row.phone_hash

    alert = Alert(STAFF_REPLY, "x", "y", "http://127.0.0.1:5000/tra-cuu", False, "t", "tipline-5")
    channel().send(targets[0], alert, timeout=2)
    sent = android.received[-1]
    assert sent["phoneNumbers"] == ["+84912345678"]
    text = sent["textMessage"]["text"]
    assert text == (
        f"Tin bao {tip.reference} cua ban co cap nhat moi. Xem: http://127.0.0.1:5000/tra-cuu"
    )
    assert sms.sms_parts(text).count == 1
    assert "Mai" not in text and "xe máy" not in text
    assert_nowhere(caplog.text + " ".join(str(record.args) for record in caplog.records))


def test_an_anonymous_tipster_cannot_leave_a_number(ctx, client, world, android):
    post_tip(client, confidential_form(identity_tier="anonymous"))
    tip = latest_tip()
    assert tip.identity_tier == IdentityTier.ANONYMOUS
    assert channel().resident_targets(tip.id) == []
    assert_nowhere(database_text())


def test_without_the_box_ticked_no_number_is_kept_for_sms(ctx, client, world, android):
    data = confidential_form()
    del data["sms_updates"]
    post_tip(client, data)
    assert channel().resident_targets(latest_tip().id) == []


def test_a_form_sent_twice_keeps_one_opt_in(ctx, client, world, android):
    data = confidential_form()
    post_tip(client, data)
    post_tip(client, data)
    assert len(db.session.scalars(select(TipSmsSubscription)).all()) == 1


def test_retention_deletes_the_tipsters_number_with_the_identity(
    ctx, world, make_tip, time_machine
):
    old = closed_tip(world, make_tip, closed=NOW - timedelta(days=400))
    recent = closed_tip(world, make_tip, closed=NOW - timedelta(days=3))
    from tipline.alerts.sms_numbers import subscribe_tip

    subscribe_tip(old, "0912345678")
    subscribe_tip(recent, "0987654321")
    db.session.commit()
    time_machine.move_to(NOW, tick=False)
    report = purge_closed_tips()
    assert report.swept["sms_numbers"] == 1
    assert channel().resident_targets(old.id) == []
    assert len(channel().resident_targets(recent.id)) == 1
    assert purge_closed_tips().swept["sms_numbers"] == 0


# --- on the tipster's status page ----------------------------------------------------


def follow(client, data):
    from .test_public import receipt_of

    reference, code = receipt_of(post_tip(client, data))
    page = client.post("/tra-cuu", data={"reference": reference, "code": code})
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_a_tipster_turns_sms_updates_on_and_off_on_the_status_page(ctx, client, world, android):
    data = confidential_form()
    del data["sms_updates"]
    page = follow(client, data)
    assert "Bật tin nhắn SMS" in page
    tip = latest_tip()
    turned_on = client.post("/tra-cuu/sms", data={"sms": "on"})
    assert turned_on.status_code == 303
    assert len(channel().resident_targets(tip.id)) == 1
    page = client.get(turned_on.headers["Location"]).get_data(as_text=True)
    assert "Đã bật tin nhắn SMS cho tin này." in page and "Tắt tin nhắn SMS" in page
    assert client.post("/tra-cuu/sms", data={"sms": "off"}).status_code == 303
    assert channel().resident_targets(tip.id) == []
    assert_nowhere(database_text().replace(tip.contact.phone, ""))  # only the identity's own


def test_an_anonymous_tipster_is_offered_no_sms_and_cannot_force_it(ctx, client, world, android):
    page = follow(client, tip_form())
    assert "Bật tin nhắn SMS" not in page
    refused = client.post("/tra-cuu/sms", data={"sms": "on"})
    assert refused.status_code == 422
    assert "chỉ tin có tên và số điện thoại" in refused.get_data(as_text=True)
    assert channel().resident_targets(latest_tip().id) == []


def test_without_a_session_the_switch_asks_for_the_codes(ctx, client, world, android):
    assert client.post("/tra-cuu/sms", data={"sms": "on"}).status_code == 401
