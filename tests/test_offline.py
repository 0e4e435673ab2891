"""Tips written offline and sent later by the phone's outbox: no CSRF token, the follow-up
code chosen on the phone, replays that never make a second tip; up to three photos, and
photos added later from the status page."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from tipline.extensions import db
from tipline.tips import services
from tipline.tips.models import EventKind, TipEvent

from .conftest import database_text
from .test_public import (
    follow_up,
    gps_jpeg,
    post_tip,
    receipt_of,
    the_tip,
    tip_count,
    tip_form,
    upload,
)

JSON = {"Accept": "application/json"}
SAME_ORIGIN = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}


def phone_code() -> str:
    """A follow-up code as tipline.js draws it: 16 symbols of the alphabet."""
    return "".join(secrets.choice(services.ALPHABET) for _ in range(16))


def grouped(code: str) -> str:
    return services.format_code(code)


# --- the follow-up code chosen on the phone ------------------------------------------------


def test_code_chosen_on_the_phone_is_the_receipt_code_and_only_its_hash_is_stored(client, world):
    code = phone_code()
    response = post_tip(client, tip_form(follow_up_code=code), headers=SAME_ORIGIN)
    assert response.status_code == 200
    reference, shown = receipt_of(response)
    assert shown == grouped(code)
    tip = the_tip(reference)
    assert tip.receipt_hash == services.hash_code(code)
    assert code not in database_text()
    assert follow_up(client, reference, grouped(code)).status_code == 200
    assert follow_up(client, reference, code.lower()).status_code == 200


def test_outbox_replay_hours_later_without_any_token_gives_the_same_tip(client, world):
    form = tip_form(follow_up_code=phone_code())
    first = post_tip(client, form, headers={**SAME_ORIGIN, **JSON})
    assert first.status_code == 200
    answer = first.get_json()
    assert answer["created"] is True
    assert answer["code"] == grouped(form["follow_up_code"])
    # The answer was lost on a bad network; the outbox sends the very same form again,
    # with no session and no CSRF token (the resident pages set no cookie at all).
    client.delete_cookie("session")
    again = post_tip(client, form, headers={**SAME_ORIGIN, **JSON})
    assert again.status_code == 200
    assert again.get_json() == {**answer, "created": False}
    assert tip_count() == 1
    assert "Set-Cookie" not in again.headers
    assert again.headers["Cache-Control"] == "no-store"


def test_replay_with_another_code_learns_nothing_and_changes_nothing(client, world):
    form = tip_form(follow_up_code=phone_code())
    reference = post_tip(client, form, headers=JSON).get_json()["reference"]
    stolen_key = dict(form, follow_up_code=phone_code())
    for headers in (JSON, {}):
        response = post_tip(client, stolen_key, headers=headers)
        assert response.status_code == 409
        assert reference not in response.get_data(as_text=True)
    # Nor can a replay without a code (the derived one) read the receipt.
    response = post_tip(client, dict(form, follow_up_code=""), headers=JSON)
    assert response.status_code == 409
    assert tip_count() == 1
    assert the_tip(reference).receipt_hash == services.hash_code(form["follow_up_code"])


@pytest.mark.parametrize("bad", ["SHORT", "0" * 16, "I" * 16, "A" * 17, "ABCD-EFGH-JKLM-NPQ!"])
def test_follow_up_code_of_the_wrong_shape_is_refused(client, world, bad):
    response = post_tip(client, tip_form(follow_up_code=bad), headers=JSON)
    assert response.status_code == 422
    assert "follow_up_code" in response.get_json()["fields"]
    assert tip_count() == 0


def test_form_without_a_code_still_gets_the_code_derived_from_its_key(client, world):
    form = tip_form()
    reference, code = receipt_of(post_tip(client, form))
    assert code == grouped(services.code_for(form["submission_key"]))
    assert receipt_of(post_tip(client, form)) == (reference, code)


def test_cross_site_replay_is_refused(client, world):
    form = tip_form(follow_up_code=phone_code())
    for headers in (
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
    ):
        assert post_tip(client, form, headers=headers).status_code == 403
    assert tip_count() == 0


def test_invalid_tip_from_the_outbox_gets_its_errors_as_json(client, world):
    response = post_tip(client, tip_form(description="", follow_up_code=phone_code()), headers=JSON)
    assert response.status_code == 422
    answer = response.get_json()
    assert answer["fields"]["description"] == ["Hãy mô tả sự việc."]
    assert "Hãy mô tả sự việc." in answer["error"]


# --- up to three photos ---------------------------------------------------------------------


def test_three_photos_travel_with_one_tip(client, world):
    photos = [upload(gps_jpeg((120 + i, 80)), f"anh-{i}.jpg") for i in range(3)]
    reference, _ = receipt_of(post_tip(client, tip_form(photo=photos)))
    assert len(the_tip(reference).photos) == 3


def test_a_fourth_photo_is_refused_and_three_are_kept(client, world):
    photos = [upload(gps_jpeg((120 + i, 80)), f"anh-{i}.jpg") for i in range(4)]
    response = post_tip(client, tip_form(photo=photos))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Chỉ gửi được tối đa 3 ảnh" in html
    assert tip_count() == 0
    # The three kept photos come back as tokens: fixing nothing else, the form goes through.
    import re

    tokens = re.search(r'name="photo_token" type="hidden" value="([^"]*)"', html).group(1)
    key = re.search(r'name="submission_key" type="hidden" value="([^"]*)"', html).group(1)
    assert len(tokens.split()) == 3
    reference, _ = receipt_of(post_tip(client, tip_form(submission_key=key, photo_token=tokens)))
    assert len(the_tip(reference).photos) == 3


# --- photos added later from the status page --------------------------------------------------


def add_photo(client, reference: str, code: str, *files, headers=None):
    return client.post(
        "/tra-cuu/anh",
        data={"reference": reference, "code": code, "photo": list(files)},
        content_type="multipart/form-data",
        headers=headers or {},
    )


def test_status_page_offers_to_add_a_photo_with_the_codes_in_hidden_fields(client, world):
    reference, code = receipt_of(post_tip(client, tip_form()))
    html = follow_up(client, reference, code).get_data(as_text=True)
    assert 'action="/tra-cuu/anh"' in html
    assert f'name="reference" type="hidden" value="{reference}"' in html
    assert "Tin có 0 ảnh." in html


def test_tipster_adds_a_photo_later_and_the_timeline_shows_it(client, world):
    reference, code = receipt_of(post_tip(client, tip_form()))
    response = add_photo(client, reference, code, upload(gps_jpeg()))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    assert "Đã thêm 1 ảnh." in html
    assert "Thêm ảnh" in html  # the timeline entry
    tip = the_tip(reference)
    assert len(tip.photos) == 1
    kinds = db.session.scalars(
        select(TipEvent.kind).where(TipEvent.tip_id == tip.id).order_by(TipEvent.id)
    ).all()
    assert kinds == [EventKind.SUBMITTED, EventKind.PHOTO_ADDED]


def test_retried_photo_upload_is_added_once(client, world):
    reference, code = receipt_of(post_tip(client, tip_form()))
    photo = gps_jpeg((200, 150))
    for _ in range(2):
        response = add_photo(client, reference, code, upload(photo), headers=JSON)
        assert response.status_code == 200
    assert response.get_json() == {"reference": reference, "added": 0, "photos": 1}
    assert len(the_tip(reference).photos) == 1


def test_no_more_than_three_photos_in_all(client, world):
    photos = [upload(gps_jpeg((120 + i, 80)), f"anh-{i}.jpg") for i in range(2)]
    reference, code = receipt_of(post_tip(client, tip_form(photo=photos)))
    response = add_photo(client, reference, code, upload(gps_jpeg((300, 90))), headers=JSON)
    assert response.get_json()["photos"] == 3
    response = add_photo(client, reference, code, upload(gps_jpeg((310, 90))))
    assert response.status_code == 422
    assert "tối đa 3 ảnh" in response.get_data(as_text=True)
    assert len(the_tip(reference).photos) == 3


def test_wrong_codes_cannot_add_a_photo(client, world):
    reference, code = receipt_of(post_tip(client, tip_form()))
    response = add_photo(client, reference, "2222-2222-2222-2222", upload(gps_jpeg()))
    assert response.status_code == 422
    assert "Mã số tin báo hoặc mã tra cứu không đúng." in response.get_data(as_text=True)
    assert len(the_tip(reference).photos) == 0


def test_adding_nothing_or_a_non_photo_explains_why(client, world):
    reference, code = receipt_of(post_tip(client, tip_form()))
    assert add_photo(client, reference, code).status_code == 422
    response = add_photo(client, reference, code, upload(b"not a photo", "x.jpg"))
    assert response.status_code == 422
    assert len(the_tip(reference).photos) == 0
