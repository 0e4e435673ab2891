"""The SMS webhook refuses what it cannot believe, clearly, and changes nothing."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select

from tipline.alerts.models import Delivery
from tipline.extensions import db
from tipline.sms.models import SmsSender, SmsWebhookEvent
from tipline.sms.webhook import parse, signature
from tipline.tips.models import Tip

from .sms_fakes import FakeAndroidGateway
from .sms_intake_helpers import body_for, post, recorded, register, sign, text

PHONE = "+84987654321"


@pytest.fixture
def line(world):
    fake = FakeAndroidGateway()
    yield register(world.commune_a, fake)
    fake.close()


def nothing_changed() -> None:
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Tip.id))) == 0
    assert db.session.scalar(select(func.count(SmsSender.id))) == 0
    assert db.session.scalar(select(func.count(Delivery.id))) == 0


def test_the_documented_examples_parse_and_their_signature_matches_the_documented_method():
    event = parse(json.dumps(recorded()).encode())
    assert (event.event, event.id, event.sender) == (
        "sms:received",
        "Ey6ECgOkVVFjz3CL48B8C",
        "6505551212",
    )
    assert event.message == "Android is always a sweet treat!"
    legacy = parse(json.dumps(recorded("sms_received_legacy")).encode())
    assert legacy.sender == "+1234567890" and legacy.message == "Hello World"
    # The docs' Python: hmac.new(key.encode(), (payload + timestamp).encode(), sha256).hexdigest()
    import hashlib
    import hmac

    raw = b'{"a": 1}'
    expected = hmac.new(b"k", (raw.decode() + "1700000000").encode(), hashlib.sha256).hexdigest()
    assert signature(b"k", raw, "1700000000") == expected


def test_the_older_payload_with_phone_number_only_is_taken(client, line):
    answer = text(client, line, PHONE, "Có trộm", name="sms_received_legacy")
    assert answer["action"] == "tip"


def test_a_wrong_signature_is_refused(client, line):
    body = body_for(PHONE, "Có trộm")
    response = post(client, line, body, key="another-key")
    assert response.status_code == 401 and response.get_json()["error"] == "wrong signature"
    assert post(client, line, body, signature="").status_code == 401
    stamp = str(int(time.time()))
    tampered = body.replace("Có trộm".encode(), "Có cướp".encode())
    assert (
        post(client, line, tampered, timestamp=stamp, signature=sign(body, stamp)).status_code
        == 401
    )
    nothing_changed()


@pytest.mark.parametrize("given", ["é" * 64, "\u00ff" * 3, "z" * 64, "a" * 63, "a" * 65])
def test_a_signature_that_is_no_hex_digest_is_a_401_never_a_500(client, line, given):
    # Werkzeug reads header bytes as Latin-1: letters outside ASCII reach the comparison.
    body = body_for(PHONE, "Có trộm")
    response = post(client, line, body, signature=given.encode("latin-1").decode("latin-1"))
    assert response.status_code == 401
    nothing_changed()


@pytest.mark.parametrize("age", [301, 3600, -301])
def test_an_old_or_future_timestamp_is_refused(client, line, age):
    response = post(client, line, body_for(PHONE, "Có trộm"), timestamp=int(time.time()) - age)
    assert response.status_code == 401
    assert "window" in response.get_json()["error"]
    nothing_changed()


def test_a_repeated_event_is_ignored_but_the_same_message_id_in_another_event_is_not(client, line):
    body = body_for(PHONE, "Có trộm", event_id="evt-1")
    assert post(client, line, body).get_json()["status"] == "ok"
    again = post(client, line, body)  # the gateway's retry: the same event
    assert again.status_code == 200 and again.get_json() == {"status": "repeat"}
    resigned = post(client, line, body, timestamp=int(time.time()) - 10)
    assert resigned.get_json() == {"status": "repeat"}
    # Another event with the same (content-based) messageId is another SMS: kept.
    same_message = body_for(PHONE, "Có trộm", event_id="evt-2")
    assert (
        json.loads(same_message)["payload"]["messageId"] == json.loads(body)["payload"]["messageId"]
    )
    assert post(client, line, same_message).get_json()["status"] == "ok"
    assert db.session.scalar(select(func.count(Tip.id))) == 2
    assert db.session.scalar(select(func.count(SmsWebhookEvent.id))) == 2


def test_a_20_kb_body_is_refused(client, line):
    body = body_for(PHONE, "x" * 20 * 1024)
    response = post(client, line, body)
    assert response.status_code == 413
    assert "quá lớn" in response.get_json()["error"]
    nothing_changed()


def test_bad_bodies_get_a_clear_4xx(client, line):
    stamp = str(int(time.time()))
    for raw, content_type, status in [
        (b"not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'{"event": "sms:received"}', "application/json", 422),
        (
            b'{"event": "sms:received", "id": "e", "payload": {"message": 1}}',
            "application/json",
            422,
        ),
        (b"message=hi", "application/x-www-form-urlencoded", 415),
    ]:
        response = post(
            client,
            line,
            raw,
            timestamp=stamp,
            signature=sign(raw, stamp),
            headers={"Content-Type": content_type},
        )
        assert response.status_code == status, raw
        assert response.get_json()["error"]
    assert client.post("/sms/webhook/unknown-gateway", json={}).status_code == 404
    nothing_changed()


def test_a_turned_off_gateway_is_not_found(client, line):
    line.active = False
    db.session.commit()
    assert post(client, line, body_for(PHONE, "Có trộm")).status_code == 404


@pytest.mark.parametrize("sender", ["12345", "Viettel", "+14155550100", ""])
def test_a_sender_that_is_not_a_vietnamese_number_is_refused(client, line, sender):
    response = post(client, line, body_for(sender, "Có trộm"))
    assert response.status_code == 422
    assert "không phải số điện thoại Việt Nam" in response.get_json()["error"]
    nothing_changed()


def test_other_events_are_acknowledged_and_ignored(client, line):
    raw = json.dumps(recorded("sms_sent")).encode()
    response = post(client, line, raw)
    assert response.status_code == 200 and response.get_json()["status"] == "ignored"
    nothing_changed()


@pytest.mark.commits  # the limiter's own app, on the same database
def test_limits_per_number_and_per_gateway(app, world, limited):
    with app.app_context():
        fake = FakeAndroidGateway()
        line = register(world.commune_a, fake)
        public_id = line.public_id
    try:
        limited_app = limited(
            TIPLINE_SMS_NUMBER_LIMIT="2 per hour", TIPLINE_SMS_GATEWAY_LIMIT="4 per hour"
        )
        client = limited_app.test_client()

        class Line:
            pass

        gateway = Line()
        gateway.public_id = public_id
        answers = [text(client, gateway, PHONE, f"Tin {i}")["status"] for i in range(3)]
        assert answers == ["ok", "ok", "limited"]
        assert text(client, gateway, "+84911222333", "Tin khác")["status"] == "ok"
        # The number over its limit did not count against the gateway: one more goes.
        assert text(client, gateway, "+84911222444", "Tin nữa")["status"] == "ok"
        flood = post(client, gateway, body_for("+84911222555", "Tin nữa"))
        assert flood.status_code == 429 and flood.headers["Retry-After"]
        with limited_app.app_context():
            assert db.session.scalar(select(func.count(Tip.id))) == 4
    finally:
        fake.close()


def test_an_unexpected_failure_is_a_503_not_a_500(client, line, monkeypatch):
    from tipline.sms import conversation

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(conversation, "handle", broken)
    response = post(client, line, body_for(PHONE, "Có trộm"))
    assert response.status_code == 503 and response.headers["Retry-After"]
    nothing_changed()
