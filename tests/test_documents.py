"""Documents an office can file: the annual review as an administrative document (PDF and
DOCX, Nghị định 30/2020/NĐ-CP), its letterhead set per unit, and XLSX exports."""

from __future__ import annotations

import io
import re
from datetime import datetime

import pytest
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Mm
from openpyxl import load_workbook
from pypdf import PdfReader

from tipline.core.timeutil import local_today
from tipline.extensions import db
from tipline.places.models import Letterhead
from tipline.reports import review_pdf

YEAR = local_today().year
REVIEW = f"/staff/bao-cao/so-ket?ky={YEAR}"
PDF = f"/staff/bao-cao/so-ket.pdf?ky={YEAR}"
DOCX = f"/staff/bao-cao/so-ket.docx?ky={YEAR}"
LETTERHEAD = {
    "parent_body": "Ủy ban nhân dân tỉnh Thử",
    "body": "BAN CHỈ ĐẠO PHONG TRÀO TOÀN DÂN BẢO VỆ AN NINH TỔ QUỐC",
    "symbol": "BCĐ",
    "place": "Thử",
    "signer_title": "KT. TRƯỞNG BAN\nPHÓ TRƯỞNG BAN",
    "signer_name": "Nguyễn Văn Ký",
    "recipients": "- Bộ Công an (để báo cáo);\n- Lưu: VT.",
}

needs_font = pytest.mark.skipif(
    review_pdf.font_files() is None,
    reason="no serif font with Vietnamese letters: apt-get install -y fonts-liberation2",
)


def _words(pdf: bytes) -> list[tuple[str, float, float]]:
    """(text, x, y) of each piece of text on the first and last page (y grows upwards)."""
    reader = PdfReader(io.BytesIO(pdf))
    found = []
    for page in (reader.pages[0], reader.pages[-1]):

        def visit(text, cm, tm, font, size):
            if text.strip():
                found.append((text.strip(), tm[4], tm[5]))

        page.extract_text(visitor_text=visit)
    return found


def _at(words, needle: str) -> tuple[float, float]:
    return next((x, y) for text, x, y in words if needle in text)


def _text(pdf: bytes) -> str:
    """The PDF's words, one space apart: a heading wraps where its font's widths say
    (Liberation Serif 2 or, without it, the wider DejaVu Serif)."""
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def _docx_text(body: bytes) -> str:
    document = Document(io.BytesIO(body))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts += [cell.text for cell in row.cells]
    return "\n".join(parts)


@needs_font
def test_review_pdf_has_the_parts_of_an_administrative_document(login, world, make_tip):
    make_tip(world.a1)
    response = login("officer").get(PDF)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    body = response.get_data()
    text = _text(body)
    for part in (
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "ỦY BAN NHÂN DÂN TỈNH THỬ",  # the default issuer: the unit's People's Committee
        "/BC-UBND",
        f"năm {YEAR}",
        "BÁO CÁO",
        "Tin nhân dân cung cấp cho lực lượng Công an liên quan đến ANTT",
        "xã, phường đã nhập chỉ tiêu cho kỳ này",  # the "2/2 xã …" line is kept
        "Lập lúc",
        "Nơi nhận:",
        "TM. ỦY BAN NHÂN DÂN",
        "CHỦ TỊCH",
    ):
        assert part in text, part
    # A draft: no number and no day yet, only blanks before "/BC-" and after "ngày".
    assert re.search(r"Số:\s*/BC-UBND", text)
    assert re.search(r"Tỉnh Thử|Thử, ngày\s+tháng\s+năm", text)
    words = _words(body)
    issuer_x, issuer_y = _at(words, "ỦY BAN NHÂN DÂN TỈNH")
    nation_x, nation_y = _at(words, "CỘNG HÒA")
    assert nation_x > issuer_x and abs(nation_y - issuer_y) < 5  # side by side at the top
    assert _at(words, "BÁO CÁO")[1] < nation_y
    recipients_x, recipients_y = _at(words, "Nơi nhận")
    signer_x, signer_y = _at(words, "TM. ỦY BAN NHÂN DÂN")
    assert signer_x > recipients_x + 50 and abs(signer_y - recipients_y) < 15
    fonts = {
        str(font.get_object().get("/BaseFont"))
        for page in PdfReader(io.BytesIO(body)).pages
        for font in page["/Resources"]["/Font"].values()
    }
    assert any("LiberationSerif" in f or "DejaVuSerif" in f for f in fonts), fonts


@needs_font
def test_letterhead_set_by_an_administrator_heads_both_documents(login, world):
    admin = login("admin")
    page = admin.get("/admin/letterheads?unit=T")
    assert page.status_code == 200 and "ỦY BAN NHÂN DÂN TỈNH THỬ" in page.get_data(as_text=True)
    saved = admin.post("/admin/letterheads?unit=T", data=LETTERHEAD)
    assert saved.status_code == 302 and saved.location.endswith("/admin/letterheads?unit=T")
    stored = db.session.get(Letterhead, world.province.id)
    assert (stored.symbol, stored.signer_name) == ("BCĐ", "Nguyễn Văn Ký")

    officer = login("officer")
    text = _text(officer.get(PDF).get_data())
    for part in (
        "ỦY BAN NHÂN DÂN TỈNH THỬ",  # the body above, in capitals
        "BAN CHỈ ĐẠO PHONG TRÀO",
        "/BC-BCĐ",
        "KT. TRƯỞNG BAN",
        "PHÓ TRƯỞNG BAN",
        "Nguyễn Văn Ký",
        "Bộ Công an (để báo cáo);",
    ):
        assert part in text, part
    docx = officer.get(DOCX)
    assert docx.status_code == 200
    assert docx.headers["Content-Type"].endswith("wordprocessingml.document")
    assert 'filename="so-ket-T-' in docx.headers["Content-Disposition"]
    words = _docx_text(docx.get_data())
    for part in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "BAN CHỈ ĐẠO PHONG TRÀO", "/BC-BCĐ",
                 "Nguyễn Văn Ký", "Nơi nhận:", "Lập lúc", "Tổ hòa giải"):  # fmt: skip
        assert part in words, part


def test_docx_is_an_a4_times_new_roman_document_with_the_motto_underlined(login, world):
    body = login("committee_a").get(DOCX + "&don-vi=A").get_data()
    document = Document(io.BytesIO(body))
    section = document.sections[0]
    assert (round(section.page_width / Mm(1)), round(section.page_height / Mm(1))) == (210, 297)
    margins = [section.top_margin, section.bottom_margin, section.left_margin, section.right_margin]
    assert [round(m / Mm(1)) for m in margins] == [20, 20, 30, 15]
    runs = [
        run
        for table in document.tables
        for row in table.rows
        for cell in row.cells
        for paragraph in cell.paragraphs
        for run in paragraph.runs
    ] + [run for paragraph in document.paragraphs for run in paragraph.runs]
    motto = next(run for run in runs if run.text == "Độc lập - Tự do - Hạnh phúc")
    assert motto.underline and motto.bold
    assert next(run for run in runs if run.text == "BÁO CÁO").bold
    assert {run.font.name for run in runs if run.text.strip()} == {"Times New Roman"}
    figures = next(t for t in document.tables if t.rows[0].cells[0].text == "TT")
    assert [round(column.width / Mm(1)) for column in figures.columns] == [10, 78, 22, 55]
    assert figures.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None  # repeats per page
    assert all(row._tr.trPr.find(qn("w:cantSplit")) is not None for row in figures.rows)
    assert "ỦY BAN NHÂN DÂN XÃ AN BÌNH" in _docx_text(body)
    assert "An Bình, ngày" in _docx_text(body)  # a commune's documents carry its own name


@needs_font
def test_the_document_is_vietnamese_from_the_english_pages_too(login, world):
    client = login("officer")
    text = _text(client.get("/en" + PDF).get_data())
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text and "Tổ hòa giải" in text
    words = _docx_text(client.get("/en" + DOCX).get_data())
    assert "Tổ hòa giải" in words and "Nguồn" in words


def test_review_page_in_english_is_english_after_the_vietnamese_one(login, world):
    """The review is cached: its line names follow the page's language, not the first."""
    client = login("officer")
    assert "Tổ hòa giải" in client.get(REVIEW).get_data(as_text=True)
    english = client.get("/en" + REVIEW).get_data(as_text=True)
    assert "Tổ hòa giải" not in english


def test_without_a_font_the_pdf_is_refused_clearly_and_the_word_file_offered(
    login, world, monkeypatch
):
    monkeypatch.setattr(review_pdf, "FONTS", ())
    client = login("officer")
    page = client.get(REVIEW).get_data(as_text=True)
    assert "so-ket.pdf" not in page and "so-ket.docx" in page
    refused = client.get(PDF)
    assert refused.status_code == 400
    assert "phông chữ tiếng Việt" in refused.get_data(as_text=True)


def test_letterhead_form_explains_what_is_missing_and_keeps_what_was_typed(login, world):
    admin = login("admin")
    sent = admin.post("/admin/letterheads?unit=A", data={**LETTERHEAD, "body": "", "symbol": "B C"})
    assert sent.status_code == 422
    page = sent.get_data(as_text=True)
    assert "Hãy nhập tên cơ quan ban hành." in page
    assert "Chữ viết tắt không có khoảng trắng hay dấu /." in page
    assert "Nguyễn Văn Ký" in page
    assert db.session.get(Letterhead, world.commune_a.id) is None
    assert admin.post("/admin/letterheads", data=LETTERHEAD).status_code == 400
    assert admin.get("/admin/letterheads?unit=NOPE").status_code == 404
    assert admin.get("/admin/letterheads?unit=A1").status_code == 404  # villages issue none
    assert login("police_a").get("/admin/letterheads?unit=A").status_code == 404


def test_the_review_page_links_administrators_to_the_letterhead(login, world):
    # Administrators read no reports; an officer who is also administrator sees the link.
    from tipline.accounts.models import Role
    from tipline.accounts.services import grant

    grant(world.user("officer"), Role.ADMIN, world.province)
    db.session.commit()
    page = login("officer").get(REVIEW).get_data(as_text=True)
    assert "/admin/letterheads?unit=T" in page
    assert "/admin/letterheads" not in login("committee_a").get(REVIEW).get_data(as_text=True)


# --- required selects ------------------------------------------------------------------------


def test_required_selects_start_empty_and_say_what_is_missing(world, login):
    page = login("admin").post("/admin/users/new", data={"username": "ba", "full_name": "Ba"})
    html = page.get_data(as_text=True)
    assert page.status_code == 422
    assert '<option selected value="">— Chọn —</option>' in html or 'value="">— Chọn —' in html
    assert "Hãy chọn đơn vị." in html and "Hãy chọn vai trò." in html


def test_tip_page_move_target_starts_empty_and_an_empty_choice_is_refused(login, world, make_tip):
    tip = make_tip(world.a1)
    client = login("police_a")
    page = client.get(f"/staff/tips/{tip.public_id}").get_data(as_text=True)
    assert re.search(r'name="to_unit" required><option( selected)? value="">— Chọn —', page)
    moved = client.post(
        f"/staff/tips/{tip.public_id}/act", data={"action": "move", "version": "1", "to_unit": ""}
    )
    assert moved.status_code in (400, 409, 422)
    assert "Hãy chọn thôn hoặc xã nhận tin." in moved.get_data(as_text=True)


# --- XLSX ------------------------------------------------------------------------------------


def test_tips_xlsx_is_ready_for_an_office(login, world, make_tip):
    tip = make_tip(world.a1)
    response = login("police_a").get(f"/staff/bao-cao/xuat.xlsx?ky={YEAR}")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    title = sheet["A1"].value
    assert "Tin báo" in title and "Xã An Bình" in title and f"01/01/{YEAR}" in title
    assert sheet["A1"].font.bold
    assert sheet.freeze_panes == "A3"  # title and header stay in view
    assert [c.value for c in sheet[2]][:3] == ["Mã tin", "Thời điểm gửi", "Xã, phường"]
    assert sheet[2][0].font.bold
    reference, sent = sheet["A3"], sheet["B3"]
    assert reference.value == tip.reference
    assert isinstance(sent.value, datetime) and sent.number_format == "dd/mm/yyyy hh:mm"
    assert sent.value.strftime("%Y") == str(YEAR)
    widths = {letter: sheet.column_dimensions[letter].width for letter in "ABCM"}
    assert widths["A"] >= len(tip.reference) and widths["B"] >= 16
    assert all(6 <= width <= 60 for width in widths.values())


def test_review_xlsx_numbers_are_numbers(login, world, make_tip):
    make_tip(world.a1)
    make_tip(world.a2)
    response = login("committee_a").get(f"/staff/bao-cao/so-ket.xlsx?ky={YEAR}&don-vi=A")
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    assert "Xã An Bình" in sheet["A1"].value and sheet.freeze_panes == "A3"
    assert sheet["A2"].value == "TT"
    received = next(row for row in sheet.iter_rows(min_row=3) if row[0].value == "4")
    assert received[2].value == 2 and received[2].number_format == "#,##0"
    assert received[4].value == 2  # from tips
    untracked = next(row for row in sheet.iter_rows(min_row=3) if row[0].value == "12")
    assert untracked[3].value is None  # nothing entered: an empty cell, not ""


def test_csv_keeps_its_plain_dates(login, world, make_tip):
    make_tip(world.a1)
    body = login("police_a").get(f"/staff/bao-cao/xuat.csv?ky={YEAR}").get_data().decode()
    assert re.search(rf"\r\nTL-[A-Z0-9-]+,{YEAR}-\d\d-\d\d \d\d:\d\d,", body)
