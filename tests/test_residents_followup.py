"""Following a tip up without retyping (issue 17, items 8 to 10): the receipt's copy button
and status link, what was sent behind one tap on the status page, its thumbnails, and the
one reply box whose choice cannot be got wrong. Browser tests: test_residents_browser.py."""

from __future__ import annotations

import io
import re
import secrets

import pytest
from PIL import Image

from tipline.extensions import db
from tipline.media.photos import process_photo
from tipline.tips import workflow
from tipline.tips.models import MessageKind, TipMessage
from tipline.tips.services import ALPHABET, format_code, store_photo


def _jpeg(size=(640, 480), color=(90, 140, 60)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG")
    return buffer.getvalue()


def _code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(16))


@pytest.fixture
def sent(world, make_tip):
    """A tip with a place, a date, a photo and a known code; (tip, code)."""
    from datetime import date, time

    code = _code()
    tip = make_tip(
        world.a1,
        follow_up_code=code,
        description="Nhóm thanh niên đua xe sau 23 giờ ở đường liên thôn.",
        place="Ngã ba cây đa",
        occurred_on=date(2026, 3, 14),
        occurred_time=time(23, 10),
        photos=[store_photo(process_photo(_jpeg()))],
    )
    return tip, code


def _look_up(client, tip, code, prefix=""):
    return client.post(f"{prefix}/tra-cuu", data={"reference": tip.reference, "code": code})


# --- item 8: the receipt ---------------------------------------------------------------


def _receipt(client, world):
    from tipline.tips.services import new_submission_key

    return client.post(
        "/gui-tin?xa=A",
        data={
            "submission_key": new_submission_key(),
            "village": "A1",
            "category": "theft",
            "description": "Mất trộm xe đạp trước cổng chợ sáng nay.",
            "identity_tier": "anonymous",
        },
    )


def test_receipt_offers_copy_of_both_codes_and_a_status_link_without_the_code(client, world):
    page = _receipt(client, world).get_data(as_text=True)
    reference = re.search(r'id="reference">([^<]+)<', page)[1]
    code = re.search(r'id="follow-up-code">([^<]+)<', page)[1]
    copy = re.search(r"<button[^>]*data-copy [^>]*>", page)[0]
    assert f"Mã số tin báo: {reference}&#10;Mã tra cứu: {code}" in copy
    assert " hidden" in copy  # shown by the script only where it can copy
    link = re.search(r'<a [^>]*id="see-status"[^>]*>', page)[0]
    assert f'href="/tra-cuu?reference={reference}"' in link
    # The code is in the page (the receipt shows it), never in an address on it.
    assert code not in " ".join(re.findall(r'(?:href|action|src)="([^"]*)"', page))


def test_receipt_replayed_late_shows_no_status_link_with_a_code(app, client, world):
    """A form sent again after the code window: reference only, no copy of any code."""
    from tipline.tips.services import new_submission_key

    data = {
        "submission_key": new_submission_key(),
        "village": "A1",
        "category": "theft",
        "description": "Mất trộm xe đạp trước cổng chợ sáng nay.",
        "identity_tier": "anonymous",
    }
    client.post("/gui-tin?xa=A", data=data)
    saved = app.config["TIPLINE_RESUBMIT_CODE_MINUTES"]
    app.config["TIPLINE_RESUBMIT_CODE_MINUTES"] = -1
    try:
        page = client.post("/gui-tin?xa=A", data=data).get_data(as_text=True)
    finally:
        app.config["TIPLINE_RESUBMIT_CODE_MINUTES"] = saved
    assert "Tin báo này đã được nhận" in page
    assert "data-copy" not in page and 'id="see-status"' not in page


def test_lookup_page_is_prefilled_with_the_reference_and_never_a_code(client, sent):
    tip, code = sent
    page = client.get(f"/tra-cuu?reference={tip.reference}").get_data(as_text=True)
    assert f'value="{tip.reference}"' in page
    assert "data-lookup" in page
    # A code put into the address is never echoed (links, language switch): the address
    # is cleaned first, and the reference, written any way, kept.
    dirty = client.get(f"/tra-cuu?reference={tip.reference.lower()}&code={format_code(code)}")
    assert dirty.status_code == 303
    assert dirty.location == f"/tra-cuu?reference={tip.reference}"
    assert code not in dirty.get_data(as_text=True)
    assert client.get("/en/tra-cuu?code=X").location == "/en/tra-cuu"
    # Anything that is not a reference fills nothing in.
    page = client.get("/tra-cuu?reference=%3Cscript%3E&x=1")
    assert page.status_code == 200
    field = re.search(r'<input[^>]*name="reference"[^>]*>', page.get_data(as_text=True))[0]
    assert 'value=""' in field


def test_lookup_form_still_posts_reference_and_code_to_the_same_address(client, sent):
    tip, code = sent
    response = _look_up(client, tip, format_code(code))
    assert response.status_code == 200
    assert f"Tin báo {tip.reference}" in response.get_data(as_text=True)


# --- item 9: what was sent, behind one tap ---------------------------------------------------


def test_status_page_shows_what_was_sent_in_a_closed_details(client, sent):
    tip, code = sent
    page = _look_up(client, tip, code).get_data(as_text=True)
    details = re.search(r'<details class="card sent" id="da-gui">(.*?)</details>', page, re.S)
    assert details is not None, "what was sent is behind one tap, closed by default"
    inside = details[1]
    for text in (
        "Trộm cắp tài sản",
        "Nhóm thanh niên đua xe sau 23 giờ ở đường liên thôn.",
        "Ngã ba cây đa",
        "14/03/2026",
        "23:10",
        "Thôn Đông, Xã An Bình",
    ):
        assert text in inside, text
    photo = tip.photos[0].public_id
    assert f'src="/tra-cuu/anh/{photo}"' in inside
    assert 'loading="lazy"' in inside  # nothing fetched until the tap
    # Outside the details nothing of the content shows.
    outside = page.replace(details[0], "")
    assert "đua xe" not in outside and "Ngã ba cây đa" not in outside


def test_status_page_in_english_names_the_category_in_english(client, sent):
    tip, code = sent
    tip.category.name_en = "Theft of property"
    db.session.commit()
    page = _look_up(client, tip, code, prefix="/en").get_data(as_text=True)
    details = re.search(r'<details class="card sent" id="da-gui">(.*?)</details>', page, re.S)[1]
    assert "<dd>Theft of property</dd>" in details
    assert "Trộm cắp tài sản" not in page


def test_thumbnail_opens_within_the_session_only(app, client, sent, make_tip, world):
    tip, code = sent
    photo = tip.photos[0].public_id
    assert client.get(f"/tra-cuu/anh/{photo}").status_code == 404  # no session yet
    _look_up(client, tip, code)
    answer = client.get(f"/tra-cuu/anh/{photo}")
    assert answer.status_code == 200
    assert answer.mimetype == "image/jpeg"
    assert "no-store" in answer.headers["Cache-Control"]
    with Image.open(io.BytesIO(answer.data)) as image:
        assert max(image.size) <= 320  # the thumbnail, not the photo
    # Another tip's photo is not this session's, whoever's it is.
    other = make_tip(world.a1, photos=[store_photo(process_photo(_jpeg(color=(1, 2, 3))))])
    assert client.get(f"/tra-cuu/anh/{other.photos[0].public_id}").status_code == 404
    assert client.get("/tra-cuu/anh/not-a-photo").status_code == 404
    client.post("/tra-cuu/thoat")
    assert client.get(f"/tra-cuu/anh/{photo}").status_code == 404


def test_status_page_after_the_purge_says_the_text_is_gone(client, sent):
    tip, code = sent
    tip.description = ""
    db.session.commit()
    page = _look_up(client, tip, code).get_data(as_text=True)
    assert "Nội dung đã được xóa theo thời hạn lưu trữ." in page


# --- item 10: one reply box, one button --------------------------------------------------------


def _ask(tip, world, text="Xe máy màu gì?"):
    workflow.send_message(tip, world.user("leader_a1"), text, MessageKind.QUESTION)
    db.session.commit()


def _form(page: str) -> str:
    return re.search(r"<form [^>]*data-reply[^>]*>(.*?)</form>", page, re.S)[1]


def test_with_a_question_the_choice_defaults_to_the_answer_and_there_is_one_button(
    client, sent, world
):
    tip, code = sent
    _ask(tip, world, "Xe máy màu gì, anh chị có nhớ không?")
    form = _form(_look_up(client, tip, code).get_data(as_text=True))
    assert len(re.findall(r"<button", form)) == 1
    assert len(re.findall(r"<textarea", form)) == 1
    assert re.search(r'<input type="radio" name="kind" value="reply"[^>]* checked', form)
    assert not re.search(r'value="information"[^>]* checked', form)
    # The question being answered is quoted right above the choice.
    assert "Xe máy màu gì, anh chị có nhớ không?" in form


def test_without_a_question_the_box_adds_information(client, sent):
    tip, code = sent
    form = _form(_look_up(client, tip, code).get_data(as_text=True))
    assert 'type="radio"' not in form
    assert '<input type="hidden" name="kind" value="information">' in form
    assert "Gửi thông tin bổ sung" in form


@pytest.mark.parametrize("kind", ["reply", "information"])
def test_the_chosen_kind_is_what_is_filed(client, sent, world, kind):
    tip, code = sent
    _ask(tip, world)
    _look_up(client, tip, code)
    answer = client.post("/tra-cuu/tin-nhan", data={"body": "Màu đỏ, biển 36B1.", "kind": kind})
    assert answer.status_code == 303
    stored = db.session.scalars(
        db.select(TipMessage).where(TipMessage.tip_id == tip.id).order_by(TipMessage.id)
    ).all()
    assert stored[-1].kind == MessageKind(kind)


def test_a_refused_message_keeps_the_chosen_kind(client, sent, world):
    tip, code = sent
    _ask(tip, world)
    _look_up(client, tip, code)
    answer = client.post("/tra-cuu/tin-nhan", data={"body": "", "kind": "information"})
    assert answer.status_code == 422
    form = _form(answer.get_data(as_text=True))
    assert re.search(r'value="information"[^>]* checked', form)
    assert "Hãy viết nội dung tin nhắn." in form
