"""SMS out: parts, texts, numbers, the budget, and both drivers against local fakes."""

from __future__ import annotations

import json
import logging

import pytest

from tipline.alerts import sms
from tipline.alerts.channels.base import ESCALATED, NEW_TIP, URGENT_TIP, Alert, DeliveryError
from tipline.alerts.sms_drivers import AndroidGateway, SmsSettingsError, build, message_id

from .sms_fakes import FakeAndroidGateway, FakeHttpProvider, android_settings, use

NUMBER = "0912345678"
FORMS = ("0912345678", "912345678", "+84912345678", "0912 345 678")


@pytest.fixture
def android(app, monkeypatch):
    fake = FakeAndroidGateway()
    use(app, monkeypatch, android_settings(fake))
    yield fake
    fake.close()


@pytest.fixture
def provider(app, monkeypatch):
    fake = FakeHttpProvider()
    use(
        app,
        monkeypatch,
        {
            "TIPLINE_SMS_DRIVER": "http",
            "TIPLINE_SMS_HTTP_URL": fake.url + "/send",
            "TIPLINE_SMS_HTTP_KEY": fake.key,
            "TIPLINE_SMS_SENDER": "TIPLINE",
        },
    )
    yield fake
    fake.close()


def staff_alert(kind=NEW_TIP, *, urgent=False, key="tipline-1") -> Alert:
    return Alert(
        kind=kind,
        title="Tin báo mới TL-7K3M-9QX2" if kind == NEW_TIP else "Tin báo khẩn mới TL-7K3M-9QX2",
        body="Mức ưu tiên: Khẩn\nLoại vụ việc: Trộm cắp tài sản",
        url="https://tinbao.example.vn/staff/tips/AbCdEfGhIjKlMnOp",
        urgent=urgent,
        topic="tipline-n1",
        key=key,
        reference="TL-7K3M-9QX2",
    )


# --- parts ---------------------------------------------------------------------------


def test_the_gsm_alphabet_has_its_128_places():
    assert len(sms.GSM_BASIC) == 128
    assert len(set(sms.GSM_BASIC)) == 128


@pytest.mark.parametrize(
    ("text", "encoding", "count"),
    [
        ("", "gsm7", 1),
        ("a" * 160, "gsm7", 1),
        ("a" * 161, "gsm7", 2),
        ("a" * 306, "gsm7", 2),
        ("a" * 307, "gsm7", 3),
        ("{" * 80, "gsm7", 1),  # extension characters take two septets
        ("{" * 81, "gsm7", 2),
        ("a" * 152 + "€" + "a" * 10, "gsm7", 2),  # an escape pair is never split
        ("a" * 152 + "€" + "a" * 152, "gsm7", 3),
        ("á" * 70, "ucs2", 1),  # not in GSM-7: UCS-2
        ("ạ" * 70, "ucs2", 1),
        ("ạ" * 71, "ucs2", 2),
        ("ạ" * 134, "ucs2", 2),
        ("ạ" * 135, "ucs2", 3),
        ("😀" * 35, "ucs2", 1),  # a surrogate pair is two units
        ("ạ" * 66 + "😀" + "ạ" * 10, "ucs2", 2),  # ... and is never split
        ("ạ" * 66 + "😀" + "ạ" * 66, "ucs2", 3),
    ],
)
def test_parts_are_counted_as_the_network_carries_them(text, encoding, count):
    parts = sms.sms_parts(text)
    assert (parts.encoding, parts.count) == (encoding, count)


def test_one_vietnamese_mark_turns_a_text_into_ucs2():
    assert sms.sms_parts("Tin bao moi").encoding == "gsm7"
    assert sms.sms_parts("Tin báo mới").encoding == "ucs2"


def test_marks_are_taken_off_with_the_case_kept():
    assert sms.without_marks("Tin báo KHẨN của Đội – “x” …") == 'Tin bao KHAN cua Doi - "x" ...'
    assert sms.sms_parts(sms.without_marks("Đường Lê Lợi, phường Hàm Rồng")).encoding == "gsm7"


# --- texts ---------------------------------------------------------------------------


def test_a_residents_text_is_one_part_without_marks_and_says_nothing_of_the_tip(ctx):
    text = sms.resident_text("TL-7K3M-9QX2")
    assert (
        text == "Tin bao TL-7K3M-9QX2 cua ban co cap nhat moi. Xem: http://127.0.0.1:5000/tra-cuu"
    )
    assert sms.sms_parts(text) == sms.Parts("gsm7", len(text), 1)


def test_a_staff_text_has_reference_urgency_and_link_never_the_alerts_body(ctx):
    text = sms.staff_text(staff_alert(NEW_TIP, urgent=True))
    assert text.startswith("[KHAN] Tin bao moi TL-7K3M-9QX2. Xem: https://tinbao.example.vn/")
    assert "Trom" not in text and "Trộm" not in text  # the category was only in the body
    assert sms.sms_parts(text).count == 1
    urgent = sms.staff_text(staff_alert(URGENT_TIP, urgent=True))
    assert urgent.startswith("Tin bao khan moi TL-7K3M-9QX2.")  # said once, not twice
    assert sms.sms_parts(urgent).count == 1


def test_marks_are_kept_only_when_turned_on_and_they_still_fit(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "TIPLINE_SMS_MARKS", True)
    short = Alert(ESCALATED, "Tin TL-7K3M-9QX2 lên xã", "", "https://x.vn/t", False, "t", "k")
    assert sms.staff_text(short) == "Tin TL-7K3M-9QX2 lên xã. Xem: https://x.vn/t"
    # With the link, the resident's text is over 70 UCS-2 characters: sent without marks.
    assert sms.resident_text("TL-7K3M-9QX2").startswith("Tin bao TL-7K3M-9QX2 cua ban")


def test_numbers_are_written_for_the_gateway_and_masked_for_their_owner():
    for typed in ("0912345678", "0912.345.678", "+84912345678", "84912345678", "0912 345 678"):
        assert sms.e164(typed) == "+84912345678"
    assert sms.masked("+84912345678") == "0912 *** 678"
    for bad in ("", "12345", "0012345678", "+1 202 555 0123", "09123456789"):
        with pytest.raises(sms.BadNumber):
            sms.e164(bad)


# --- the Android gateway -------------------------------------------------------------


def test_android_gateway_gets_the_documented_request(app, ctx, android):
    parts = sms.send_sms(NUMBER, "Tin bao moi TL-7K3M-9QX2", key="tipline-42")
    assert parts.count == 1
    request = android.requests[-1]
    assert request["path"] == "/messages"
    assert request["headers"]["Content-Type"].startswith("application/json")
    body = json.loads(request["raw"])
    assert body == {
        "id": message_id("tipline-42"),
        "textMessage": {"text": "Tin bao moi TL-7K3M-9QX2"},
        "phoneNumbers": ["+84912345678"],
        "withDeliveryReport": False,
        "ttl": app.config["TIPLINE_SMS_TTL_MINUTES"] * 60,
    }
    assert len(body["id"]) <= 36


def test_our_request_has_the_fields_of_the_apps_own_python_client(ctx, android):
    domain = pytest.importorskip("android_sms_gateway.domain")
    theirs = domain.Message(
        phone_numbers=["+84912345678"],
        text_message=domain.TextMessage(text="x"),
        with_delivery_report=False,
        ttl=60,
        id="tl-1",
    ).asdict()
    ours = AndroidGateway(android.url, "u", "p").payload("+84912345678", "x", key="k", ttl=60)
    assert set(ours) <= set(theirs) | {"simNumber"}
    assert ours["textMessage"] == theirs["textMessage"]
    assert ours["phoneNumbers"] == theirs["phoneNumbers"]


def test_a_repeated_key_is_sent_once_by_the_android_gateway(ctx, android):
    sms.send_sms(NUMBER, "Tin bao moi", key="tipline-7")
    sms.send_sms(NUMBER, "Tin bao moi", key="tipline-7")  # a worker died before marking it
    assert len(android.received) == 1
    assert android.requests[-1]["raw"]  # the repeat reached the phone, which said 409
    assert sms.driver().idempotent is True


def test_wrong_credentials_are_not_retried_and_say_what_to_check(app, ctx, android, monkeypatch):
    monkeypatch.setitem(app.config, "TIPLINE_SMS_ANDROID_PASSWORD", "wrong")
    with pytest.raises(DeliveryError) as refused:
        sms.send_sms(NUMBER, "x", key="k1")
    assert refused.value.retry is False
    assert "401" in str(refused.value) and "TIPLINE_SMS_ANDROID_PASSWORD" in str(refused.value)
    assert not any(form in str(refused.value) for form in (*FORMS, "84912345678"))


def test_a_bad_request_is_not_retried(ctx, android):
    with pytest.raises(DeliveryError) as refused:
        sms.send_sms(NUMBER, "", key="k2")  # the app refuses an empty text with 400
    assert refused.value.retry is False and "400" in str(refused.value)


def test_a_number_that_is_not_vietnamese_never_reaches_the_gateway(ctx, android):
    with pytest.raises(DeliveryError) as refused:
        sms.send_sms("+1 202 555 0123", "x", key="k3")
    assert refused.value.retry is False
    assert android.requests == []


def test_an_offline_gateway_is_retried(app, ctx, monkeypatch):
    fake = FakeAndroidGateway()
    use(app, monkeypatch, android_settings(fake))
    fake.close()  # the phone's Wi-Fi is off
    with pytest.raises(DeliveryError) as offline:
        sms.send_sms(NUMBER, "x", key="k4")
    assert offline.value.retry is True
    assert "reached" in str(offline.value)


def test_a_gateway_that_hangs_is_given_up_on_in_time_and_retried(ctx, android):
    android.mode = "hang"
    with pytest.raises(DeliveryError) as slow:
        sms.send_sms(NUMBER, "x", key="k5", timeout=0.3)
    android.release.set()
    assert slow.value.retry is True and "in time" in str(slow.value)
    assert slow.value.maybe_sent  # the request had left


@pytest.mark.parametrize(("mode", "retry_after"), [("500", None), ("503", 120.0)])
def test_a_failing_gateway_is_retried(ctx, android, mode, retry_after):
    android.mode = mode
    with pytest.raises(DeliveryError) as failing:
        sms.send_sms(NUMBER, "x", key=f"k-{mode}")
    assert failing.value.retry is True
    assert failing.value.retry_after == retry_after


def test_a_wrong_path_is_an_administrators_error(app, ctx, android, monkeypatch):
    monkeypatch.setitem(app.config, "TIPLINE_SMS_ANDROID_URL", android.url + "/nowhere")
    with pytest.raises(DeliveryError) as missing:
        sms.send_sms(NUMBER, "x", key="k6")
    assert missing.value.retry is False and "TIPLINE_SMS_ANDROID_URL" in str(missing.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.sms-gate.app/3rdparty/v1",
        "https://API.SMS-GATE.APP./3rdparty/v1",
        "https://sms-gate.app/api",
    ],
)
def test_the_public_cloud_relay_is_refused(url):
    with pytest.raises(SmsSettingsError, match="cloud relay"):
        build(
            {
                "TIPLINE_SMS_DRIVER": "android",
                "TIPLINE_SMS_ANDROID_URL": url,
                "TIPLINE_SMS_ANDROID_USER": "u",
                "TIPLINE_SMS_ANDROID_PASSWORD": "p",
            }
        )


def test_settings_that_cannot_work_turn_sms_off_with_a_reason(app, ctx, monkeypatch):
    assert build({"TIPLINE_SMS_DRIVER": "none"}) is None
    with pytest.raises(SmsSettingsError):
        build({"TIPLINE_SMS_DRIVER": "pigeon"})
    with pytest.raises(SmsSettingsError):
        build({"TIPLINE_SMS_DRIVER": "android", "TIPLINE_SMS_ANDROID_URL": "http://10.0.0.2"})
    monkeypatch.setitem(app.config, "TIPLINE_SMS_DRIVER", "android")
    monkeypatch.setitem(
        app.config, "TIPLINE_SMS_ANDROID_URL", "https://api.sms-gate.app/3rdparty/v1"
    )
    assert sms.available() is False
    with pytest.raises(DeliveryError) as off:
        sms.send_sms(NUMBER, "x", key="k7")
    assert off.value.retry is False and "cloud relay" in str(off.value)


# --- the budget ----------------------------------------------------------------------


def test_the_budget_counts_parts_and_puts_off_what_is_over_it(app, ctx, android, monkeypatch):
    monkeypatch.setitem(app.config, "TIPLINE_SMS_BUDGET_PARTS", 4)
    sms.send_sms(NUMBER, "a" * 200, key="b1")  # two parts
    sms.send_sms(NUMBER, "a", key="b2")  # three
    with pytest.raises(DeliveryError) as over:
        sms.send_sms(NUMBER, "a" * 200, key="b3")  # five: over
    assert over.value.retry is True
    assert 0 < over.value.retry_after <= 30 * 60
    sms.send_sms(NUMBER, "a", key="b4")  # the fourth part still fits
    assert [body["id"] for body in android.received] == [
        message_id("b1"),
        message_id("b2"),
        message_id("b4"),
    ]
    with pytest.raises(DeliveryError):
        sms.send_sms(NUMBER, "a", key="b5")


def test_a_text_bigger_than_the_whole_budget_is_not_retried(app, ctx, android, monkeypatch):
    monkeypatch.setitem(app.config, "TIPLINE_SMS_BUDGET_PARTS", 2)
    with pytest.raises(DeliveryError) as never:
        sms.send_sms(NUMBER, "a" * 400, key="b6")  # three parts
    assert never.value.retry is False
    assert android.requests == []


def test_the_default_budget_is_androids_own_limit(app):
    assert (app.config["TIPLINE_SMS_BUDGET_PARTS"], app.config["TIPLINE_SMS_BUDGET_MINUTES"]) == (
        30,
        30,
    )


# --- the HTTP provider ---------------------------------------------------------------


def test_http_provider_gets_json_with_its_key_and_sender(ctx, provider):
    sms.send_sms(NUMBER, "Tin bao moi", key="h1")
    request = provider.requests[-1]
    assert request["path"] == "/send"
    assert request["headers"]["X-Api-Key"] == provider.key
    assert request["headers"]["Idempotency-Key"] == message_id("h1")
    assert json.loads(request["raw"]) == {
        "to": "+84912345678",
        "text": "Tin bao moi",
        "id": message_id("h1"),
        "sender": "TIPLINE",
    }
    assert sms.driver().idempotent is False


def test_http_provider_faults(app, ctx, provider, monkeypatch):
    provider.mode = "503"
    with pytest.raises(DeliveryError) as busy:
        sms.send_sms(NUMBER, "x", key="h2")
    assert busy.value.retry is True and busy.value.retry_after == 120
    provider.mode = "ok"
    monkeypatch.setitem(app.config, "TIPLINE_SMS_HTTP_KEY", "stolen")
    with pytest.raises(DeliveryError) as refused:
        sms.send_sms(NUMBER, "x", key="h3")
    assert refused.value.retry is False and "TIPLINE_SMS_HTTP_KEY" in str(refused.value)


def test_no_number_reaches_the_log(app, ctx, android, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    sms.send_sms(NUMBER, "x", key="l1")
    android.mode = "500"
    with pytest.raises(DeliveryError):
        sms.send_sms(NUMBER, "x", key="l2")
    monkeypatch.setitem(app.config, "TIPLINE_SMS_ANDROID_PASSWORD", "wrong")
    android.mode = "ok"
    with pytest.raises(DeliveryError):
        sms.send_sms(NUMBER, "x", key="l3")
    logged = caplog.text + " ".join(str(r.args) for r in caplog.records)
    assert not any(form in logged for form in ("912345678", "912 345 678"))


def test_the_budget_is_shared_through_the_limiters_store(limited, android):
    """Every worker counts in one place: Redis when the run has one (a moving window there)."""
    first = limited(**android_settings(android), TIPLINE_SMS_BUDGET_PARTS=3)
    second = limited(
        **android_settings(android),
        TIPLINE_SMS_BUDGET_PARTS=3,
        RATELIMIT_KEY_PREFIX=first.config["RATELIMIT_KEY_PREFIX"],
    )
    with first.app_context():
        sms.send_sms(NUMBER, "a" * 200, key="s1")  # two parts
    with second.app_context():  # another process, the same gateway
        sms.send_sms(NUMBER, "a", key="s2")
        with pytest.raises(DeliveryError) as over:
            sms.send_sms(NUMBER, "a", key="s3")
    assert over.value.retry is True and over.value.retry_after > 0
    assert len(android.received) == 2


def test_the_cli_sends_a_test_text_and_counts_parts(runner, android):
    result = runner.invoke(args=["tipline", "sms", "test", NUMBER])
    assert result.exit_code == 0, result.output
    assert "1 SMS" in result.output and "android" in result.output
    assert android.received[-1]["phoneNumbers"] == ["+84912345678"]
    counted = runner.invoke(args=["tipline", "sms", "parts", "Tin báo mới"])
    assert "as typed: 1 SMS (ucs2" in counted.output
    assert "without marks: 1 SMS (gsm7, 11 units)" in counted.output


def test_the_cli_says_why_a_test_text_failed(app, runner, android, monkeypatch):
    monkeypatch.setitem(app.config, "TIPLINE_SMS_ANDROID_PASSWORD", "wrong")
    result = runner.invoke(args=["tipline", "sms", "test", NUMBER])
    assert result.exit_code == 1 and "401" in result.output
    monkeypatch.setitem(app.config, "TIPLINE_SMS_DRIVER", "none")
    assert "SMS is off" in runner.invoke(args=["tipline", "sms", "test", NUMBER]).output
