"""CSV and XLSX of the tips in scope, and the annual review as XLSX (and PDF)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from tipline.accounts.models import User
from tipline.accounts.permissions import may_export_identity
from tipline.core.errors import NotAllowed
from tipline.core.timeutil import to_local
from tipline.extensions import db
from tipline.reports.dashboard import TipFilter, count_of, filtered_tips
from tipline.reports.errors import ReportError
from tipline.reports.models import ExportLog
from tipline.reports.review import Review
from tipline.tips.identity import open_identity
from tipline.tips.models import Tip, TipsterContact

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP CSV injection).
DANGEROUS_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def neutralise(value: object) -> object:
    """Text a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(DANGEROUS_STARTS):
        return "'" + value
    return value


def _header(with_identity: bool) -> list[str]:
    columns = [
        _("Mã tin"),
        _("Thời điểm gửi"),
        _("Xã, phường"),
        _("Thôn, tổ dân phố"),
        _("Lĩnh vực"),
        _("Trạng thái"),
        _("Đơn vị xử lý"),
        _("Kết quả"),
        _("Phản hồi đầu tiên"),
        _("Xác minh xong"),
        _("Kết thúc"),
        _("Mức danh tính"),
        _("Nội dung"),
    ]
    if with_identity:
        columns += [_("Họ tên người báo tin"), _("Điện thoại người báo tin")]
    return columns


def _time(moment) -> str:
    return to_local(moment).strftime("%Y-%m-%d %H:%M") if moment else ""


def _row(tip: Tip, identity: bool, contact: TipsterContact | None) -> list:
    commune = tip.unit.commune
    village = tip.unit if tip.unit.level.value == "village" else None
    row = [
        tip.reference,
        _time(tip.submitted_at),
        commune.name if commune else "",
        village.name if village else _("Không rõ thôn"),
        tip.category.name,
        tip.status.label,
        tip.handler.label,
        tip.outcome.label if tip.outcome else "",
        _time(tip.first_response_at),
        _time(tip.verified_at),
        _time(tip.closed_at),
        tip.identity_tier.label,
        tip.description or "",
    ]
    if identity:
        row += [contact.name or "" if contact else "", contact.phone or "" if contact else ""]
    return [neutralise(v) for v in row]


def tip_rows(
    user: User, flt: TipFilter, *, fmt: str, with_identity: bool, max_rows: int
) -> tuple[list, int]:
    """Header + one row per tip in the filter; logs the export (and each identity shown)."""
    if with_identity and not may_export_identity(user):
        raise NotAllowed(_("Chỉ Công an xã được xuất danh tính người báo tin."))
    query = filtered_tips(user, flt)
    total = count_of(query)
    if total > max_rows:
        raise ReportError(
            _(
                "Có %(n)s tin trong phạm vi lọc, nhiều hơn giới hạn %(max)s của một lần xuất. "
                "Hãy thu hẹp kỳ hoặc địa bàn.",
                n=total,
                max=max_rows,
            )
        )
    query = query.options(selectinload(Tip.contact)) if with_identity else query
    tips = db.session.scalars(query).unique().all()
    contacts = {tip.id: open_identity(tip, user, "export") for tip in tips} if with_identity else {}
    rows = [_header(with_identity)]
    rows += [_row(tip, with_identity, contacts.get(tip.id)) for tip in tips]
    shown = sum(contact is not None for contact in contacts.values())
    db.session.add(
        ExportLog(
            user_id=user.id,
            format=fmt,
            filters=flt.describe(),
            rows=len(tips),
            with_identity=bool(shown),
        )
    )
    db.session.flush()
    return rows, len(tips)


def to_csv(rows: Iterable[list]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows)
    # A BOM so that Excel opens Vietnamese text as UTF-8.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(rows: Iterable[list], title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31])
    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # text, never a formula
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def review_rows(review: Review) -> list[list]:
    rows = [
        [_("BÁO CÁO SƠ KẾT MÔ HÌNH “KHU DÂN CƯ AN TOÀN VỀ ANTT”")],
        [review.unit.name, review.period.label],
        [],
        [_("TT"), _("Chỉ tiêu"), _("Số liệu"), _("Nhập từ xã"), _("Từ tin báo"), _("Nguồn")],
    ]
    for line in review.lines:
        rows.append(
            [
                line.number,
                line.label,
                line.value if line.value is not None else _("Không theo dõi"),
                line.entered if line.entered is not None else "",
                line.from_tips if line.from_tips is not None else "",
                line.source_label,
            ]
        )
    rows.append([])
    rows.append(
        [
            _(
                "Chỉ tiêu do %(entered)s/%(total)s xã, phường nhập cho kỳ này.",
                entered=review.indicators.communes_entered,
                total=review.indicators.communes_total,
            )
        ]
    )
    return [[neutralise(v) for v in row] for row in rows]


FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu")


def pdf_font() -> Path | None:
    """A Unicode font for Vietnamese; PDF is offered only where one is installed."""
    for folder in FONT_DIRS:
        path = Path(folder) / "DejaVuSans.ttf"
        if path.exists():
            return path
    return None


def review_pdf(review: Review) -> bytes:
    from fpdf import FPDF

    font = pdf_font()
    if font is None:
        raise ReportError(_("Máy chủ chưa có phông chữ tiếng Việt để tạo PDF; hãy dùng bản in."))
    pdf = FPDF(format="A4")
    pdf.set_title(_("Báo cáo sơ kết"))
    pdf.add_font("DejaVu", "", str(font))
    bold = font.with_name("DejaVuSans-Bold.ttf")
    pdf.add_font("DejaVu", "B", str(bold if bold.exists() else font))
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 13)
    pdf.multi_cell(
        0,
        7,
        _("BÁO CÁO SƠ KẾT MÔ HÌNH “KHU DÂN CƯ AN TOÀN VỀ ANTT”"),
        align="C",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.set_font("DejaVu", "", 11)
    pdf.multi_cell(
        0,
        6,
        f"{review.unit.name} · {review.period.label}",
        align="C",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(4)
    with pdf.table(col_widths=(8, 62, 18, 40), text_align=("LEFT", "LEFT", "RIGHT", "LEFT")) as t:
        head = t.row()
        for text in (_("TT"), _("Chỉ tiêu"), _("Số liệu"), _("Nguồn")):
            head.cell(text)
        for line in review.lines:
            row = t.row()
            row.cell(line.number)
            row.cell(line.label)
            row.cell(f"{line.value:,}".replace(",", ".") if line.value is not None else "—")
            row.cell(line.source_label)
    return bytes(pdf.output())
