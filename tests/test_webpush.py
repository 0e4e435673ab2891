"""Web Push: subscriptions (staff devices, a resident's tip), sealed storage, the channel.

A local push receiver stands in for the browser's push service: a threading HTTP server on
127.0.0.1 that checks the VAPID Authorization header (RFC 8292), decrypts the aes128gcm
payload (RFC 8291) with the subscription's private key and auth secret made here, records
Topic, TTL and Urgency, and answers as each endpoint's path asks (201, 404, 410, 429, 500,
a redirect, or no answer at all).
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import render_template_string
from py_vapid import Vapid02
from sqlalchemy import func, select

from tipline.alerts import push
from tipline.alerts.channels import webpush
from tipline.alerts.channels.base import NEW_TIP, STAFF_REPLY, Alert, DeliveryError
from tipline.core import sealed
from tipline.core.timeutil import utcnow
from tipline.extensions import db
from tipline.tips.retention import purge_closed_tips

from .conftest import PASSWORD, at_once, database_text, settings_like
from .test_public import follow_up, post_tip, receipt_of, tip_form
from .test_retention import closed_tip


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


# --- the local push service ------------------------------------------------------------


@dataclass
class Received:
    mode: str
    headers: dict
    payload: dict | None
    vapid_ok: bool
    audience: str | None


@dataclass
class Receiver:
    port: int
    release: threading.Event
    keys: dict = field(default_factory=dict)  # token -> (private key, auth secret)
    got: list[Received] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def subscription(self, mode: str = "ok") -> dict:
        """A browser's PushSubscription.toJSON(), its keys known to this receiver only."""
        private = ec.generate_private_key(ec.SECP256R1())
        public = private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        auth = os.urandom(16)
        token = b64(os.urandom(12))
        self.keys[token] = (private, auth)
        return {
            "endpoint": f"{self.origin}/push/{mode}/{token}",
            "expirationTime": None,
            "keys": {"p256dh": b64(public), "auth": b64(auth)},
        }

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.got) >= count, timeout), self.got
        return self.got


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            _, _, mode, token = self.path.split("/", 3)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            auth = self.headers.get("Authorization", "")
            try:
                vapid_ok = bool(Vapid02.verify(auth))
            except Exception:
                vapid_ok = False
            audience = None
            match = re.search(r"t=([^,]+)", auth)
            if match:
                claims = match.group(1).split(".")[1]
                audience = json.loads(base64.urlsafe_b64decode(claims + "==")).get("aud")
            payload = None
            if token in receiver.keys:
                private, secret = receiver.keys[token]
                plain = http_ece.decrypt(
                    body, private_key=private, auth_secret=secret, version="aes128gcm"
                )
                payload = json.loads(plain)
            headers = {name.lower(): value for name, value in self.headers.items()}
            record = Received(mode, headers, payload, vapid_ok, audience)
            if mode == "hang":
                receiver.release.wait(20)
            status, headers = {
                "ok": (201, {}),
                "gone": (410, {}),
                "missing": (404, {}),
                "busy": (429, {"Retry-After": "7"}),
                "fail": (500, {"Retry-After": "30"}),
                "hang": (201, {}),
                "redirect": (307, {"Location": f"{receiver.origin}/push/ok/{token}"}),
                "forbidden": (403, {}),
            }[mode]
            with receiver.arrived:
                receiver.got.append(record)
                receiver.arrived.notify_all()
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass  # the sender gave up (timeout)

    return Handler


@pytest.fixture
def receiver(app, monkeypatch):
    release = threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), None)  # type: ignore[arg-type]
    receiver = Receiver(server.server_address[1], release)
    server.RequestHandlerClass = _handler(receiver)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setitem(
        app.config,
        "TIPLINE_PUSH_SERVICE_HOSTS",
        f"https://fcm.googleapis.com,{receiver.origin},https://*.notify.windows.com",
    )
    yield receiver
    release.set()
    server.shutdown()
    server.server_close()


def alert(**overrides) -> Alert:
    values = {
        "kind": NEW_TIP,
        "title": "Tin mới TL-ABCD-2345",
        "body": "Mức khẩn: thường",
        "url": "http://127.0.0.1:5000/staff/tips/abc",
        "urgent": False,
        "topic": "tip-abc-new",
        "key": "k-1",
        "reference": "TL-ABCD-2345",
    }
    values.update(overrides)
    return Alert(**values)


CHANNEL = webpush.channel


def subscribe_staff(client, subscription: dict):
    return client.post("/staff/push", json=subscription, headers={"Accept": "application/json"})


def device_ids(user_id: int) -> list[str]:
    return CHANNEL.staff_targets(user_id)


# --- the channel against the local receiver ----------------------------------------------


def test_a_push_is_signed_encrypted_and_carries_topic_ttl_and_urgency(app, world, login, receiver):
    leader = login("leader_a1")
    response = subscribe_staff(leader, receiver.subscription("ok"))
    assert response.status_code == 201, response.get_data(as_text=True)
    [target] = device_ids(world.users["leader_a1"].id)

    CHANNEL.send(target, alert(urgent=True), timeout=5)

    [got] = receiver.wait_for(1)
    assert got.vapid_ok, got.headers.get("authorization")
    assert f"k={push.vapid_public_key()}" in got.headers["authorization"]
    assert got.audience == receiver.origin
    assert got.headers["content-encoding"] == "aes128gcm"
    assert got.headers["topic"] == "tip-abc-new"
    assert got.headers["ttl"] == str(app.config["TIPLINE_PUSH_TTL_SECONDS"])
    assert got.headers["urgency"] == "high"
    assert got.payload == {
        "title": "Tin mới TL-ABCD-2345",
        "body": "Mức khẩn: thường",
        "url": "http://127.0.0.1:5000/staff/tips/abc",
        "tag": "tip-abc-new",
        "urgent": True,
    }


def test_a_normal_alert_goes_with_normal_urgency_and_a_long_topic_is_shortened(
    world, login, receiver
):
    subscribe_staff(login("leader_a1"), receiver.subscription("ok"))
    [target] = device_ids(world.users["leader_a1"].id)
    CHANNEL.send(target, alert(topic="a topic with spaces that is far too long"), timeout=5)
    [got] = receiver.wait_for(1)
    assert got.headers["urgency"] == "normal"
    assert re.fullmatch(r"[0-9a-f]{32}", got.headers["topic"])


def test_a_residents_push_is_content_free_whatever_the_alert_says(app, world, make_tip, receiver):
    tip = make_tip(world.a1)
    row = push.subscribe_tip(tip, push.parse_subscription(receiver.subscription("ok")))
    db.session.commit()
    assert CHANNEL.resident_targets(tip.id) == [str(row.id)]

    CHANNEL.send(
        str(row.id),
        alert(kind=STAFF_REPLY, title=f"{tip.reference}: {tip.description}", body="Thôn Đông"),
        timeout=5,
    )

    [got] = receiver.wait_for(1)
    assert got.payload["title"] == "Tin báo của bạn có cập nhật mới"
    assert got.payload["url"] == app.config["TIPLINE_BASE_URL"].rstrip("/") + "/tra-cuu"
    text = json.dumps(got.payload, ensure_ascii=False)
    for secret in (tip.reference, tip.description, "Thôn Đông"):
        assert secret not in text


@pytest.mark.parametrize("mode", ["gone", "missing"])
def test_404_or_410_means_gone_and_forget_deletes_the_subscription(world, login, receiver, mode):
    subscribe_staff(login("leader_a1"), receiver.subscription(mode))
    [target] = device_ids(world.users["leader_a1"].id)
    with pytest.raises(DeliveryError) as failed:
        CHANNEL.send(target, alert(), timeout=5)
    assert failed.value.gone and not failed.value.retry
    CHANNEL.forget(target)
    db.session.commit()
    assert device_ids(world.users["leader_a1"].id) == []
    # The worker may try a target that is gone already: gone again, never a crash.
    with pytest.raises(DeliveryError) as again:
        CHANNEL.send(target, alert(), timeout=5)
    assert again.value.gone


@pytest.mark.parametrize(("mode", "wait"), [("fail", 30), ("busy", 7)])
def test_500_and_429_retry_after_what_the_service_asked(world, login, receiver, mode, wait):
    subscribe_staff(login("leader_a1"), receiver.subscription(mode))
    [target] = device_ids(world.users["leader_a1"].id)
    with pytest.raises(DeliveryError) as failed:
        CHANNEL.send(target, alert(), timeout=5)
    assert failed.value.retry and not failed.value.gone
    assert failed.value.retry_after == wait
    assert device_ids(world.users["leader_a1"].id) == [target]  # kept for the retry


def test_a_push_service_that_hangs_hits_the_time_limit_and_is_retried(world, login, receiver):
    subscribe_staff(login("leader_a1"), receiver.subscription("hang"))
    [target] = device_ids(world.users["leader_a1"].id)
    with pytest.raises(DeliveryError) as failed:
        CHANNEL.send(target, alert(), timeout=0.3)
    assert failed.value.retry and not failed.value.gone
    assert "in time" in str(failed.value)
    assert failed.value.maybe_sent  # the request left: the phone may have the alert
    receiver.release.set()


def test_a_redirect_is_not_followed_and_a_403_is_not_retried(world, login, receiver):
    client = login("leader_a1")
    subscribe_staff(client, receiver.subscription("redirect"))
    subscribe_staff(client, receiver.subscription("forbidden"))
    targets = device_ids(world.users["leader_a1"].id)
    for target in targets:
        with pytest.raises(DeliveryError) as failed:
            CHANNEL.send(target, alert(), timeout=5)
        assert not failed.value.retry and not failed.value.gone
    assert [r.mode for r in receiver.wait_for(2)] == ["redirect", "forbidden"]  # nothing more


def test_an_endpoint_taken_off_the_allow_list_is_not_contacted(
    app, world, login, receiver, monkeypatch
):
    subscribe_staff(login("leader_a1"), receiver.subscription("ok"))
    [target] = device_ids(world.users["leader_a1"].id)
    monkeypatch.setitem(app.config, "TIPLINE_PUSH_SERVICE_HOSTS", "https://fcm.googleapis.com")
    with pytest.raises(DeliveryError) as failed:
        CHANNEL.send(target, alert(), timeout=5)
    assert not failed.value.retry
    assert receiver.got == []


def test_a_deactivated_account_has_no_targets(world, login, receiver):
    subscribe_staff(login("leader_a1"), receiver.subscription("ok"))
    user = world.user("leader_a1")
    assert device_ids(user.id)
    user.active = False
    db.session.commit()
    assert device_ids(user.id) == []


# --- staff routes ----------------------------------------------------------------------


def test_staff_subscribe_needs_a_signed_in_account(client, world, receiver):
    response = client.post("/staff/push", json=receiver.subscription())
    assert response.status_code == 302 and "/staff/login" in response.location
    assert db.session.scalar(select(func.count(push.PushSubscription.id))) == 0


@pytest.mark.parametrize(
    ("body", "content_type", "words"),
    [
        ("not json", "application/json", "phải là JSON"),
        ("[1, 2]", "application/json", "phải là JSON"),
        ('{"endpoint": 5}', "application/json", "không hợp lệ"),
        ('{"endpoint": "ENDPOINT"}', "application/json", "không hợp lệ"),
        ('{"endpoint": "ENDPOINT", "keys": {"p256dh": "AAAA", "auth": "AAAA"}}', None, "hợp lệ"),
        ("endpoint=x", "application/x-www-form-urlencoded", "phải là JSON"),
    ],
)
def test_a_malformed_subscription_is_a_400_in_vietnamese(
    world, login, receiver, body, content_type, words
):
    endpoint = receiver.subscription()["endpoint"]
    response = login("leader_a1").post(
        "/staff/push",
        data=body.replace("ENDPOINT", endpoint),
        content_type=content_type or "application/json",
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert words in response.get_json()["error"]
    assert db.session.scalar(select(func.count(push.PushSubscription.id))) == 0


@pytest.mark.parametrize(
    "tail",
    ["\\ud800", "\\udc00x", "\\u0000x", "\\u00e9", "x\\ty"],
)
@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_an_endpoint_with_odd_characters_is_a_400_never_a_500(world, login, receiver, tail, method):
    # JSON escapes a browser never writes in a push address: half a surrogate pair, NUL,
    # a letter outside ASCII, a tab.
    endpoint = receiver.subscription()["endpoint"]
    body = receiver.subscription() | {"endpoint": "ENDPOINT"}
    raw = json.dumps(body).replace("ENDPOINT", endpoint + tail)
    client = login("leader_a1")
    response = client.open(
        "/staff/push",
        method=method,
        data=raw,
        content_type="application/json",
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert response.get_json()["error"]
    assert db.session.scalar(select(func.count(push.PushSubscription.id))) == 0


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://push.example.com/send/abc",
        "http://fcm.googleapis.com/fcm/send/abc",  # https only
        "https://fcm.googleapis.com:8443/fcm/send/abc",  # another port, another origin
        "https://fcm.googleapis.com.evil.example/x",
        "https://user@fcm.googleapis.com/fcm/send/abc",
        "https://notify.windows.com/w/?token=x",  # the wildcard names subdomains only
        "http://127.0.0.1:1/push/ok/x",
        "file:///etc/passwd",
        "javascript:alert(1)",
    ],
)
def test_an_endpoint_outside_the_allow_list_is_a_400(world, login, receiver, endpoint):
    subscription = receiver.subscription()
    subscription["endpoint"] = endpoint
    response = subscribe_staff(login("leader_a1"), subscription)
    assert response.status_code == 400
    assert "không nằm trong danh sách" in response.get_json()["error"]


def test_the_major_push_services_are_accepted_by_default(app, monkeypatch):
    import config

    monkeypatch.setitem(
        app.config, "TIPLINE_PUSH_SERVICE_HOSTS", config.Config.TIPLINE_PUSH_SERVICE_HOSTS
    )
    with app.app_context():
        for endpoint in (
            "https://fcm.googleapis.com/fcm/send/abc",
            "https://updates.push.services.mozilla.com/wpush/v2/abc",
            "https://web.push.apple.com/QGx",
            "https://wns2-par02p.notify.windows.com/w/?token=abc",
        ):
            assert push.endpoint_origin(endpoint) is not None, endpoint
        assert push.endpoint_origin("http://127.0.0.1:5000/push") is None


def test_the_default_allow_list_is_the_major_browsers_over_https():
    import config

    origins = push.parse_origins(config.Config.TIPLINE_PUSH_SERVICE_HOSTS)
    assert {o.scheme for o in origins} == {"https"}
    assert {o.host for o in origins} == {
        "fcm.googleapis.com",
        "updates.push.services.mozilla.com",
        "web.push.apple.com",
        "notify.windows.com",
    }
    with pytest.raises(ValueError):
        push.parse_origins("fcm.googleapis.com")
    with pytest.raises(ValueError):
        push.parse_origins("https://fcm.googleapis.com/fcm/send")


def test_a_wildcard_host_must_resolve_to_public_addresses(monkeypatch):
    monkeypatch.setattr(
        push.socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("10.0.0.5", 443))]
    )
    assert not push.public_host("x.notify.windows.com", 443)
    monkeypatch.setattr(
        push.socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("20.42.73.1", 443))]
    )
    assert push.public_host("x.notify.windows.com", 443)


def test_staff_push_needs_the_csrf_token_in_the_header(app, world, other_app, receiver):
    guarded = other_app(settings_like(app, WTF_CSRF_ENABLED=True))
    guarded.config["TIPLINE_PUSH_SERVICE_HOSTS"] = app.config["TIPLINE_PUSH_SERVICE_HOSTS"]
    client = guarded.test_client()
    token = _csrf(client.get("/staff/login"))
    signed_in = client.post(
        "/staff/login", data={"username": "leader_a1", "password": PASSWORD, "csrf_token": token}
    )
    assert signed_in.status_code == 302
    page_token = _csrf(client.get("/staff/"))

    refused = client.post("/staff/push", json=receiver.subscription())
    assert refused.status_code == 400
    taken = client.post(
        "/staff/push", json=receiver.subscription(), headers={"X-CSRFToken": page_token}
    )
    assert taken.status_code == 201, taken.get_data(as_text=True)
    wrong = client.delete(
        "/staff/push", json={"endpoint": "x"}, headers={"X-CSRFToken": "not-the-token"}
    )
    assert wrong.status_code == 400


def _csrf(response) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)[:500]
    return match.group(1)


def test_a_cross_site_post_is_refused(world, login, receiver):
    response = login("leader_a1").post(
        "/staff/push",
        json=receiver.subscription(),
        headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert db.session.scalar(select(func.count(push.PushSubscription.id))) == 0


def test_several_devices_per_person_each_removable_only_by_its_owner(world, login, receiver):
    leader = login("leader_a1")
    phone, laptop = receiver.subscription(), receiver.subscription()
    assert subscribe_staff(leader, phone).status_code == 201
    assert subscribe_staff(leader, laptop).status_code == 201
    assert subscribe_staff(leader, phone).status_code == 201  # sent again: one row
    assert len(device_ids(world.users["leader_a1"].id)) == 2

    other = login("leader_a2").delete("/staff/push", json={"endpoint": phone["endpoint"]})
    assert other.get_json() == {"removed": False}
    removed = leader.delete("/staff/push", json={"endpoint": phone["endpoint"]})
    assert removed.status_code == 200 and removed.get_json() == {"removed": True}
    assert len(device_ids(world.users["leader_a1"].id)) == 1


def test_a_shared_phone_signed_in_by_someone_else_moves_to_them(world, login, receiver):
    phone = receiver.subscription()
    subscribe_staff(login("leader_a1"), phone)
    subscribe_staff(login("police_a"), phone)
    assert device_ids(world.users["leader_a1"].id) == []
    assert len(device_ids(world.users["police_a"].id)) == 1


def test_the_device_list_offers_a_test_push_and_removal(app, world, login, receiver):
    leader = login("leader_a1")
    subscribe_staff(leader, receiver.subscription("ok"))
    subscribe_staff(leader, receiver.subscription("gone"))
    devices = push.staff_devices(world.users["leader_a1"].id)
    assert [d.service for d in devices] == ["127.0.0.1"] * 2
    with app.test_request_context("/staff/settings/notifications"):
        from flask_login import login_user

        login_user(world.user("leader_a1"))
        html = render_template_string('{% include "alerts/_push_devices.html" %}')
    assert "Nhận thông báo trên điện thoại này" in html
    assert 'data-endpoint="/staff/push"' in html and 'data-worker="/staff/push-sw.js"' in html
    assert html.count('name="device"') == 4  # a test and a remove form per device

    sent = leader.post(
        "/staff/push/thu", data={"device": devices[0].public_id, "next": "/staff/thong-bao/"}
    )
    assert sent.status_code == 303 and sent.location.endswith("/staff/thong-bao/")
    [got] = receiver.wait_for(1)
    assert got.payload["title"] == "Thông báo thử"
    gone = leader.post("/staff/push/thu", data={"device": devices[1].public_id})
    assert gone.status_code == 303
    assert len(device_ids(world.users["leader_a1"].id)) == 1  # 410: removed

    stranger = login("leader_a2").post("/staff/push/go", data={"device": devices[0].public_id})
    assert stranger.status_code == 303
    assert len(device_ids(world.users["leader_a1"].id)) == 1
    leader.post("/staff/push/go", data={"device": devices[0].public_id})
    assert device_ids(world.users["leader_a1"].id) == []


def test_the_staff_service_worker_is_served_under_staff(client):
    response = client.get("/staff/push-sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    assert 'addEventListener("push"' in response.get_data(as_text=True)
    assert "worker-src 'self'" in response.headers["Content-Security-Policy"]


# --- residents -------------------------------------------------------------------------


def test_a_resident_opts_in_only_within_the_tipsters_session(client, world, receiver):
    reference, code = receipt_of(post_tip(client, tip_form()))
    outside = client.post("/tra-cuu/push", json=receiver.subscription())
    assert outside.status_code == 401
    assert "Phiên tra cứu" in outside.get_json()["error"]

    page = follow_up(client, reference, code)
    html = page.get_data(as_text=True)
    assert 'data-push="tip"' in html and "data-codes" not in html
    assert "Google, Apple hoặc Mozilla" in html
    subscription = receiver.subscription()
    inside = client.post("/tra-cuu/push", json=subscription)
    assert inside.status_code == 201, inside.get_data(as_text=True)
    tip_id = db.session.scalar(select(push.PushSubscription.tip_id))
    assert tip_id is not None

    off = client.delete("/tra-cuu/push", json={"endpoint": subscription["endpoint"]})
    assert off.get_json() == {"removed": True}
    assert db.session.scalar(select(func.count(push.PushSubscription.id))) == 0


def test_the_receipt_offers_the_opt_in_with_its_two_codes(client, world, receiver):
    response = post_tip(client, tip_form())
    html = response.get_data(as_text=True)
    reference, code = receipt_of(response)
    assert 'data-push="tip"' in html and 'data-codes="1"' in html
    assert "Báo cho tôi khi có trả lời" in html

    wrong = client.post(
        "/tra-cuu/push",
        json={"subscription": receiver.subscription(), "reference": reference, "code": "x" * 8},
    )
    assert wrong.status_code == 422
    right = client.post(
        "/tra-cuu/push",
        json={"subscription": receiver.subscription(), "reference": reference, "code": code},
    )
    assert right.status_code == 201, right.get_data(as_text=True)


def test_two_tips_from_one_phone_get_two_unrelated_scopes(app, client, world, make_tip):
    first, second = make_tip(world.a1), make_tip(world.a1)
    with app.test_request_context("/"):
        one, two = push.push_optin(first), push.push_optin(second)
        assert one["scope"] != two["scope"]
        assert one["worker"] == one["scope"] + "sw.js"
        token = one["scope"].split("/")[-2]
        assert first.public_id not in one["scope"] and first.reference not in one["scope"]
        assert push.push_optin(first)["scope"] == one["scope"]  # stable for the tip
    worker = client.get(one["worker"])
    assert worker.status_code == 200 and worker.headers["Cache-Control"] == "no-cache"
    assert client.get(f"/tra-cuu/push/{token[:-1]}/sw.js").status_code == 404
    assert client.get("/tra-cuu/push/../sw.js").status_code == 404


def test_push_addresses_are_sealed_at_rest(world, login, make_tip, receiver):
    subscription = receiver.subscription()
    subscribe_staff(login("leader_a1"), subscription)
    tip = make_tip(world.a1)
    resident = receiver.subscription()
    push.subscribe_tip(tip, push.parse_subscription(resident))
    db.session.commit()
    everything = database_text()
    for sub in (subscription, resident):
        assert sub["endpoint"] not in everything
        assert sub["endpoint"].rsplit("/", 1)[1] not in everything
        assert sub["keys"]["p256dh"] not in everything
        assert sub["keys"]["auth"] not in everything
    created = list(db.session.scalars(select(push.PushSubscription.created_at)))
    assert all((at.second, at.microsecond) == (0, 0) for at in created)  # to the minute
    hashes = set(db.session.scalars(select(push.PushSubscription.endpoint_hash)))
    assert sealed.lookup_hash(subscription["endpoint"], push.HASH_PURPOSE) in hashes


def test_the_subscription_ends_with_the_reply_window_and_the_purge(
    app, world, make_tip, receiver, runner
):
    now = utcnow()
    days = app.config["TIPLINE_TIPSTER_REPLY_DAYS"]
    old = closed_tip(world, make_tip, closed=now - timedelta(days=days + 1))
    recent = closed_tip(world, make_tip, closed=now - timedelta(days=1))
    with app.test_request_context("/"):
        assert push.push_optin(old) is None  # no offer once the window is over
        assert push.push_optin(recent) is not None
    with pytest.raises(Exception, match="thời hạn"):
        push.subscribe_tip(old, push.parse_subscription(receiver.subscription()))
    db.session.rollback()
    old_row = push.PushSubscription(
        tip_id=old.id,
        endpoint_hash="x" * 64,
        sealed=sealed.seal(json.dumps(receiver.subscription())),
    )
    db.session.add(old_row)
    push.subscribe_tip(recent, push.parse_subscription(receiver.subscription()))
    db.session.commit()
    old_id = old_row.id
    # Not a target any more, and a send says gone.
    assert CHANNEL.resident_targets(old.id) == []
    with pytest.raises(DeliveryError) as failed:
        CHANNEL.send(str(old_id), alert(), timeout=5)
    assert failed.value.gone

    report = purge_closed_tips()
    assert report.swept["push_subscriptions"] == 1
    left = list(db.session.scalars(select(push.PushSubscription.tip_id)))
    assert left == [recent.id]


def test_the_vapid_key_is_generated_once_into_instance(tmp_path):
    first = push._instance_vapid_key(tmp_path)
    assert push._instance_vapid_key(tmp_path) == first
    assert (tmp_path / "vapid_private_key").stat().st_mode & 0o777 == 0o600
    assert len(base64.urlsafe_b64decode(first + "==")) == 32


def test_production_without_a_vapid_key_turns_web_push_off(app, monkeypatch, world, login):
    monkeypatch.setitem(app.config, "TIPLINE_PRODUCTION", True)
    monkeypatch.setitem(app.config, "TIPLINE_VAPID_PRIVATE_KEY", None)
    with app.app_context():
        assert push.vapid() is None and not CHANNEL.available()
    response = login("leader_a1").post("/staff/push", json={"endpoint": "x"})
    assert response.status_code == 503


def test_a_vapid_key_from_the_environment_is_used(app, monkeypatch):
    key = ec.generate_private_key(ec.SECP256R1())
    raw = b64(key.private_numbers().private_value.to_bytes(32, "big"))
    monkeypatch.setitem(app.config, "TIPLINE_VAPID_PRIVATE_KEY", raw)
    expected = b64(
        key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )
    with app.app_context():
        assert push.vapid_public_key() == expected


def test_an_unreadable_vapid_key_turns_web_push_off_without_breaking_pages(
    app, monkeypatch, world, make_tip
):
    monkeypatch.setitem(app.config, "TIPLINE_VAPID_PRIVATE_KEY", "not-a-key")
    tip = make_tip(world.a1)
    with app.test_request_context("/"):
        assert push.vapid() is None
        assert push.push_optin(tip) is None


@pytest.mark.commits  # requests in threads, each with its own connection
def test_one_subscription_sent_twice_at_once_makes_one_row(app, world, receiver):
    subscription = receiver.subscription()
    clients = []
    for _ in range(2):
        client = app.test_client()
        client.post("/staff/login", data={"username": "leader_a1", "password": PASSWORD})
        clients.append(client)
    answers = at_once(2, lambda i: subscribe_staff(clients[i], subscription).status_code)
    assert set(answers) <= {201, 409} and 201 in answers
    with app.app_context():
        assert db.session.scalar(select(func.count(push.PushSubscription.id))) == 1


def test_a_residents_opt_in_keeps_nothing_of_the_client(client, world, receiver, caplog):
    address, agent = "203.0.113.77", "Mozilla/5.0 (TiplineTraceProbe 4.2)"
    headers = {"User-Agent": agent, "X-Forwarded-For": address}
    reference, code = receipt_of(post_tip(client, tip_form(), headers=headers))
    caplog.clear()
    answer = client.post(
        "/tra-cuu/push",
        json={"subscription": receiver.subscription(), "reference": reference, "code": code},
        headers=headers,
        environ_base={"REMOTE_ADDR": address},
    )
    assert answer.status_code == 201
    everything = database_text()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for trace in (address, agent, "TiplineTraceProbe"):
        assert trace not in everything and trace not in logged
