"""Report periods: the last twelve months, a year, a month or a range of days."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l

from tipline.core.timeutil import local_today, months_back
from tipline.reports.errors import ReportError


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    key: str

    @property
    def label(self) -> str:
        return f"{self.start:%d/%m/%Y} – {self.end:%d/%m/%Y}"

    def months(self) -> list[date]:
        """First days of the months the period touches."""
        first = self.start.replace(day=1)
        out = []
        while first <= self.end:
            out.append(first)
            first = (first + timedelta(days=32)).replace(day=1)
        return out


_YEAR = re.compile(r"^(\d{4})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})_(\d{4}-\d{2}-\d{2})$")
LAST_12 = "12t"


def parse_period(value: str | None, today: date | None = None) -> Period:
    """'12t' (the last twelve months, the default), 'YYYY', 'YYYY-MM' or 'YYYY-MM-DD_YYYY-MM-DD'."""
    today = today or local_today()
    value = (value or LAST_12).strip()
    try:
        if value == LAST_12:
            return Period(months_back(today, 12), today, LAST_12)
        if match := _YEAR.match(value):
            year = int(match[1])
            _check_year(year)
            return Period(date(year, 1, 1), date(year, 12, 31), value)
        if match := _MONTH.match(value):
            year, month = int(match[1]), int(match[2])
            _check_year(year)
            start = date(year, month, 1)
            end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
            return Period(start, end, value)
        if match := _RANGE.match(value):
            start, end = date.fromisoformat(match[1]), date.fromisoformat(match[2])
            _check_year(start.year)
            _check_year(end.year)
            if start > end:
                raise ReportError(_l("Ngày bắt đầu phải trước ngày kết thúc."))
            if (end - start).days > 366 * 20:
                raise ReportError(_l("Kỳ báo cáo dài tối đa 20 năm."))
            return Period(start, end, value)
    except ValueError as error:
        raise ReportError(_l("Kỳ báo cáo không hợp lệ.")) from error
    raise ReportError(
        _l(
            "Kỳ báo cáo không hợp lệ. Hãy chọn 12 tháng qua, "
            "một năm (2026) hoặc một tháng (2026-03)."
        )
    )


def _check_year(year: int) -> None:
    if not 2000 <= year <= 2100:
        raise ReportError(_l("Năm phải trong khoảng 2000–2100."))


def period_choices(today: date | None = None, years: int = 5) -> list[tuple[str, str]]:
    today = today or local_today()
    # Said as it is: the twelve months run from the first day of the earliest to today.
    first = months_back(today, 12).strftime("%m/%Y")
    choices = [(LAST_12, str(_l("12 tháng, từ %(month)s đến nay", month=first)))]
    for year in range(today.year, today.year - years, -1):
        choices.append((str(year), str(_l("Năm %(year)s", year=year))))
    for month in Period(months_back(today, 12), today, "").months()[::-1]:
        choices.append((f"{month:%Y-%m}", f"{month:%m/%Y}"))
    return choices
