"""Photos added later are decoded and stored only once the request is authorised
(security review, item 10): the two codes through the follow-up guard, or the session.

A wrong code, an unknown reference, no session or an ended one: the photo decoder is
never called and nothing is written to the upload folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tipline.public import views

from .test_messages import new_code, sign_in, tipster_cookies
from .test_public import gps_jpeg, upload

JSON = {"Accept": "application/json"}


@pytest.fixture
def decoder_must_not_run(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a photo was decoded before the request was authorised")

    monkeypatch.setattr(views, "process_photo", refuse)
    monkeypatch.setattr(views, "store_photo", refuse)


def stored_files(app) -> list[str]:
    folder = Path(app.config["UPLOAD_DIR"])
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def three_photos():
    return [upload(gps_jpeg((200 + i, 100))) for i in range(3)]


@pytest.fixture
def tip_and_code(world, make_tip):
    code = new_code()
    return make_tip(world.a1, follow_up_code=code), code


@pytest.mark.parametrize("headers", [{}, JSON])
def test_wrong_code_decodes_and_stores_nothing(
    app, client, tip_and_code, decoder_must_not_run, headers
):
    tip, code = tip_and_code
    before = stored_files(app)
    wrong = ("2" if code[0] != "2" else "3") + code[1:]
    for reference, typed in ((tip.reference, wrong), ("TL-2222-2222", code), ("", "")):
        response = client.post(
            "/tra-cuu/anh",
            data={"reference": reference, "code": typed, "photo": three_photos()},
            content_type="multipart/form-data",
            headers=headers,
        )
        assert response.status_code == 422
    assert stored_files(app) == before
    assert len(tip.photos) == 0


def test_no_session_decodes_and_stores_nothing(app, client, tip_and_code, decoder_must_not_run):
    before = stored_files(app)
    response = client.post(
        "/tra-cuu/tin/anh", data={"photo": three_photos()}, content_type="multipart/form-data"
    )
    assert response.status_code == 401
    assert stored_files(app) == before


def test_ended_session_decodes_and_stores_nothing(app, client, tip_and_code, monkeypatch):
    tip, code = tip_and_code
    signed_in = sign_in(client, tip.reference, code)
    token = tipster_cookies(signed_in)[0].split(";")[0].split("=", 1)[1]
    client.post("/tra-cuu/thoat")
    for path in ("/tra-cuu", "/en/tra-cuu"):  # a copy of the cookie kept from before
        client.set_cookie("tipline_tipster", token, path=path)

    def refuse(*args, **kwargs):
        raise AssertionError("decoded without a session")

    monkeypatch.setattr(views, "process_photo", refuse)
    before = stored_files(app)
    response = client.post(
        "/tra-cuu/tin/anh", data={"photo": three_photos()}, content_type="multipart/form-data"
    )
    assert response.status_code == 401
    assert stored_files(app) == before


def test_right_code_or_session_still_adds_photos(app, client, tip_and_code):
    tip, code = tip_and_code
    response = client.post(
        "/tra-cuu/anh",
        data={"reference": tip.reference, "code": code, "photo": [upload(gps_jpeg())]},
        content_type="multipart/form-data",
        headers=JSON,
    )
    assert response.status_code == 200 and response.get_json()["added"] == 1
    sign_in(client, tip.reference, code)
    response = client.post(
        "/tra-cuu/tin/anh",
        data={"photo": [upload(gps_jpeg((150, 90)))]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    assert len(tip.photos) == 2
    assert len([f for f in stored_files(app) if not os.path.basename(f).startswith(".")]) >= 4
