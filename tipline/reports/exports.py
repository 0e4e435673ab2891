"""CSV and XLSX of the tips in scope, and the annual review as XLSX (its PDF and DOCX:
review_pdf.py, review_docx.py)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date, datetime

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


def _time(moment) -> datetime | None:
    """Local time without a zone: a spreadsheet stores dates as local serial numbers."""
    return to_local(moment).replace(tzinfo=None, second=0, microsecond=0) if moment else None


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


def _csv_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return "" if value is None else value


def to_csv(rows: Iterable[list]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([_csv_value(v) for v in row] for row in rows)
    # A BOM so that Excel opens Vietnamese text as UTF-8.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


DATE_TIME = "dd/mm/yyyy hh:mm"
DATE = "dd/mm/yyyy"
WHOLE = "#,##0"
MIN_WIDTH, MAX_WIDTH = 6, 60  # characters


def _width(value: object) -> int:
    if isinstance(value, datetime):
        return len(DATE_TIME)
    if isinstance(value, date):
        return len(DATE)
    text = "" if value is None else str(value)
    return max((len(line) for line in text.splitlines()), default=0)


def to_xlsx(rows: list[list], sheet_name: str, title: str) -> bytes:
    """A sheet an office can use as it is: a title row (what, which unit, which period),
    the header row frozen under it, dates as dates, numbers as numbers, columns as wide
    as their contents (within bounds). `rows` is the header, then the data."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=sheet_name[:31])
    header, *data = rows
    # A note (one cell, under the data) may run across the empty cells beside it.
    measured = [row for row in data if sum(v not in (None, "") for v in row) > 1]
    widths = [max([_width(header[i]), *(_width(row[i]) for row in measured if i < len(row))])
              for i in range(len(header))]  # fmt: skip
    for index, width in enumerate(widths, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = min(max(width + 2, MIN_WIDTH), MAX_WIDTH)
    sheet.freeze_panes = "A3"  # the title and the header stay in view

    heading = WriteOnlyCell(sheet, value=neutralise(title))
    heading.data_type = "s"
    heading.font = Font(bold=True, size=13)
    sheet.append([heading])
    bold = Font(bold=True)
    cells = []
    for value in header:
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type, cell.font = "s", bold
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        cells.append(cell)
    sheet.append(cells)
    for row in data:
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # text, never a formula
            elif isinstance(value, datetime):
                cell.number_format = DATE_TIME
            elif isinstance(value, date):
                cell.number_format = DATE
            elif isinstance(value, int) and not isinstance(value, bool):
                cell.number_format = WHOLE
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def sheet_title(what: str, unit_name: str, period_label: str) -> str:
    """The title row: what the sheet holds, for which unit, over which period."""
    return f"{what} · {unit_name} · {period_label}"


def review_rows(review: Review) -> list[list]:
    """The review's header and lines (its title row: `sheet_title`), then the note."""
    rows = [
        [_("TT"), _("Chỉ tiêu"), _("Số liệu"), _("Nhập từ xã"), _("Từ tin báo"), _("Nguồn")],
    ]
    for line in review.lines:
        rows.append(
            [
                line.number,
                str(line.label),
                line.value if line.value is not None else _("Không theo dõi"),
                line.entered,
                line.from_tips,
                line.source_label,
            ]
        )
    rows.append([None] * 6)
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
