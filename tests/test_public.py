"""The resident side through the test client: choose a commune, submit, read the receipt,
follow the tip up; and what those pages must never show or accept."""

from __future__ import annotations

import io
import os
import re
import uuid
from datetime import timedelta
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import ExifTags, Image, TiffImagePlugin
from sqlalchemy import func, select

from tipline import create_app
from tipline.core.templating import local_datetime
from tipline.core.timeutil import local_today, utcnow
from tipline.extensions import db, limiter
from tipline.media.storage import photo_path
from tipline.places.models import UnitLevel
from tipline.places.services import add_unit
from tipline.tips import services, workflow
from tipline.tips.models import Outcome, Tip, TipPhoto, TipStatus, TipsterContact
from tipline.tips.services import StoredPhoto
from tipline.tips.workflow import Action

from .conftest import SHARED_PHOTOS, database_text, settings_like

DESCRIPTION = "Hai người lạ đi xe máy không biển số dò xét từng nhà vào buổi tối."
PLACE = "Cổng nhà văn hóa thôn Đông"
WRONG_RECEIPT = "Mã số tin báo hoặc mã tra cứu không đúng."
CODE_RE = re.compile(rf"[{services.ALPHABET}]{{4}}(?:-[{services.ALPHABET}]{{4}}){{3}}")
REFERENCE_RE = re.compile(rf"TL-[{services.ALPHABET}]{{4}}-[{services.ALPHABET}]{{4}}")


# ---------------------------------------------------------------------------- helpers


def days_from_today(days: int) -> str:
    return (local_today() + timedelta(days=days)).isoformat()


def tip_form(**overrides) -> dict:
    """A complete, valid submission; an override of None leaves the field out."""
    data = {
        "submission_key": services.new_submission_key(),
        "village": "A1",
        "category": "theft",
        "description": DESCRIPTION,
        "place": PLACE,
        "occurred_on": days_from_today(-1),
        "occurred_time": "21:30",
        "latitude": "19.8075",
        "longitude": "105.7764",
        "identity_tier": "anonymous",
        "name": "",
        "phone": "",
        "photo_token": "",
    }
    for key, value in overrides.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def post_tip(client, data: dict, *, xa: str = "A", **kwargs):
    # Browsers send this form as multipart (it has a file input).
    return client.post(
        f"/gui-tin?xa={xa}", data=dict(data), content_type="multipart/form-data", **kwargs
    )


def receipt_of(response) -> tuple[str, str]:
    html = response.get_data(as_text=True)
    reference = re.search(r'id="reference">([^<]+)<', html)
    code = re.search(r'id="follow-up-code">([^<]+)<', html)
    assert reference and code, html
    return reference.group(1), code.group(1)


def tip_count() -> int:
    return db.session.scalar(select(func.count(Tip.id)))


def the_tip(reference: str) -> Tip:
    return db.session.scalar(select(Tip).where(Tip.reference == reference))


class FormValues(HTMLParser):
    """The values a browser would send back from a rendered form (file inputs excepted)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.values: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in ("radio", "checkbox"):
                if "checked" in attrs:
                    self.values[name] = attrs.get("value", "")
            elif kind != "file":
                self.values[name] = attrs.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in attrs:
            self.values[self._select] = attrs.get("value", "")

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea:
            # HTML drops the newline right after <textarea>.
            value = self.values[self._textarea]
            self.values[self._textarea] = value.removeprefix("\r\n").removeprefix("\n")
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data


def field_error(html: str, field_id: str) -> str | None:
    """The error shown next to a field (input/select/textarea, or a fieldset of choices)."""
    match = re.search(rf'<p class="error" id="{field_id}-error">(.*?)</p>', html, re.S)
    if match:
        return unescape(match.group(1)).strip()
    fieldset = re.search(rf'<fieldset[^>]*\bid="{field_id}".*?</fieldset>', html, re.S)
    if fieldset:
        match = re.search(r'<p class="error">(.*?)</p>', fieldset.group(0), re.S)
        if match:
            return unescape(match.group(1)).strip()
    return None


def assert_values_kept(html: str, sent: dict, *, besides: set[str] = frozenset()) -> None:
    shown = FormValues(html).values
    for name, value in sent.items():
        if name in besides or name in ("photo", "photo_token"):
            continue
        assert shown.get(name, "") == value, (name, shown.get(name), value)


def assert_no_english_errors(html: str) -> None:
    for english in ("Not a valid", "This field is required", "Invalid Choice", "Field must"):
        assert english not in html


def jpeg_markers(data: bytes) -> list[int]:
    """The markers of a JPEG's header segments, up to the start of the scan."""
    assert data[:2] == b"\xff\xd8"
    markers, i = [], 2
    while True:
        assert data[i] == 0xFF
        marker = data[i + 1]
        markers.append(marker)
        if marker == 0xDA:
            return markers
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")


def assert_clean_stored_jpeg(path: Path) -> None:
    data = path.read_bytes()
    for signature in (b"Exif", b"http://ns.adobe.com/xap", b"ICC_PROFILE", b"SecretCamera"):
        assert signature not in data, signature
    # APP1..APP15 and COM carry EXIF/GPS, XMP, ICC, comments: only APP0 (JFIF) may remain.
    extra = [hex(m) for m in jpeg_markers(data) if 0xE1 <= m <= 0xEF or m == 0xFE]
    assert not extra, extra
    with Image.open(path) as img:
        assert img.format == "JPEG"
        assert not img.getexif()
        assert not img.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        for key in ("exif", "icc_profile", "xmp", "comment"):
            assert key not in img.info, key


def gps_jpeg(size: tuple[int, int] = (120, 80)) -> bytes:
    """A small JPEG that carries a camera make and GPS coordinates, like a phone photo."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SecretCameraMaker"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = tuple(TiffImagePlugin.IFDRational(v) for v in (19, 48, 27))
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = tuple(TiffImagePlugin.IFDRational(v) for v in (105, 46, 35))
    buf = io.BytesIO()
    Image.new("RGB", size, (180, 60, 40)).save(buf, format="JPEG", exif=exif)
    data = buf.getvalue()
    with Image.open(io.BytesIO(data)) as check:  # the input really has GPS
        assert check.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    return data


def upload(data: bytes, filename: str = "anh.jpg") -> tuple[io.BytesIO, str, str]:
    return (io.BytesIO(data), filename, "image/jpeg")


def follow_up(client, reference: str, code: str, **kwargs):
    return client.post("/tra-cuu", data={"reference": reference, "code": code}, **kwargs)


def submit_ok(client, **overrides) -> tuple[str, str]:
    response = post_tip(client, tip_form(**overrides))
    assert response.status_code == 200, response.get_data(as_text=True)
    return receipt_of(response)


# -------------------------------------------------------------- step 1 and the form


def test_step_one_lists_only_the_communes_of_the_root(client, world):
    add_unit(code="X", name="Tỉnh Khác", level=UnitLevel.PROVINCE, kind="tỉnh")
    response = client.get("/gui-tin")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<option value="A">Xã An Bình</option>' in html
    assert '<option value="B">Phường Bắc Sơn</option>' in html
    assert "Thôn Đông" not in html
    assert "Tỉnh Khác" not in html
    assert "<textarea" not in html


def test_form_of_a_commune_offers_its_villages_categories_and_anonymity_by_default(client, world):
    response = client.get("/gui-tin?xa=A")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    villages = re.search(r'<select[^>]*name="village".*?</select>', html, re.S).group(0)
    options = re.findall(r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)</option>', villages)
    assert options[0] == ("", "Không rõ thôn")
    assert sorted(options[1:]) == [("A1", "Thôn Đông"), ("A2", "Thôn Tây")]
    assert 'value="theft"' in html and "Trộm cắp tài sản" in html
    assert 'value="disturbance"' in html and "Đánh nhau, gây rối trật tự" in html
    values = FormValues(html).values
    assert values["identity_tier"] == "anonymous"
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,64}", values["submission_key"])
    assert "Bước 2/2: Xã An Bình" in html


def test_each_form_gets_its_own_submission_key(client, world):
    first = FormValues(client.get("/gui-tin?xa=A").get_data(as_text=True)).values
    second = FormValues(client.get("/gui-tin?xa=A").get_data(as_text=True)).values
    assert first["submission_key"] != second["submission_key"]


@pytest.mark.parametrize("xa", ["NOPE", "A1", "T", "XA", ""])
def test_unknown_or_outside_commune_shows_step_one_again(client, world, xa):
    other = add_unit(code="X", name="Tỉnh Khác", level=UnitLevel.PROVINCE, kind="tỉnh")
    add_unit(code="XA", name="Xã Ngoài", level=UnitLevel.COMMUNE, kind="xã", parent=other)
    db.session.commit()
    response = client.get(f"/gui-tin?xa={xa}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Bước 1/2" in html
    assert "<textarea" not in html
    assert "Xã Ngoài" not in html
    if xa:
        assert "Hãy chọn xã, phường." in html


def test_posting_to_a_commune_outside_the_root_creates_nothing(client, world):
    other = add_unit(code="X", name="Tỉnh Khác", level=UnitLevel.PROVINCE, kind="tỉnh")
    add_unit(code="XA", name="Xã Ngoài", level=UnitLevel.COMMUNE, kind="xã", parent=other)
    db.session.commit()
    response = post_tip(client, tip_form(village=""), xa="XA")
    assert response.status_code in (302, 303)
    assert tip_count() == 0


# ---------------------------------------------------------------------- submission


def test_submission_gives_a_receipt_and_stores_the_tip_to_the_minute(client, world):
    data = tip_form()
    response = post_tip(client, data)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    reference, code = receipt_of(response)
    assert REFERENCE_RE.fullmatch(reference)
    assert CODE_RE.fullmatch(code)
    assert len(code.replace("-", "")) == services.CODE_LENGTH == 16

    tip = the_tip(reference)
    assert tip is not None and tip_count() == 1
    assert tip.status == TipStatus.RECEIVED
    assert tip.unit.code == "A1" and tip.submitted_unit.code == "A1"
    assert tip.category.code == "theft"
    assert tip.description == DESCRIPTION
    assert tip.place == PLACE
    assert (tip.latitude, tip.longitude) == (19.8075, 105.7764)
    assert tip.occurred_on.isoformat() == data["occurred_on"]
    assert tip.occurred_time.strftime("%H:%M") == "21:30"
    assert tip.submitted_at.second == 0 and tip.submitted_at.microsecond == 0
    assert tip.contact is None
    assert [e.to_status for e in tip.events] == [TipStatus.RECEIVED]


def test_follow_up_code_is_stored_only_as_its_hmac(client, world):
    data = tip_form()
    reference, code = receipt_of(post_tip(client, data))
    raw = code.replace("-", "")
    dump = database_text()
    assert reference in dump  # the dump really holds the tips table
    for form in (code, raw, raw.lower(), raw[:8], raw[8:]):
        assert form not in dump
    assert data["submission_key"] not in dump
    tip = the_tip(reference)
    assert tip.receipt_hash == services.hash_code(code)
    assert tip.receipt_hash != raw


def test_unknown_village_files_the_tip_under_the_commune(client, world):
    reference, _ = submit_ok(client, village="")
    tip = the_tip(reference)
    assert tip.unit_id == world.commune_a.id
    assert tip.submitted_unit_id == world.commune_a.id


@pytest.mark.parametrize("times", [2, 3])
def test_reposting_the_same_form_gives_one_tip_and_the_same_receipt(client, world, times):
    data = tip_form()
    receipts = set()
    for _ in range(times):
        response = post_tip(client, data)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        receipts.add(receipt_of(response))
    assert len(receipts) == 1
    assert tip_count() == 1


def test_a_new_submission_key_gives_a_second_tip(client, world):
    data = tip_form()
    first = receipt_of(post_tip(client, data))
    second = receipt_of(post_tip(client, {**data, "submission_key": services.new_submission_key()}))
    assert first[0] != second[0] and first[1] != second[1]
    assert tip_count() == 2


def test_confidential_tipster_is_stored_with_name_and_normalised_phone(client, world):
    reference, _ = submit_ok(
        client, identity_tier="confidential", name="  Nguyễn Thị Hoa ", phone="0912 345 678"
    )
    tip = the_tip(reference)
    assert tip.contact is not None
    assert (tip.contact.name, tip.contact.phone) == ("Nguyễn Thị Hoa", "0912345678")


def test_anonymous_tier_stores_no_contact_even_if_typed(client, world):
    reference, _ = submit_ok(
        client, identity_tier="anonymous", name="Trần Văn Bí Mật", phone="0987 654 321"
    )
    tip = the_tip(reference)
    assert tip.contact is None and tip.contact_id is None
    assert db.session.scalar(select(func.count(TipsterContact.id))) == 0
    dump = database_text()
    assert "Bí Mật" not in dump
    assert "0987654321" not in dump and "0987 654 321" not in dump


# ---------------------------------------------------------------------- validation

INVALID = [
    pytest.param({"description": ""}, {"description": "Hãy mô tả sự việc."}, id="no-description"),
    pytest.param(
        {"description": "Trộm gà"},
        {"description": "Mô tả cần từ 10 đến 4000 ký tự."},
        id="short-description",
    ),
    pytest.param(
        {"description": "Trộm gà" + " " * 20},
        {"description": "Mô tả cần từ 10 đến 4000 ký tự."},
        id="short-description-padded-with-spaces",
    ),
    pytest.param({"category": None}, {"category": "Hãy chọn loại vụ việc."}, id="no-category"),
    pytest.param(
        {"category": "cuop-ngan-hang"}, {"category": "Hãy chọn loại vụ việc."}, id="bad-category"
    ),
    pytest.param(
        {"village": "B1"}, {"village": "Hãy chọn thôn trong danh sách."}, id="village-elsewhere"
    ),
    pytest.param(
        {"occurred_on": days_from_today(2)},
        {"occurred_on": "Ngày xảy ra không thể ở tương lai."},
        id="future-date",
    ),
    pytest.param(
        {"occurred_on": "31/02/2025"},
        {"occurred_on": "Ngày không hợp lệ (ví dụ: 25/12/2025)."},
        id="impossible-date",
    ),
    pytest.param(
        {"occurred_time": "25:61"},
        {"occurred_time": "Giờ không hợp lệ (ví dụ: 21:30)."},
        id="impossible-time",
    ),
    pytest.param(
        {"longitude": ""},
        {"longitude": "Cần cả vĩ độ và kinh độ, hoặc để trống cả hai."},
        id="latitude-without-longitude",
    ),
    pytest.param(
        {"latitude": ""},
        {"latitude": "Cần cả vĩ độ và kinh độ, hoặc để trống cả hai."},
        id="longitude-without-latitude",
    ),
    pytest.param({"latitude": "95"}, {"latitude": "Vĩ độ không hợp lệ."}, id="latitude-range"),
    pytest.param({"latitude": "bắc"}, {"latitude": "Vĩ độ không hợp lệ."}, id="latitude-text"),
    pytest.param({"longitude": "181"}, {"longitude": "Kinh độ không hợp lệ."}, id="lon-range"),
    pytest.param(
        {"identity_tier": "confidential"},
        {
            "name": "Hãy ghi họ tên, hoặc chọn gửi ẩn danh.",
            "phone": "Hãy ghi số điện thoại, hoặc chọn gửi ẩn danh.",
        },
        id="confidential-without-contact",
    ),
    pytest.param(
        {"identity_tier": "named", "name": "Lê Văn Nam"},
        {"phone": "Hãy ghi số điện thoại, hoặc chọn gửi ẩn danh."},
        id="named-without-phone",
    ),
    pytest.param(
        {"identity_tier": "confidential", "name": "Lê Văn Nam", "phone": "12345"},
        {"phone": "Số điện thoại không đúng (ví dụ: 0912 345 678)."},
        id="bad-phone",
    ),
    pytest.param(
        {"identity_tier": "nobody-knows"},
        {"identity_tier": "Hãy chọn cách giữ danh tính."},
        id="bad-tier",
    ),
    pytest.param(
        {"submission_key": ""},
        {"submission_key": "Biểu mẫu đã cũ hoặc không hợp lệ. Hãy bấm Gửi tin báo một lần nữa."},
        id="empty-key",
    ),
    pytest.param(
        {"submission_key": None},
        {"submission_key": "Biểu mẫu đã cũ hoặc không hợp lệ. Hãy bấm Gửi tin báo một lần nữa."},
        id="missing-key",
    ),
    pytest.param(
        {"submission_key": "short"},
        {"submission_key": "Biểu mẫu đã cũ hoặc không hợp lệ. Hãy bấm Gửi tin báo một lần nữa."},
        id="short-key",
    ),
    pytest.param(
        {"submission_key": "<script>alert(1)</script>-xxxxxxxxxxxx"},
        {"submission_key": "Biểu mẫu đã cũ hoặc không hợp lệ. Hãy bấm Gửi tin báo một lần nữa."},
        id="odd-key",
    ),
]


@pytest.mark.parametrize(("overrides", "errors"), INVALID)
def test_invalid_submission_shows_the_error_by_the_field_and_keeps_the_rest(
    client, world, overrides, errors
):
    sent = tip_form(**overrides)
    response = post_tip(client, sent)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert response.headers["Cache-Control"] == "no-store"
    assert "Tin chưa được gửi." in html
    for field, message in errors.items():
        assert field_error(html, field) == message, html
    assert_no_english_errors(html)
    assert_values_kept(html, sent, besides=set(errors) | {"submission_key"})
    # What was typed is on the page: nothing has to be typed again.
    if "description" not in errors:
        assert DESCRIPTION in html
    assert tip_count() == 0


def test_form_with_a_bad_key_can_be_sent_again_as_shown(client, world):
    sent = tip_form(submission_key="short")
    html = post_tip(client, sent).get_data(as_text=True)
    again = FormValues(html).values
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,64}", again["submission_key"])
    response = post_tip(client, again)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert tip_count() == 1


def test_corrected_form_is_accepted_after_an_error(client, world):
    first = post_tip(client, tip_form(description=""))
    again = FormValues(first.get_data(as_text=True)).values
    again["description"] = DESCRIPTION
    response = post_tip(client, again)
    assert response.status_code == 200
    assert the_tip(receipt_of(response)[0]).description == DESCRIPTION


# ---------------------------------------------------------------------------- photos


def _real_photo() -> bytes:
    path = SHARED_PHOTOS / "gps-DSCN0010.jpg"
    if not path.is_file():
        pytest.skip(f"no shared test photos at {SHARED_PHOTOS}")
    return path.read_bytes()


PHOTOS = [
    pytest.param(_real_photo, id="shared-camera-photo-with-gps"),
    pytest.param(gps_jpeg, id="generated-jpeg-with-gps"),
]


@pytest.mark.parametrize("photo", PHOTOS)
def test_photo_is_attached_without_any_metadata(app, client, world, photo):
    data = photo()
    response = post_tip(client, tip_form(photo=upload(data)))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "Kèm 1 ảnh." in response.get_data(as_text=True)
    tip = the_tip(receipt_of(response)[0])
    assert len(tip.photos) == 1
    stored = tip.photos[0]
    for name in (stored.filename, stored.thumb_filename):
        path = photo_path(app.config["UPLOAD_DIR"], name)
        assert path.is_file()
        assert_clean_stored_jpeg(path)
    with Image.open(photo_path(app.config["UPLOAD_DIR"], stored.filename)) as img:
        assert img.size == (stored.width, stored.height)


def test_file_that_is_not_a_photo_is_refused_and_the_rest_kept(client, world):
    sent = tip_form()
    response = post_tip(client, {**sent, "photo": upload(b"not a photo at all\n" * 50)})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(html, "photo") == (
        "Tệp này không phải là ảnh được hỗ trợ. "
        "Vui lòng gửi ảnh định dạng JPEG, PNG, WebP hoặc HEIC."
    )
    assert "đã được giữ lại" not in html
    assert FormValues(html).values["photo_token"] == ""
    assert_values_kept(html, sent)
    assert tip_count() == 0


def test_photo_larger_than_allowed_is_refused_with_its_limit(app, client, world, monkeypatch):
    # Kept under 500 KB: werkzeug's test client spools larger bodies to a file it never closes.
    monkeypatch.setitem(app.config, "TIPLINE_MAX_PHOTO_BYTES", 400 * 1024)
    data = gps_jpeg() + b"\0" * (400 * 1024)
    response = post_tip(client, tip_form(photo=upload(data)))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(html, "photo") == "Ảnh quá lớn: tối đa 0,4 MB."
    assert tip_count() == 0


def test_photo_is_kept_across_an_error_and_attached_when_the_form_is_fixed(app, client, world):
    sent = tip_form(description="")
    response = post_tip(client, {**sent, "photo": upload(gps_jpeg())})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Ảnh bạn chọn đã được giữ lại." in html
    again = FormValues(html).values
    assert again["photo_token"]
    assert tip_count() == 0

    again["description"] = DESCRIPTION  # fixed; the photo is not uploaded again
    response = post_tip(client, again)
    assert response.status_code == 200, response.get_data(as_text=True)
    tip = the_tip(receipt_of(response)[0])
    assert len(tip.photos) == 1
    assert_clean_stored_jpeg(photo_path(app.config["UPLOAD_DIR"], tip.photos[0].filename))


def test_kept_photo_survives_a_second_error(client, world):
    html = post_tip(client, tip_form(description="", photo=upload(gps_jpeg()))).get_data(
        as_text=True
    )
    again = FormValues(html).values
    again["latitude"] = "95"
    html = post_tip(client, again).get_data(as_text=True)
    assert "Ảnh bạn chọn đã được giữ lại." in html
    again = FormValues(html).values
    again.update(description=DESCRIPTION, latitude="19.8")
    response = post_tip(client, again)
    assert response.status_code == 200
    assert len(the_tip(receipt_of(response)[0]).photos) == 1


def _tampered_tokens(token: str) -> list[str]:
    flipped = token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")
    return [flipped, "x" + token, token.replace(".", "", 1), "not-a-token", "a" * 500]


def test_tampered_photo_token_is_ignored(client, world):
    html = post_tip(client, tip_form(description="", photo=upload(gps_jpeg()))).get_data(
        as_text=True
    )
    token = FormValues(html).values["photo_token"]
    for bad in _tampered_tokens(token):
        response = post_tip(client, tip_form(photo_token=bad))
        assert response.status_code == 200, bad
        assert the_tip(receipt_of(response)[0]).photos == []
    assert db.session.scalar(select(func.count(TipPhoto.id))) == 0


@pytest.mark.parametrize("name", ["../../etc/passwd", "AAAAAAAAAAAAAAAAAAAAAAAA.jpg"])
def test_signed_token_for_a_file_that_is_not_a_stored_photo_is_ignored(client, world, name):
    token = services.pending_photo_token(StoredPhoto(name, name, 10, 10, 100))
    response = post_tip(client, tip_form(photo_token=token))
    assert response.status_code == 200
    assert the_tip(receipt_of(response)[0]).photos == []


def test_oversized_request_answers_413_in_vietnamese(app, client, world, monkeypatch):
    # The submit form takes up to 3 photos and a voice note at their limits, plus 256 KiB
    # of fields.
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 16 * 1024)
    monkeypatch.setitem(app.config, "TIPLINE_MAX_PHOTO_BYTES", 16 * 1024)
    monkeypatch.setitem(app.config, "TIPLINE_VOICE_MAX_BYTES", 16 * 1024)
    response = post_tip(client, tip_form(photo=upload(gps_jpeg() + b"\0" * (400 * 1024))))
    html = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "Tệp gửi lên quá lớn" in html
    assert 'href="tel:113"' in html
    assert tip_count() == 0


# ------------------------------------------------------------------------- follow-up


def test_follow_up_shows_the_public_timeline_and_is_not_cached(client, world):
    reference, code = submit_ok(client)
    tip = the_tip(reference)
    response = follow_up(client, reference, code)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert reference in html
    assert "Mới tiếp nhận" in html
    assert local_datetime(tip.submitted_at) in html

    later = utcnow().replace(second=0, microsecond=0) + timedelta(days=1, hours=3)
    workflow.transition(tip, Action.TRIAGE, world.user("leader_a1"), at=later)
    db.session.commit()
    html = follow_up(client, reference, code).get_data(as_text=True)
    assert "Đã tiếp nhận, đang xử lý" in html
    assert local_datetime(later) in html


def test_follow_up_page_asks_for_both_codes(client, world):
    response = client.get("/tra-cuu")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'name="reference"' in html and 'name="code"' in html


@pytest.mark.parametrize(
    "typed",
    [
        pytest.param(lambda ref, code: (ref.lower(), code.lower()), id="lower-case"),
        pytest.param(lambda ref, code: (ref, code.replace("-", " ")), id="spaces"),
        pytest.param(lambda ref, code: (ref.replace("-", ""), code.replace("-", "")), id="bare"),
        pytest.param(lambda ref, code: (f"  {ref} ", f" {code.lower()}  "), id="padded"),
    ],
)
def test_follow_up_accepts_codes_as_people_type_them(client, world, typed):
    reference, code = submit_ok(client)
    response = follow_up(client, *typed(reference, code))
    assert response.status_code == 200
    assert "Mới tiếp nhận" in response.get_data(as_text=True)


def test_reference_typed_without_its_prefix_is_found_even_if_it_starts_with_tl(client, world):
    reference, code = submit_ok(client)
    tip = the_tip(reference)
    tip.reference = "TL-TLAB-CDEF"  # random references may start with the letters T, L
    db.session.commit()
    for typed in ("TL-TLAB-CDEF", "TLAB-CDEF", "tlabcdef", "tl tlab cdef"):
        assert follow_up(client, typed, code).status_code == 200, typed


def test_wrong_code_and_unknown_reference_look_the_same(client, world):
    reference, code = submit_ok(client)
    unknown = "TL-2222-2222" if reference != "TL-2222-2222" else "TL-3333-3333"
    wrong_code = "ABCD-EFGH-JKLM-NPQR" if code != "ABCD-EFGH-JKLM-NPQR" else "2345-6789-ABCD-EFGH"

    wrong = follow_up(client, reference, wrong_code)
    missing = follow_up(client, unknown, wrong_code)
    assert wrong.status_code == missing.status_code == 422
    for response in (wrong, missing):
        html = response.get_data(as_text=True)
        assert field_error(html, "code") == WRONG_RECEIPT
        assert response.headers["Cache-Control"] == "no-store"
        assert "Mới tiếp nhận" not in html
    # Apart from the reference typed in, the two pages are the same byte for byte.
    same_wrong = wrong.get_data(as_text=True).replace(reference, "REF")
    same_missing = missing.get_data(as_text=True).replace(unknown, "REF")
    assert same_wrong == same_missing


@pytest.mark.parametrize(
    ("reference", "code", "field", "message"),
    [
        ("", "ABCD-EFGH-JKLM-NPQR", "reference", "Hãy nhập mã số tin báo."),
        ("TL-2222-2222", "", "code", "Hãy nhập mã tra cứu."),
        ("TL-" + "9" * 60, "ABCD", "reference", "Mã số tin báo không đúng."),
    ],
)
def test_incomplete_follow_up_is_refused_in_vietnamese(
    client, world, reference, code, field, message
):
    response = follow_up(client, reference, code)
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), field) == message


def another_tip(make_tip, unit, description: str) -> Tip:
    tip = make_tip(unit)
    tip.description = description
    db.session.commit()
    return tip


def test_status_page_shows_notes_for_the_tipster_and_nothing_staff_only(client, world, make_tip):
    reference, code = submit_ok(client)
    tip = the_tip(reference)
    other = another_tip(make_tip, world.a1, "NỘI DUNG TIN KHÁC: nhà số 7 chứa đồ ăn cắp.")
    leader = world.user("leader_a1")
    workflow.transition(
        tip, Action.TRIAGE, leader, note="Cảm ơn bạn, tổ đã nhận tin.", note_to_tipster=True
    )
    workflow.transition(
        tip, Action.START_VERIFICATION, leader, note="GHI CHÚ NỘI BỘ: nghi ông Tư làm."
    )
    workflow.add_note(tip, leader, "GHI CHÚ NỘI BỘ THỨ HAI")
    workflow.transition(tip, Action.VERIFY, leader)
    workflow.transition(
        tip,
        Action.RESOLVE,
        leader,
        outcome=Outcome.MEDIATED,
        note="Đã hòa giải.",
        note_to_tipster=True,
    )
    workflow.transition(
        other, Action.TRIAGE, leader, note="GHI CHÚ CỦA TIN KHÁC", note_to_tipster=True
    )
    db.session.commit()

    response = follow_up(client, reference, code)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Cảm ơn bạn, tổ đã nhận tin." in html
    for label in ("Mới tiếp nhận", "Đã tiếp nhận, đang xử lý", "Đang xác minh", "Đã xác minh"):
        assert label in html
    assert "Đã giải quyết" in html
    for secret in (
        "GHI CHÚ NỘI BỘ",
        "Leader A1",
        "leader_a1",
        Outcome.MEDIATED.label,
        "NỘI DUNG TIN KHÁC",
        "GHI CHÚ CỦA TIN KHÁC",
        other.reference,
    ):
        assert str(secret) not in html, secret


def test_merged_tip_shows_only_states_and_dates_of_the_tip_it_joined(client, world, make_tip):
    reference, code = submit_ok(client)
    tip = the_tip(reference)
    leader = world.user("leader_a1")
    original = another_tip(make_tip, world.a1, "TIN GỐC: trộm xe máy nhà ông Ba.")
    now = utcnow().replace(second=0, microsecond=0)
    triaged_at, verifying_at = now + timedelta(hours=2), now + timedelta(days=2, hours=5)
    workflow.transition(
        original,
        Action.TRIAGE,
        leader,
        note="GHI CHÚ CHO NGƯỜI BÁO TIN GỐC",
        note_to_tipster=True,
        at=triaged_at,
    )
    workflow.add_note(original, leader, "GHI CHÚ NỘI BỘ TIN GỐC")
    workflow.add_note(original, leader, "LỜI NHẮN RIÊNG TIN GỐC", to_tipster=True)
    workflow.transition(original, Action.START_VERIFICATION, leader, at=verifying_at)
    workflow.transition(
        tip,
        Action.MARK_DUPLICATE,
        leader,
        duplicate_of=original,
        note="Tin của bạn được xử lý cùng một tin đã báo trước.",
        note_to_tipster=True,
    )
    db.session.commit()

    response = follow_up(client, reference, code)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert reference in html
    assert "Tin của bạn được xử lý cùng một tin đã báo trước." in html
    # The status and milestones of the tip it joined...
    assert re.search(r'class="status status-verifying">Đang xác minh<', html)
    for moment in (original.submitted_at, triaged_at, verifying_at):
        assert local_datetime(moment) in html
    # ...and nothing else of it.
    for secret in (
        original.reference,
        "TIN GỐC",
        "GHI CHÚ CHO NGƯỜI BÁO TIN GỐC",
        "GHI CHÚ NỘI BỘ TIN GỐC",
        "LỜI NHẮN RIÊNG TIN GỐC",
        "Leader A1",
    ):
        assert secret not in html, secret


# ------------------------------------------------------------------- cross-site posts

CROSS_SITE = [
    pytest.param({"Origin": "https://evil.example"}, id="foreign-origin"),
    pytest.param({"Origin": "null", "Sec-Fetch-Site": "cross-site"}, id="opaque-cross-site"),
    pytest.param(
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "same-origin"}, id="foreign-origin-2"
    ),
    pytest.param({"Sec-Fetch-Site": "cross-site"}, id="fetch-metadata-cross-site"),
    pytest.param({"Sec-Fetch-Site": "same-site"}, id="fetch-metadata-same-site"),
]


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_cross_site_submission_is_refused(client, world, headers):
    response = post_tip(client, tip_form(), headers=headers)
    html = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "Bạn không có quyền xem trang này." in html
    assert 'href="tel:113"' in html
    assert tip_count() == 0


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_cross_site_follow_up_is_refused(client, world, headers):
    reference, code = submit_ok(client)
    response = follow_up(client, reference, code, headers=headers)
    html = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "Bạn không có quyền xem trang này." in html
    assert reference not in html


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://localhost"},
        {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},
        # What a browser with strict privacy settings may send for our own form.
        {"Origin": "null", "Sec-Fetch-Site": "same-origin"},
        # A phone browser older than fetch metadata, under no-referrer: a forged resident
        # post would gain nothing over sending one directly, so it is not refused.
        {"Origin": "null"},
    ],
)
def test_same_origin_posts_are_accepted(client, world, headers):
    response = post_tip(client, tip_form(), headers=headers)
    assert response.status_code == 200
    reference, code = receipt_of(response)
    assert follow_up(client, reference, code, headers=headers).status_code == 200


# -------------------------------------------------------------- every resident page


def _resident_pages(client) -> dict[str, object]:
    pages = {
        "home": client.get("/"),
        "step 1": client.get("/gui-tin"),
        "form": client.get("/gui-tin?xa=A"),
        "form with errors": post_tip(client, tip_form(description="")),
        "follow-up": client.get("/tra-cuu"),
        "wrong follow-up": follow_up(client, "TL-2222-2222", "2222-2222-2222-2222"),
        "not found": client.get("/khong-co-trang-nay"),
        "forbidden": post_tip(client, tip_form(), headers={"Origin": "https://evil.example"}),
    }
    receipt = post_tip(client, tip_form())
    pages["receipt"] = receipt
    pages["status"] = follow_up(client, *receipt_of(receipt))
    return pages


def test_every_resident_page_shows_emergency_numbers_and_loads_nothing_foreign(client, world):
    pages = _resident_pages(client)
    assert pages["not found"].status_code == 404
    for name, response in pages.items():
        html = response.get_data(as_text=True)
        # hreflang alternates name our own address in full; they load nothing.
        html = re.sub(r'<link rel="alternate"[^>]*>', "", html)
        for number in ("113", "114", "115"):
            assert f'href="tel:{number}"' in html, (name, number)
        # Scripts only from our own static files; the one inline block is data, never code.
        for script in re.findall(r"<script[^>]*>", html, re.I):
            assert re.fullmatch(
                r'<script src="/static/[\w-]+\.[0-9a-f]{10}\.js" defer>'
                r'|<script type="application/json" id="tl-strings">',
                script,
            ), (name, script)
        assert "<style" not in html.lower(), name
        assert not re.search(r"\sstyle\s*=", html, re.I), name
        assert not re.search(r"""\s(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", html), name
        assert "script-src 'self'" in response.headers["Content-Security-Policy"], name


# ------------------------------------------------------------------------ rate limit


@pytest.fixture
def limited_app(app, request):
    """A second app sharing the database, with the limiter on.

    The limiter (and Talisman) are one object for every app (tipline.extensions), and
    init_app rewrites their settings; they are put back afterwards so that the other
    tests stay unlimited.
    """
    saved = {extension: dict(vars(extension)) for extension in (limiter,)}
    storage = request.param
    settings = settings_like(
        app,
        RATELIMIT_ENABLED=True,
        TIPLINE_FOLLOWUP_LIMIT="3 per hour",
        RATELIMIT_STORAGE_URI="memory://",
    )
    prefix = None
    if storage == "redis":
        url = os.environ.get("TIPLINE_TEST_REDIS_URL")
        if not url:
            pytest.skip("TIPLINE_TEST_REDIS_URL is not set")
        prefix = f"tipline-test-{uuid.uuid4().hex}"
        settings.update(RATELIMIT_STORAGE_URI=url, RATELIMIT_KEY_PREFIX=prefix)
    limited = create_app(settings)
    try:
        yield limited
    finally:
        with limited.app_context():
            db.engine.dispose()
        for extension, state in saved.items():
            vars(extension).clear()
            vars(extension).update(state)
        if prefix is not None:
            import redis

            server = redis.Redis.from_url(os.environ["TIPLINE_TEST_REDIS_URL"])
            try:
                keys = list(server.scan_iter(match=f"*{prefix}*"))
                if keys:
                    server.delete(*keys)
            finally:
                server.close()


@pytest.mark.parametrize("limited_app", ["memory", "redis"], indirect=True)
def test_too_many_follow_ups_answer_429_in_vietnamese(limited_app):
    client = limited_app.test_client()
    for _ in range(3):
        assert follow_up(client, "TL-2222-2222", "2222-2222-2222-2222").status_code == 422
    response = follow_up(client, "TL-2222-2222", "2222-2222-2222-2222")
    html = response.get_data(as_text=True)
    assert response.status_code == 429
    assert "Bạn thao tác quá nhanh. Hãy đợi một lúc rồi thử lại." in html
    assert 'href="tel:113"' in html
    # Another address has its own allowance; reading the page is never limited.
    other = follow_up(client, "TL-2222-2222", "2222", environ_base={"REMOTE_ADDR": "198.51.100.20"})
    assert other.status_code == 422
    assert client.get("/tra-cuu").status_code == 200


def test_app_stays_unlimited_once_a_limited_app_is_gone(client, world):
    for _ in range(40):
        assert follow_up(client, "TL-2222-2222", "2222-2222-2222-2222").status_code == 422
