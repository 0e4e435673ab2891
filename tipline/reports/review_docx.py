"""The annual review as a Word document (DOCX), the same parts as the PDF, so the office
can finish it in Word: Times New Roman, A4, margins 20/20/30/15 mm (Nghị định 30/2020)."""

from __future__ import annotations

import io

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from tipline.reports.document import OfficialDocument

FONT = "Times New Roman"
CENTER = WD_ALIGN_PARAGRAPH.CENTER


def _run(paragraph, text: str, size: float, *, bold=False, italic=False, underline=False):
    run = paragraph.add_run(text)
    run.font.name = FONT
    run.font.size = Pt(size)
    run.bold, run.italic, run.underline = bold, italic, underline
    # East Asian and complex-script slots too, or Word picks another font for "ạ", "ễ"...
    fonts = run._element.get_or_add_rPr().get_or_add_rFonts()
    for slot in ("w:eastAsia", "w:cs", "w:hAnsi"):
        fonts.set(qn(slot), FONT)
    return run


def _paragraph(container, text="", size=13.0, *, align=None, bold=False, italic=False,
               underline=False, space_after=0.0, indent=None):  # fmt: skip
    paragraph = container.add_paragraph()
    fmt = paragraph.paragraph_format
    fmt.space_before, fmt.space_after = Pt(0), Pt(space_after)
    fmt.line_spacing = 1.0
    if align is not None:
        paragraph.alignment = align
    if indent is not None:
        fmt.first_line_indent = Mm(indent)
    for index, line in enumerate(text.split("\n")):
        if index:
            paragraph.add_run().add_break()
        _run(paragraph, line, size, bold=bold, italic=italic, underline=underline)
    return paragraph


def _short_rule(cell, width_mm: float, cell_mm: float) -> None:
    """A short centred line, as ND 30 draws under the issuer and the subject."""
    paragraph = _paragraph(cell, "", 4, align=CENTER)
    side = Mm(max((cell_mm - width_mm) / 2, 0))
    paragraph.paragraph_format.left_indent = side
    paragraph.paragraph_format.right_indent = side
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "single"), ("w:sz", "6"), ("w:space", "1"), ("w:color", "000000")):
        bottom.set(qn(key), value)
    borders.append(bottom)
    paragraph._p.get_or_add_pPr().append(borders)


def _widths(table, widths) -> None:
    """Fixed column widths (Word reads the cells', LibreOffice the grid's: set both)."""
    table.autofit = False
    for column, width in zip(table.columns, widths, strict=True):
        column.width = width
    for row in table.rows:
        for cell, width in zip(row.cells, widths, strict=True):
            cell.width = width


def _keep_rows_whole(table, header_rows: int = 0) -> None:
    """No row split over two pages; the first rows repeat on each page."""
    for index, row in enumerate(table.rows):
        properties = row._tr.get_or_add_trPr()
        properties.append(OxmlElement("w:cantSplit"))
        if index < header_rows:
            properties.append(OxmlElement("w:tblHeader"))


def _no_borders(table) -> None:
    properties = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        element = OxmlElement(f"w:{edge}")
        element.set(qn("w:val"), "nil")
        borders.append(element)
    properties.append(borders)


def review_docx(document: OfficialDocument) -> bytes:
    doc = Document()
    doc.core_properties.title = document.file_title
    doc.core_properties.language = "vi-VN"
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(20), Mm(20)
    section.left_margin, section.right_margin = Mm(30), Mm(15)
    # From the second page on, the page number at the top, centred (Điều 15).
    section.different_first_page_header_footer = True
    number_line = section.header.paragraphs[0]
    number_line.alignment = WD_ALIGN_PARAGRAPH.CENTER
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    number_line._p.append(field)
    style = doc.styles["Normal"]
    style.font.name, style.font.size = FONT, Pt(13)

    # The issuer and the number (left); the nation, the motto, place and date (right).
    head = doc.add_table(rows=2, cols=2)
    _no_borders(head)
    head.alignment = WD_TABLE_ALIGNMENT.CENTER
    _widths(head, (Mm(70), Mm(95)))
    issuer, nation = head.rows[0].cells
    issuer.paragraphs[0]._p.getparent().remove(issuer.paragraphs[0]._p)
    nation.paragraphs[0]._p.getparent().remove(nation.paragraphs[0]._p)
    if document.parent_body:
        _paragraph(issuer, document.parent_body, 12.5, align=CENTER)
    _paragraph(issuer, document.body, 12.5, align=CENTER, bold=True)
    _short_rule(issuer, 23, 70)
    _paragraph(nation, document.nation, 12, align=CENTER, bold=True)
    _paragraph(nation, document.motto, 13.5, align=CENTER, bold=True, underline=True)
    number, place = head.rows[1].cells
    number.paragraphs[0].alignment = CENTER
    _run(number.paragraphs[0], document.number, 13)
    place.paragraphs[0].alignment = CENTER
    _run(place.paragraphs[0], document.place_date, 13, italic=True)

    _paragraph(doc, "", 13)
    _paragraph(doc, document.kind, 14, align=CENTER, bold=True)
    _paragraph(doc, "\n".join(document.subject), 14, align=CENTER, bold=True)
    subject_rule = doc.add_table(rows=1, cols=1)
    _no_borders(subject_rule)
    subject_rule.alignment = WD_TABLE_ALIGNMENT.CENTER
    _widths(subject_rule, (Mm(165),))
    only = subject_rule.rows[0].cells[0]
    only.paragraphs[0]._p.getparent().remove(only.paragraphs[0]._p)
    _short_rule(only, 50, 165)
    _paragraph(doc, "", 8)

    justify = WD_ALIGN_PARAGRAPH.JUSTIFY
    _paragraph(doc, document.intro, 14, align=justify, indent=12.7, space_after=6)
    figures = doc.add_table(rows=1, cols=len(document.header))
    figures.style = "Table Grid"
    figures.alignment = WD_TABLE_ALIGNMENT.CENTER
    column_widths = (Mm(10), Mm(78), Mm(22), Mm(55))
    for cell, text, width in zip(
        figures.rows[0].cells, document.header, column_widths, strict=True
    ):
        cell.width = width
        cell.paragraphs[0].alignment = CENTER
        _run(cell.paragraphs[0], text, 12, bold=True)
    aligns = (CENTER, WD_ALIGN_PARAGRAPH.LEFT, WD_ALIGN_PARAGRAPH.RIGHT, WD_ALIGN_PARAGRAPH.LEFT)
    for values in document.rows:
        cells = figures.add_row().cells
        for cell, value, align in zip(cells, values, aligns, strict=True):
            cell.paragraphs[0].alignment = align
            _run(cell.paragraphs[0], value, 12)
    _widths(figures, column_widths)
    _keep_rows_whole(figures, header_rows=1)
    _paragraph(doc, "", 6)
    for note in document.notes:
        _paragraph(doc, note, 14, align=justify, indent=12.7, space_after=3)
    _paragraph(doc, "", 13)

    # Recipients (left, small) and the signature block (right).
    foot = doc.add_table(rows=1, cols=2)
    _no_borders(foot)
    _widths(foot, (Mm(80), Mm(85)))
    _keep_rows_whole(foot)
    recipients, signer = foot.rows[0].cells
    recipients.paragraphs[0]._p.getparent().remove(recipients.paragraphs[0]._p)
    signer.paragraphs[0]._p.getparent().remove(signer.paragraphs[0]._p)
    _paragraph(recipients, "Nơi nhận:", 12, bold=True, italic=True)
    for line in document.recipients:
        _paragraph(recipients, line, 11)
    _paragraph(signer, "\n".join(document.signer_title) or " ", 13.5, align=CENTER, bold=True)
    for _blank in range(4):  # room for the signature and the seal
        _paragraph(signer, "", 13.5)
    _paragraph(signer, document.signer_name, 13.5, align=CENTER, bold=True)

    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
