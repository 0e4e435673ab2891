"""Every kind of body has a cap, and no over-long field is echoed back (review, item 11).

A multipart body may carry photos and keeps the upload limit; any other body (URL-encoded,
JSON, anything) is read whole and gets TIPLINE_MAX_FORM_BYTES, with a Content-Length or
chunked without one. A field longer than its form limit is refused with a message and
shown back cut to the limit.
"""

from __future__ import annotations

import io
import json
import time
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from tipline.extensions import db
from tipline.tips.models import TipMessage

from .test_messages import new_code, sign_in
from .test_public import post_tip, tip_count, tip_form

TOO_LARGE = "Nội dung gửi lên quá lớn (tối đa 256 KB)"
MARKER = "Z" * 40  # never in a page by itself


def big_form(size: int) -> bytes:
    filler = "A" * size
    return urlencode({**tip_form(), "description": filler}).encode()


def test_a_25_mb_urlencoded_tip_is_refused_before_it_is_parsed(client, world):
    body = big_form(25 * 1024 * 1024)
    started = time.perf_counter()
    response = client.post(
        "/gui-tin?xa=A", data=body, content_type="application/x-www-form-urlencoded"
    )
    elapsed = time.perf_counter() - started
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert TOO_LARGE in html
    assert len(html) < 20_000  # nothing of the body comes back
    assert "AAAAAAAAAA" not in html
    assert elapsed < 2, elapsed
    assert tip_count() == 0


def test_a_chunked_urlencoded_body_without_a_length_is_cut_off_at_the_cap(client, world):
    body = big_form(2 * 1024 * 1024)
    response = client.post(
        "/gui-tin?xa=A",
        input_stream=io.BytesIO(body),
        content_type="application/x-www-form-urlencoded",
        environ_overrides={"wsgi.input_terminated": True},
        headers={"Transfer-Encoding": "chunked"},
    )
    assert response.status_code == 413
    assert TOO_LARGE in response.get_data(as_text=True)
    assert tip_count() == 0


@pytest.mark.parametrize("path", ["/tra-cuu", "/tra-cuu/tin-nhan", "/staff/login", "/api/v1/"])
def test_every_other_body_kind_has_the_small_cap(client, world, path):
    body = b'{"x": "' + b"A" * (300 * 1024) + b'"}'
    for content_type in ("application/json", "application/x-www-form-urlencoded", "text/plain"):
        response = client.post(path, data=body, content_type=content_type)
        assert response.status_code == 413, (path, content_type, response.status_code)
        assert b"AAAAAAAAAA" not in response.get_data()


def test_json_clients_get_the_message_as_json(client, world):
    response = client.post(
        "/gui-tin?xa=A",
        data=big_form(300 * 1024),
        content_type="application/x-www-form-urlencoded",
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 413
    assert TOO_LARGE in response.get_json()["error"]


def test_a_multipart_tip_with_photos_keeps_its_larger_limit(app, client, world):
    from .test_public import gps_jpeg, upload

    # Over the small cap, under the upload limit: accepted.
    padding = "x" * (300 * 1024)
    data = tip_form(photo=[upload(gps_jpeg())], name=padding[:0])
    data["place"] = "Chợ"
    response = post_tip(client, {**data, "unused": padding})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]


def test_an_overlong_description_is_refused_and_not_echoed(client, world):
    response = post_tip(client, tip_form(description=MARKER * 1000))  # 40,000 characters
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Mô tả cần từ 10 đến 4000 ký tự." in html
    assert html.count(MARKER) <= 4000 // len(MARKER)
    assert tip_count() == 0


@pytest.mark.parametrize(
    ("field", "limit"),
    [("place", 300), ("phone", 100), ("latitude", 100), ("occurred_on", 100), ("name", 120)],
)
def test_no_overlong_field_is_echoed(client, world, field, limit):
    overrides = {field: MARKER * 200}  # 8,000 characters
    if field in ("phone", "name"):
        overrides["identity_tier"] = "confidential"
        overrides.setdefault("name", "Nguyễn Văn A")
        overrides.setdefault("phone", "0912345678")
    response = post_tip(client, tip_form(**overrides))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert html.count(MARKER) <= limit // len(MARKER) + 1, html.count(MARKER)
    assert f'id="{field}-error"' in html
    assert tip_count() == 0


def test_follow_up_form_does_not_echo_an_overlong_reference(client, world):
    response = client.post("/tra-cuu", data={"reference": MARKER * 500, "code": "x"})
    assert response.status_code == 422
    assert response.get_data(as_text=True).count(MARKER) <= 1


def test_an_overlong_message_is_refused_and_not_echoed(client, world, make_tip):
    code = new_code()
    tip = make_tip(world.a1, follow_up_code=code)
    sign_in(client, tip.reference, code)
    response = client.post("/tra-cuu/tin-nhan", data={"body": MARKER * 1000, "kind": "information"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Tin nhắn tối đa" in html
    assert html.count(MARKER) <= 2000 // len(MARKER) + 1
    assert db.session.scalar(select(TipMessage)) is None


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/api/v1/tokens", r'{"username": "police_a", "password": "\ud800"}'),
        ("/api/v1/tokens", r'{"username": "x\udfff", "password": "p"}'),
        ("/open311/v2/requests.json", r'{"description": "\ud83d"}'),
    ],
)
def test_json_with_half_a_surrogate_pair_is_a_400_never_a_500(client, world, path, raw):
    # A JSON escape no person or device writes: it decodes to a string that cannot be
    # encoded again (password hashing, lookups and database drivers would fail on it).
    response = client.post(path, data=raw, content_type="application/json")
    assert response.status_code == 400
    assert "ký tự không hợp lệ" in json.dumps(response.get_json(), ensure_ascii=False)


def test_json_with_a_whole_surrogate_pair_is_read(client, world):
    # An emoji written as an escaped pair is ordinary text: the sign-in is only refused.
    raw = r'{"username": "police_a", "password": "\ud83d\ude00"}'
    response = client.post("/api/v1/tokens", data=raw, content_type="application/json")
    assert response.status_code in (401, 403)
