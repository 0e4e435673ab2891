"""Posters and hand-out cards for the villages of a commune, as one PDF (fpdf2 + segno).

An A4 poster per village, in large print for older eyes: what the line is for, a QR code
that opens the tip form with the commune and village chosen (the link carries the unit
codes only), the SMS number and what to text where the commune has one, the hotlines for
what is happening now, and the privacy promise in one sentence. Cards are the same in
small, eight to an A4 sheet (2 × 4, 105 × 74 mm), for handing out.

QR size: a phone reads a code from about ten times its width (the usual rule of thumb
for QR codes, with level M error correction), so the poster's code is 105 mm wide to be
read from a metre and more; the card's 46 mm, from about half a metre, in the hand.
tests/test_posters.py renders the poster at what a phone's camera sees of an A4 sheet
from a metre away and reads the code back.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import segno
from flask_babel import gettext as _

# (folder, regular, bold): the first sans family installed with every Vietnamese letter.
FONTS = (
    ("/usr/share/fonts/truetype/dejavu", "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/dejavu", "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    (
        "/usr/share/fonts/truetype/liberation2",
        "LiberationSans-Regular.ttf",
        "LiberationSans-Bold.ttf",
    ),
)
FAMILY = "sans"

POSTER_QR_MM = 105  # read from ≥ 1 m (about 10 × its width)
CARD_QR_MM = 46
CARD_W, CARD_H = 105.0, 74.25  # A4 in 2 × 4


@dataclass(frozen=True)
class Poster:
    """What one poster says: names, the form's link, the SMS line (if any)."""

    village: str
    commune: str
    link: str  # the tip form with the commune and village chosen
    sms_number: str | None  # the commune's (or province's) gateway number, for display
    sms_hint: str | None  # what to text there


@cache
def font_files() -> tuple[Path, Path] | None:
    """A sans-serif family with Vietnamese letters, or None (posters are then refused)."""
    from tipline.reports.review_pdf import _covers

    for folder, regular, bold in FONTS:
        paths = (Path(folder) / regular, Path(folder) / bold)
        if all(path.exists() for path in paths) and all(_covers(path) for path in paths):
            return paths
    return None


def _qr_png(link: str) -> io.BytesIO:
    out = io.BytesIO()
    # Level M (15 % of the code may be lost: a fold, a stain, rain), 4-module quiet zone.
    segno.make(link, error="m", boost_error=False).save(out, kind="png", scale=10, border=4)
    out.seek(0)
    return out


def qr_modules(link: str) -> int:
    """Modules across the code, quiet zone included (for tests and the size check)."""
    return segno.make(link, error="m", boost_error=False).symbol_size(border=4)[0]


def _document(title: str):
    from fpdf import FPDF

    fonts = font_files()
    if fonts is None:
        raise LookupError("no font with Vietnamese letters")
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_title(title)
    pdf.set_lang("vi")
    pdf.set_auto_page_break(False)
    pdf.add_font(FAMILY, "", str(fonts[0]))
    pdf.add_font(FAMILY, "B", str(fonts[1]))
    return pdf


def _privacy(poster: Poster) -> str:
    if poster.sms_number:
        return _(
            "Bạn có thể báo tin không cần ghi tên. Tin nhắn đến một điện thoại do Công an xã "
            "giữ: số của bạn chỉ dùng để trả lời bạn, không ai khác được xem, và được xóa "
            "khi việc đã xong."
        )
    return _(
        "Bạn có thể báo tin không cần ghi tên. Tipline không lưu địa chỉ IP hay thông tin "
        "thiết bị của bạn."
    )


def posters_pdf(posters: list[Poster], *, title: str) -> bytes:
    """One A4 poster per village."""
    pdf = _document(title)
    for poster in posters:
        pdf.add_page()
        margin = 14
        width = 210 - 2 * margin
        pdf.set_xy(margin, 10)
        pdf.set_font(FAMILY, "B", 12)
        pdf.set_text_color(90, 90, 90)
        pdf.multi_cell(width, 6, _("Tipline · Khu dân cư an toàn về an ninh, trật tự"), align="C")
        pdf.set_text_color(0, 0, 0)
        pdf.set_xy(margin, 18)
        pdf.set_font(FAMILY, "B", 40)
        pdf.multi_cell(width, 17, _("Báo tin về an ninh, trật tự"), align="C")
        pdf.set_font(FAMILY, "", 22)
        pdf.set_x(margin)
        pdf.multi_cell(width, 10, f"{poster.village}, {poster.commune}", align="C")
        top = pdf.get_y() + 4
        pdf.image(_qr_png(poster.link), x=(210 - POSTER_QR_MM) / 2, y=top, w=POSTER_QR_MM)
        pdf.set_xy(margin, top + POSTER_QR_MM + 1)
        pdf.set_font(FAMILY, "B", 20)
        pdf.multi_cell(width, 9, _("Quét mã bằng điện thoại để gửi tin"), align="C")
        pdf.set_x(margin)
        pdf.set_font(FAMILY, "", 11)
        pdf.multi_cell(width, 5, poster.link, align="C")
        pdf.ln(2)
        if poster.sms_number:
            pdf.set_x(margin)
            pdf.set_font(FAMILY, "", 18)
            pdf.multi_cell(width, 8.5, _("Không có điện thoại thông minh? Nhắn tin tới"), align="C")
            pdf.set_x(margin)
            pdf.set_font(FAMILY, "B", 30)
            pdf.multi_cell(width, 13, poster.sms_number, align="C")
            if poster.sms_hint:
                pdf.set_x(margin)
                pdf.set_font(FAMILY, "", 16)
                pdf.multi_cell(width, 7.5, poster.sms_hint, align="C")
        # The hotlines, in a box at the foot of the page.
        box_top = 297 - 14 - 56
        pdf.set_fill_color(178, 34, 34)
        pdf.set_text_color(255, 255, 255)
        pdf.rect(margin, box_top, width, 30, style="F")
        pdf.set_xy(margin, box_top + 3)
        pdf.set_font(FAMILY, "B", 20)
        pdf.multi_cell(width, 9, _("Việc đang xảy ra, hãy gọi:"), align="C")
        pdf.set_x(margin)
        pdf.set_font(FAMILY, "B", 20)
        pdf.multi_cell(width, 11, _("113 Công an · 114 Cứu hỏa · 115 Cấp cứu"), align="C")
        pdf.set_text_color(0, 0, 0)
        pdf.set_xy(margin, box_top + 33)
        pdf.set_font(FAMILY, "", 14)
        pdf.multi_cell(width, 6.5, _privacy(poster), align="C")
    return bytes(pdf.output())


def cards_pdf(posters: list[Poster], *, title: str) -> bytes:
    """Cards of 105 × 74 mm, eight to an A4 sheet, one per village in turn (each village's
    card repeated to fill its sheet), with cutting marks."""
    pdf = _document(title)
    for poster in posters:
        pdf.add_page()
        pdf.set_draw_color(160, 160, 160)
        pdf.set_line_width(0.2)
        pdf.line(CARD_W, 0, CARD_W, 297)
        for row in range(1, 4):
            pdf.line(0, row * CARD_H, 210, row * CARD_H)
        for index in range(8):
            x, y = (index % 2) * CARD_W, (index // 2) * CARD_H
            _card(pdf, poster, x, y)
    return bytes(pdf.output())


def _card(pdf, poster: Poster, x: float, y: float) -> None:
    pad = 5
    pdf.image(_qr_png(poster.link), x=x + pad, y=y + (CARD_H - CARD_QR_MM) / 2, w=CARD_QR_MM)
    text_x = x + pad + CARD_QR_MM + 3
    text_w = CARD_W - (text_x - x) - pad
    pdf.set_xy(text_x, y + 7)
    pdf.set_font(FAMILY, "B", 13)
    pdf.multi_cell(text_w, 5.6, _("Báo tin về an ninh, trật tự"), align="L")
    pdf.set_x(text_x)
    pdf.set_font(FAMILY, "", 9.5)
    pdf.multi_cell(text_w, 4.3, f"{poster.village}, {poster.commune}", align="L")
    pdf.set_x(text_x)
    pdf.set_font(FAMILY, "", 9.5)
    pdf.multi_cell(text_w, 4.3, _("Quét mã để gửi tin, không cần ghi tên."), align="L")
    if poster.sms_number:
        pdf.set_x(text_x)
        pdf.multi_cell(text_w, 4.3, _("Hoặc nhắn tin tới:"), align="L")
        pdf.set_x(text_x)
        pdf.set_font(FAMILY, "B", 12)
        pdf.multi_cell(text_w, 5.5, poster.sms_number, align="L")
    pdf.set_x(text_x)
    pdf.set_font(FAMILY, "B", 9.5)
    pdf.set_text_color(178, 34, 34)
    pdf.multi_cell(text_w, 4.3, _("Việc đang xảy ra, hãy gọi 113, 114, 115."), align="L")
    pdf.set_text_color(0, 0, 0)
