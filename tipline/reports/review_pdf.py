"""The annual review as a PDF laid out as Nghị định 30/2020/NĐ-CP asks: A4, margins
20/20/30/15 mm, a serif font with Times New Roman's metrics, the issuer and the number on
the left, the nation's name and motto on the right, the title, the body, the recipients
at the bottom left and the signature block at the bottom right."""

from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path

from tipline.reports.document import OfficialDocument

# (folders, file names for regular, bold, italic, bold italic): the first family found
# that has every Vietnamese letter wins. Liberation Serif has Times New Roman's metrics;
# Debian's fonts-liberation2 (2.x) has the Vietnamese letters, fonts-liberation (1.07) has
# not. DejaVu Serif (fonts-dejavu-core, on most machines) has them too.
FONTS = (
    (
        (
            "/usr/share/fonts/truetype/liberation2",
            "/usr/share/fonts/truetype/liberation",
            "/usr/share/fonts/liberation",
        ),
        (
            "LiberationSerif-Regular.ttf",
            "LiberationSerif-Bold.ttf",
            "LiberationSerif-Italic.ttf",
            "LiberationSerif-BoldItalic.ttf",
        ),
    ),
    (
        ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu"),
        (
            "DejaVuSerif.ttf",
            "DejaVuSerif-Bold.ttf",
            "DejaVuSerif-Italic.ttf",
            "DejaVuSerif-BoldItalic.ttf",
        ),
    ),
)
STYLES = ("", "B", "I", "BI")
FAMILY = "serif"

TOP, BOTTOM, LEFT, RIGHT = 20, 20, 30, 15  # mm
LEFT_COLUMN = 70  # the issuer's column; the nation's takes the rest
LINE = 0.3528 * 1.25  # mm per point, at 1.25 line spacing


# Every letter of the Vietnamese alphabet with every tone, both cases, and the quotes used.
VIETNAMESE = "".join(
    sorted(
        {
            variant
            for base in "aăâeêioôơuưyAĂÂEÊIOÔƠUƯY"
            for tone in ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")
            for variant in [unicodedata.normalize("NFC", base + tone)]
        }
        | set("đĐ“”–…")
    )
)


@cache
def _covers(path: Path) -> bool:
    from fontTools.ttLib import TTFont

    try:
        with TTFont(str(path), lazy=True) as font:
            cmap = font.getBestCmap() or {}
    except Exception:  # an unreadable font file is no font  # noqa: BLE001
        return False
    return all(ord(char) in cmap for char in VIETNAMESE)


def font_files() -> tuple[Path, ...] | None:
    """The four faces of the first serif family installed with every Vietnamese letter,
    or None (the PDF is then not offered; the DOCX still is)."""
    for folders, names in FONTS:
        for folder in folders:
            paths = tuple(Path(folder) / name for name in names)
            faces = tuple(path for path in paths if path.exists() and _covers(path))
            if paths[0] in faces:
                # A family without some faces uses the regular one for them.
                return tuple(path if path in faces else paths[0] for path in paths)
    return None


def review_pdf(document: OfficialDocument, fonts: tuple[Path, ...]) -> bytes:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    class Page(FPDF):
        def header(self):
            # From the second page on, its number at the top, centred (Điều 15).
            if self.page_no() > 1:
                self.set_font(FAMILY, "", 13)
                self.set_y(10)
                self.cell(0, 5, str(self.page_no()), align="C")
                self.set_y(TOP)

    pdf = Page(format="A4", unit="mm")
    pdf.set_margins(LEFT, TOP, RIGHT)
    pdf.set_auto_page_break(True, BOTTOM)
    pdf.set_title(document.file_title)
    pdf.set_lang("vi")
    for style, path in zip(STYLES, fonts, strict=True):
        pdf.add_font(FAMILY, style, str(path))
    pdf.add_page()
    width = pdf.epw
    right_x = LEFT + LEFT_COLUMN
    right_w = width - LEFT_COLUMN

    def centred(x, w, text, style, size, *, underline_rule=False, rule=0.0):
        pdf.set_xy(x, pdf.get_y())
        pdf.set_font(FAMILY, style, size)
        pdf.multi_cell(w, size * LINE, text, align="C", new_x="LEFT", new_y="NEXT")
        if underline_rule:  # a rule as long as the text, just under it
            length = min(pdf.get_string_width(text), w)
            pdf.line(x + (w - length) / 2, pdf.get_y(), x + (w + length) / 2, pdf.get_y())
        elif rule:  # a short rule under the issuer and under the subject
            y = pdf.get_y() + 2
            pdf.line(x + (w - rule) / 2, y, x + (w + rule) / 2, y)
            pdf.set_y(y + 1)

    # The issuer (left) and the nation (right), side by side.
    pdf.set_line_width(0.3)
    top = pdf.get_y()
    if document.parent_body:
        centred(LEFT, LEFT_COLUMN, document.parent_body, "", 12.5)
    centred(LEFT, LEFT_COLUMN, document.body, "B", 12.5, rule=LEFT_COLUMN / 3)
    left_end = pdf.get_y()
    pdf.set_y(top)
    centred(right_x, right_w, document.nation, "B", 12)
    centred(right_x, right_w, document.motto, "B", 13.5, underline_rule=True)
    row = max(left_end, pdf.get_y()) + 4
    pdf.set_y(row)
    centred(LEFT, LEFT_COLUMN, document.number, "", 13)
    pdf.set_y(row)
    centred(right_x, right_w, document.place_date, "I", 13)

    # Title and subject.
    pdf.set_y(pdf.get_y() + 8)
    centred(LEFT, width, document.kind, "B", 14)
    subject = "\n".join(document.subject)
    pdf.set_font(FAMILY, "B", 14)
    longest = max(pdf.get_string_width(line) for line in document.subject)
    centred(LEFT, width, subject, "B", 14, rule=min(longest, width) / 3)
    pdf.ln(6)

    # Body: a paragraph, the figures, the notes.
    pdf.set_font(FAMILY, "", 14)
    with (
        pdf.text_columns(text_align="J", line_height=1.25) as columns,
        columns.paragraph(first_line_indent=12.7, bottom_margin=2) as paragraph,
    ):
        paragraph.write(document.intro)
    pdf.ln(1)
    pdf.set_font(FAMILY, "", 12)
    with pdf.table(
        width=pdf.epw,
        align="LEFT",
        col_widths=(9, 78, 22, 56),
        text_align=("CENTER", "LEFT", "RIGHT", "LEFT"),
        line_height=12 * LINE,
        padding=1.2,
        headings_style=FontFace(emphasis="BOLD"),
        repeat_headings=1,
    ) as table:
        head = table.row()
        for text in document.header:
            head.cell(text, align="C")
        for values in document.rows:
            row_cells = table.row()
            for value in values:
                row_cells.cell(value)
    pdf.set_font(FAMILY, "", 14)
    pdf.ln(3)
    with pdf.text_columns(text_align="J", line_height=1.25) as columns:
        for note in document.notes:
            with columns.paragraph(first_line_indent=12.7, bottom_margin=1) as paragraph:
                paragraph.write(note)

    # Recipients (left, small) and the signature block (right), on one page together.
    pdf.ln(4)
    signature_height = 13 * LINE * (len(document.signer_title) + 2) + 28
    recipients_height = 11 * LINE * (len(document.recipients) + 1) + 4
    if pdf.get_y() + max(signature_height, recipients_height) > pdf.h - BOTTOM:
        pdf.add_page()
    top = pdf.get_y()
    pdf.set_xy(LEFT, top)
    pdf.set_font(FAMILY, "BI", 12)
    pdf.cell(LEFT_COLUMN + 10, 12 * LINE, "Nơi nhận:", new_x="LEFT", new_y="NEXT")
    pdf.set_font(FAMILY, "", 11)
    for line in document.recipients:
        pdf.set_x(LEFT)
        pdf.multi_cell(LEFT_COLUMN + 10, 11 * LINE, line, new_x="LEFT", new_y="NEXT")
    pdf.set_y(top)
    sign_x, sign_w = right_x + 5, right_w - 5
    centred(sign_x, sign_w, "\n".join(document.signer_title) or " ", "B", 13.5)
    pdf.set_y(pdf.get_y() + 26)  # room for the signature and the seal
    if document.signer_name:
        centred(sign_x, sign_w, document.signer_name, "B", 13.5)
    return bytes(pdf.output())
