"""Posters and cards for a commune's villages (/staff/ap-phich): scope, content, and a QR
code that a phone reads from a metre away and that opens the form with the village chosen."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlsplit

import pypdfium2
import pytest
import zxingcpp
from pypdf import PdfReader

from tipline.extensions import db
from tipline.posters import pdf

pytestmark = pytest.mark.skipif(pdf.font_files() is None, reason="no font with Vietnamese")

A4_WIDTH_MM = 210
# What a phone's camera sees of a poster a metre away: a 1080-pixel-wide video frame over
# a field of view about 1.4 m wide at 1 m (a 70-degree lens), i.e. 0.77 pixels per mm.
PIXELS_PER_MM_AT_ONE_METRE = 1080 / 1400


def _pages(data: bytes, pixels_per_mm: float) -> list:
    document = pypdfium2.PdfDocument(data)
    scale = pixels_per_mm * 25.4 / 72  # PDF points to pixels
    return [page.render(scale=scale, grayscale=True).to_pil() for page in document]


def _codes(image) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(image)]


def _text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_a_commune_prints_one_poster_per_village(login, world):
    client = login("police_a")
    response = client.get("/staff/ap-phich/A.pdf?kieu=a4")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert "no-store" in response.headers["Cache-Control"]
    text = _text(response.data)
    reader = PdfReader(io.BytesIO(response.data))
    assert len(reader.pages) == 2  # Thôn Đông and Thôn Tây
    assert "Thôn Đông" in text and "Thôn Tây" in text
    for words in ("Báo tin về an ninh", "113", "114", "115", "hãy gọi", "không cần ghi tên"):
        assert words in text


def test_the_qr_code_reads_from_a_metre_away_and_carries_unit_codes_only(login, world, app):
    data = login("police_a").get("/staff/ap-phich/A.pdf?kieu=a4").data
    pages = _pages(data, PIXELS_PER_MM_AT_ONE_METRE)
    assert pages[0].width <= A4_WIDTH_MM * PIXELS_PER_MM_AT_ONE_METRE + 2
    links = [code for page in pages for code in _codes(page)]
    assert len(links) == 2
    for link in links:
        parts = urlsplit(link)
        assert link.startswith(app.config["TIPLINE_BASE_URL"].rstrip("/") + "/gui-tin?")
        assert set(parse_qs(parts.query)) == {"xa", "thon"}
    assert {parse_qs(urlsplit(link).query)["thon"][0] for link in links} == {"A1", "A2"}


def test_the_link_opens_the_form_with_the_commune_and_village_chosen(client, world):
    page = client.get("/gui-tin?xa=A&thon=A2&phieu=" + "k" * 32).get_data(as_text=True)
    assert '<option selected value="A2">' in page or 'value="A2" selected' in page
    other = client.get("/gui-tin?xa=A&thon=B1&phieu=" + "k" * 32).get_data(as_text=True)
    assert 'value="B1"' not in other  # another commune's village is not offered, nor chosen


def test_cards_are_eight_to_a_sheet_and_read_in_the_hand(login, world):
    data = login("committee_a").get("/staff/ap-phich/A.pdf?kieu=the").data
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 2  # one sheet of eight per village
    # Half a metre away (a card in the hand or on a table): twice the detail of a metre.
    page = _pages(data, 2 * PIXELS_PER_MM_AT_ONE_METRE * 1.2)[0]
    codes = _codes(page)
    assert len(codes) == 8 and len(set(codes)) == 1


def test_a_village_team_prints_its_own_village_only(login, world):
    client = login("leader_a1")
    assert client.get("/staff/ap-phich/A.pdf?thon=A1").status_code == 200
    assert len(PdfReader(io.BytesIO(client.get("/staff/ap-phich/A.pdf").data)).pages) == 1
    assert client.get("/staff/ap-phich/A.pdf?thon=A2").status_code == 404
    assert client.get("/staff/ap-phich/B.pdf").status_code == 404
    page = client.get("/staff/ap-phich/").get_data(as_text=True)
    assert "Thôn Đông" in page and "Thôn Tây" not in page


@pytest.mark.parametrize("user", ["police_b", "leader_b1"])
def test_another_communes_staff_get_a_404(login, world, user):
    client = login(user)
    assert client.get("/staff/ap-phich/A.pdf").status_code == 404
    assert client.get("/staff/ap-phich/?xa=A").status_code == 404


def test_province_staff_choose_among_their_communes(login, world):
    client = login("officer")
    page = client.get("/staff/ap-phich/").get_data(as_text=True)
    assert "Xã An Bình" in page and "Phường Bắc Sơn" in page
    assert client.get("/staff/ap-phich/B.pdf").status_code == 200


def test_bad_requests_get_a_clear_answer(login, world):
    client = login("police_a")
    response = client.get("/staff/ap-phich/A.pdf?kieu=poster")
    assert response.status_code == 400
    assert "Kiểu in không đúng" in response.get_data(as_text=True)
    assert client.get("/staff/ap-phich/NOPE.pdf").status_code == 404
    assert client.get("/staff/ap-phich/" + "x" * 300 + ".pdf").status_code == 404


def test_the_qr_is_large_enough_for_its_distance():
    link = "https://tinbao.example.vn/gui-tin?xa=15910&thon=1591010"
    modules = pdf.qr_modules(link)
    assert pdf.POSTER_QR_MM / modules >= 2.0  # each module at least 2 mm on the poster
    assert pdf.POSTER_QR_MM * 10 >= 1000  # read from a metre: about ten times its width


def test_a_poster_shows_the_sms_number_and_what_to_text(login, world, tmp_path):
    from tipline.sms import gateways

    client = login("police_a")
    assert "0912 000 111" not in _text(client.get("/staff/ap-phich/A.pdf?kieu=a4").data)
    gateways.register(
        world.province,
        number="+84912000999",
        base_url="http://192.168.1.21:8080",
        username="sms",
        password="app-password",
        signing_key="signing-key-123",
    )
    db.session.commit()
    province_text = _text(client.get("/staff/ap-phich/A.pdf?kieu=a4").data)
    assert "0912 000 999" in province_text and "tên xã" in province_text
    gateways.register(
        world.commune_a,
        number="0912000111",
        base_url="http://192.168.1.20:8080",
        username="sms",
        password="app-password",
        signing_key="signing-key-123",
    )
    db.session.commit()
    for kind in ("a4", "the"):
        text = _text(client.get(f"/staff/ap-phich/A.pdf?kieu={kind}").data)
        assert "0912 000 111" in text, kind
    assert "Nhắn tin kể việc bạn thấy" in _text(client.get("/staff/ap-phich/A.pdf?kieu=a4").data)
