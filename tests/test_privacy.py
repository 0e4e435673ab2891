"""A tipster leaves no trace: no address or user agent stored, logged, or kept in a cookie."""

from __future__ import annotations

import hashlib
import logging
import re
from types import SimpleNamespace

import pytest

from tipline.core import privacy
from tipline.core.privacy import DropClientAddress, client_bucket
from tipline.tips.services import new_submission_key

from .conftest import database_text, settings_like

ADDRESS = "203.0.113.77"
FORWARDED = "203.0.113.78, 203.0.113.79"
USER_AGENT = "PrivacyProbe/9.9"
TRACES = ("203.0.113", "PrivacyProbe")


def probe_client(app):
    client = app.test_client()
    client.environ_base.update(REMOTE_ADDR=ADDRESS, HTTP_USER_AGENT=USER_AGENT)
    return client


PROBE_HEADERS = {
    "User-Agent": USER_AGENT,
    "X-Forwarded-For": FORWARDED,
    "X-Real-IP": ADDRESS,
    "Forwarded": f"for={ADDRESS}",
}


def submission(**overrides) -> dict:
    data = {
        "submission_key": new_submission_key(),
        "village": "A1",
        "category": "theft",
        "description": "Có người lạ đứng canh ở ngõ 5 nhiều đêm liền.",
        "identity_tier": "confidential",
        "name": "Phạm Văn Dò",
        "phone": "0912345678",
    }
    data.update(overrides)
    return data


def log_everything(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)


def assert_no_trace_in_logs(caplog) -> None:
    for record in caplog.records:
        text = " ".join(
            str(part)
            for part in (record.getMessage(), record.exc_text, record.stack_info, vars(record))
        )
        for trace in TRACES:
            assert trace not in text, (record.name, text)


def test_submission_and_follow_up_store_and_log_no_address_or_user_agent(app, world, caplog):
    log_everything(caplog)
    client = probe_client(app)
    pages = [
        client.get("/", headers=PROBE_HEADERS),
        client.get("/gui-tin?xa=A", headers=PROBE_HEADERS),
        client.post("/gui-tin?xa=A", data=submission(description=""), headers=PROBE_HEADERS),
    ]
    receipt = client.post("/gui-tin?xa=A", data=submission(), headers=PROBE_HEADERS)
    assert receipt.status_code == 200
    html = receipt.get_data(as_text=True)
    reference = re.search(r'id="reference">([^<]+)<', html).group(1)
    code = re.search(r'id="follow-up-code">([^<]+)<', html).group(1)
    status = client.post(
        "/tra-cuu", data={"reference": reference, "code": code}, headers=PROBE_HEADERS
    )
    assert status.status_code == 200
    wrong = client.post(
        "/tra-cuu", data={"reference": reference, "code": "x"}, headers=PROBE_HEADERS
    )
    assert wrong.status_code == 422
    missing = client.get("/khong-co", headers=PROBE_HEADERS)
    assert missing.status_code == 404

    dump = database_text()
    assert reference in dump and "Phạm Văn Dò" in dump  # the dump really holds the tip
    for trace in TRACES:
        assert trace not in dump, trace
    assert_no_trace_in_logs(caplog)
    for response in [*pages, receipt, status, wrong, missing]:
        body = response.get_data(as_text=True)
        for trace in TRACES:
            assert trace not in body


def test_unexpected_error_log_holds_no_address(app, world, caplog, monkeypatch):
    from tipline.public import views

    def broken(*_args, **_kwargs):
        raise RuntimeError("database fell over")

    monkeypatch.setattr(views, "submit_tip", broken)
    log_everything(caplog)
    response = probe_client(app).post("/gui-tin?xa=A", data=submission(), headers=PROBE_HEADERS)
    assert response.status_code == 500
    assert any(r.exc_info or r.exc_text for r in caplog.records)  # the error was logged...
    assert_no_trace_in_logs(caplog)  # ...without who sent it


@pytest.mark.parametrize(
    ("method", "url", "data"),
    [
        ("GET", "/", None),
        ("GET", "/gui-tin", None),
        ("GET", "/gui-tin?xa=A", None),
        ("POST", "/gui-tin?xa=A", "submission"),
        ("POST", "/gui-tin?xa=A", "invalid"),
        ("GET", "/tra-cuu", None),
        ("POST", "/tra-cuu", "follow-up"),
        ("GET", "/khong-co", None),
        ("GET", "/gui-tin?xa=A&lang=en", None),
    ],
)
def test_resident_pages_set_no_cookie(app, world, method, url, data):
    payload = {
        None: None,
        "submission": submission(),
        "invalid": submission(description=""),
        "follow-up": {"reference": "TL-2222-2222", "code": "2222-2222-2222-2222"},
    }[data]
    client = probe_client(app)
    response = client.open(url, method=method, data=payload, headers=PROBE_HEADERS)
    assert response.status_code < 500
    assert "Set-Cookie" not in response.headers, response.headers.get("Set-Cookie")
    assert client.get_cookie("session") is None


def test_follow_up_sets_only_the_tipsters_own_short_session_cookie(app, world):
    client = probe_client(app)
    receipt = client.post("/gui-tin?xa=A", data=submission(), headers=PROBE_HEADERS)
    assert "Set-Cookie" not in receipt.headers
    html = receipt.get_data(as_text=True)
    reference = re.search(r'id="reference">([^<]+)<', html).group(1)
    code = re.search(r'id="follow-up-code">([^<]+)<', html).group(1)
    status = client.post("/tra-cuu", data={"reference": reference, "code": code})
    assert status.status_code == 200
    # The follow-up session (tipline/tips/messages.py): the tip's public id, signed; kept
    # by the browser only, on the follow-up pages only, until the browser closes.
    cookies = status.headers.getlist("Set-Cookie")
    assert cookies
    for cookie in cookies:
        assert cookie.startswith("tipline_tipster=")
        attributes = cookie.lower()
        assert "httponly" in attributes and "samesite=strict" in attributes
        assert "expires" not in attributes and "max-age" not in attributes
        assert "path=/tra-cuu" in attributes or "path=/en/tra-cuu" in attributes
        for trace in TRACES:
            assert trace not in cookie
    assert client.get_cookie("session") is None


# ------------------------------------------------------------ werkzeug's request log


def werkzeug_record(address: str) -> logging.LogRecord:
    """A record shaped like werkzeug.serving.WSGIRequestHandler.log_request's."""
    date = "12/Mar/2025 10:00:00"
    return logging.LogRecord(
        name="werkzeug",
        level=logging.INFO,
        pathname=__file__,
        lineno=1,
        msg=f"{address} - - [{date}] %s %s %s",
        args=('"POST /gui-tin?xa=A HTTP/1.1"', "200", "-"),
        exc_info=None,
    )


ADDRESSES = ["203.0.113.77", "2001:db8::77", "fe80::1%%eth0", "localhost"]


@pytest.mark.parametrize("address", ADDRESSES)
def test_request_log_filter_drops_the_client_address(address):
    record = werkzeug_record(address)
    assert DropClientAddress().filter(record) is True  # the line is kept...
    message = record.getMessage()
    assert address.replace("%%", "%") not in message  # ...without the address
    assert address.split("%")[0] not in message
    assert message == '- - [12/Mar/2025 10:00:00] "POST /gui-tin?xa=A HTTP/1.1" 200 -'


def test_werkzeug_logger_drops_the_address_once_the_app_exists(app, caplog):
    caplog.set_level(logging.INFO, logger="werkzeug")
    logger = logging.getLogger("werkzeug")
    assert any(isinstance(f, DropClientAddress) for f in logger.filters)
    logger.info(f"{ADDRESS} - - [12/Mar/2025 10:00:00] %s %s %s", '"GET / HTTP/1.1"', "200", "-")
    messages = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert messages == ['- - [12/Mar/2025 10:00:00] "GET / HTTP/1.1" 200 -']


def test_request_log_filter_leaves_other_lines_alone():
    record = logging.LogRecord(
        "werkzeug", logging.INFO, __file__, 1, "Running on %s", ("http://127.0.0.1:5000",), None
    )
    DropClientAddress().filter(record)
    assert record.getMessage() == "Running on http://127.0.0.1:5000"


# ----------------------------------------------------------------- rate-limit keys


def bucket(app, address: str) -> str:
    with app.test_request_context("/tra-cuu", environ_base={"REMOTE_ADDR": address}):
        return client_bucket()


def at_time(monkeypatch, seconds: float) -> None:
    monkeypatch.setattr(privacy, "time", SimpleNamespace(time=lambda: seconds))


def test_rate_limit_key_is_not_the_address(app, monkeypatch):
    at_time(monkeypatch, 1_750_000_000)
    key = bucket(app, ADDRESS)
    assert re.fullmatch(r"[0-9a-f]{32}", key)
    # Not a plain hash either: four billion IPv4 addresses are quickly tried.
    for plain in (hashlib.sha256, hashlib.md5, hashlib.sha1):
        assert key not in plain(ADDRESS.encode()).hexdigest()


def test_rate_limit_key_differs_between_addresses(app, monkeypatch):
    at_time(monkeypatch, 1_750_000_000)
    keys = {bucket(app, f"203.0.113.{n}") for n in range(20)}
    assert len(keys) == 20


def test_rate_limit_key_holds_within_an_hour_and_changes_with_the_hour(app, monkeypatch):
    hour = 1_750_000_000 // 3600 * 3600
    at_time(monkeypatch, hour + 1)
    first = bucket(app, ADDRESS)
    at_time(monkeypatch, hour + 3599)
    assert bucket(app, ADDRESS) == first  # one allowance per hour
    at_time(monkeypatch, hour + 3600)
    assert bucket(app, ADDRESS) != first  # and no key that links one hour to the next


def test_behind_a_proxy_each_client_gets_its_own_rate_limit(other_app, app, world, caplog):
    proxied = other_app(
        {
            "TESTING": True,
            "SECRET_KEY": app.config["SECRET_KEY"],
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "UPLOAD_DIR": app.config["UPLOAD_DIR"],
            "TIPLINE_ROOT_UNIT": "T",
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": "memory://",
            "TIPLINE_FOLLOWUP_LIMIT": "2 per hour",
            "TIPLINE_PROXY_HOPS": 1,
        }
    )
    client = proxied.test_client()
    wrong = {"reference": "TL-AAAA-BBBB", "code": "A" * 16}

    def look_up(address):
        return client.post("/tra-cuu", data=wrong, headers={"X-Forwarded-For": address}).status_code

    with caplog.at_level(logging.DEBUG):
        first = [look_up("198.51.100.1") for _ in range(3)]
        other = look_up("198.51.100.2")
        refused = client.post("/tra-cuu", data=wrong, headers={"X-Forwarded-For": "198.51.100.1"})
    assert first == [422, 422, 429]
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert other == 422  # nginx's own address is not one shared bucket for everyone
    assert "198.51.100" not in caplog.text


def test_rate_limiter_keeps_no_trace_in_redis(other_app, app, world):
    """The limiter's keys in Redis are keyed hashes that expire within the hour."""
    import os
    import uuid

    url = os.environ.get("TIPLINE_TEST_REDIS_URL")
    if not url:
        pytest.skip("TIPLINE_TEST_REDIS_URL is not set")
    import redis

    prefix = f"tipline-privacy-{uuid.uuid4().hex}"
    settings = settings_like(
        app,
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=url,
        RATELIMIT_KEY_PREFIX=prefix,
    )
    client = probe_client(other_app(settings))
    receipt = client.post("/gui-tin?xa=A", data=submission(), headers=PROBE_HEADERS)
    assert receipt.status_code == 200
    wrong = client.post(
        "/tra-cuu", data={"reference": "TL-2222-2222", "code": "x"}, headers=PROBE_HEADERS
    )
    assert wrong.status_code == 422

    server = redis.Redis.from_url(url)
    try:
        keys = list(server.scan_iter(match=f"*{prefix}*"))
        assert keys, "the limiter wrote nothing: this test would prove nothing"
        for key in keys:
            stored = key + repr(server.dump(key)).encode()
            for trace in TRACES:
                assert trace.encode() not in stored
            assert ADDRESS.encode() not in stored
            assert 0 < server.ttl(key) <= 3600
        server.delete(*keys)
    finally:
        server.close()
