"""Local fakes of the two SMS gateways, on 127.0.0.1 in a thread of the test.

FakeAndroidGateway speaks SMS Gateway for Android's documented API (the app's
swagger.json and its local server's MessagesRoutes.kt): POST /messages (or /message)
with basic auth and a JSON body holding exactly one of textMessage / message, at least
one phone number and an id of at most 36 characters; 202 with the message's state,
409 when the id was taken, 400 {"message"} on a bad request, 401 without the right
user and password. FakeHttpProvider takes {to, text, id, sender} with its key in a header.

Both keep what they were sent; `mode` makes them fail: "500", "503" (with Retry-After),
"hang" (no answer until `release` is set).
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Fake:
    def __init__(self) -> None:
        self.received: list[dict] = []
        self.requests: list[dict] = []  # every request, with its headers
        self.mode = "ok"
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # the test's output stays quiet
                return None

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                fake.requests.append({"path": self.path, "headers": dict(self.headers), "raw": raw})
                if fake.mode == "hang":
                    fake.release.wait(10)
                    return self._answer(503, {"message": "late"})
                if fake.mode == "500":
                    return self._answer(500, {"message": "Failed to send"})
                if fake.mode == "503":
                    return self._answer(503, {"message": "busy"}, {"Retry-After": "120"})
                status, body = fake.handle(self.path, dict(self.headers), raw)
                self._answer(status, body)

            def _answer(self, status, body, headers=None):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def handle(self, path, headers, raw) -> tuple[int, dict]:
        raise NotImplementedError


class FakeAndroidGateway(_Fake):
    """The phone's local server (default user "sms", as the app creates it)."""

    def __init__(self, user: str = "sms", password: str = "p4ssw0rd-from-app") -> None:  # noqa: S107
        self.user, self.password = user, password
        self.by_id: dict[str, dict] = {}
        super().__init__()

    def handle(self, path, headers, raw):
        if path.split("?")[0] not in ("/message", "/messages"):
            return 404, {"message": "Not Found"}
        expected = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        if headers.get("Authorization") != f"Basic {expected}":
            return 401, {"message": "Unauthorized"}
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, {"message": "Bad Request"}
        kinds = [k for k in ("textMessage", "dataMessage", "message") if body.get(k) is not None]
        if len(kinds) != 1:
            return 400, {
                "message": "Must specify exactly one of: textMessage, dataMessage, or message"
            }
        text = body.get("message") or (body.get("textMessage") or {}).get("text")
        if not text:
            return 400, {"message": "Text message is empty"}
        phones = body.get("phoneNumbers") or []
        if not phones:
            return 400, {"message": "Empty phone numbers list"}
        message_id = body.get("id") or f"generated{len(self.by_id)}"
        if len(message_id) > 36:
            return 400, {"message": "id too long"}
        if message_id in self.by_id:  # the id is the app's primary key
            return 409, {"message": "Message with such ID already exists"}
        self.by_id[message_id] = body
        self.received.append(body)
        return 202, {
            "id": message_id,
            "deviceId": "PyDmBQZZXYmyxMwED8Fzy",
            "state": "Pending",
            "isHashed": False,
            "isEncrypted": False,
            "recipients": [{"phoneNumber": p, "state": "Pending"} for p in phones],
            "states": {},
        }


class FakeHttpProvider(_Fake):
    """A generic provider: key in X-Api-Key; refuses numbers that are not +84… with 400."""

    def __init__(self, key: str = "provider-key") -> None:
        self.key = key
        super().__init__()

    def handle(self, path, headers, raw):
        if headers.get("X-Api-Key") != self.key:
            return 401, {"error": "bad key"}
        body = json.loads(raw)
        if not str(body.get("to", "")).startswith("+84"):
            return 400, {"error": "bad number"}
        self.received.append(body)
        return 200, {"status": "queued"}


def android_settings(fake: FakeAndroidGateway) -> dict:
    return {
        "TIPLINE_SMS_DRIVER": "android",
        "TIPLINE_SMS_ANDROID_URL": fake.url,
        "TIPLINE_SMS_ANDROID_USER": fake.user,
        "TIPLINE_SMS_ANDROID_PASSWORD": fake.password,
    }


def use(app, monkeypatch, settings: dict) -> None:
    """Settings for this test only, with a budget of its own (the limiter's store outlives it)."""
    for key, value in settings.items():
        monkeypatch.setitem(app.config, key, value)
    monkeypatch.setitem(app.config, "RATELIMIT_KEY_PREFIX", f"t{uuid.uuid4().hex[:8]}")
