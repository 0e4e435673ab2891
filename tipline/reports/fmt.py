"""Numbers as the report pages write them, fast (a dashboard shows hundreds)."""

from __future__ import annotations

from contextvars import ContextVar
from datetime import date

_marks: ContextVar[tuple[str, str] | None] = ContextVar("reports_marks", default=None)


def set_marks() -> None:
    """Look the locale's marks up once, at the start of a request."""
    from babel.numbers import get_decimal_symbol, get_group_symbol
    from flask_babel import get_locale

    locale = get_locale()
    _marks.set((get_group_symbol(locale), get_decimal_symbol(locale)))


def _symbols() -> tuple[str, str]:
    marks = _marks.get()
    if marks is None:
        set_marks()
        marks = _marks.get()
    return marks


def fig(value: int | None) -> str:
    """A whole number with the locale's grouping; hundreds of them fill a dashboard, and
    Babel's general formatter would cost most of the page's time."""
    if value is None:
        return "–"
    group, _decimal = _symbols()
    return f"{value:,}".replace(",", group)


def fig1(value: float | None, unit: str = "") -> str:
    """One decimal (days, hours), or a dash when there is nothing to show."""
    if value is None:
        return "–"
    group, decimal = _symbols()
    text = f"{value:,.1f}".replace(",", "\0").replace(".", decimal).replace("\0", group)
    return f"{text} {unit}".strip()


def month_label(month: date) -> str:
    return f"{month:%m}" if month.month != 1 else f"{month:%m/%y}"


def share(value: float | None) -> str:
    """A share as a percentage with one decimal ("88,6 %")."""
    if value is None:
        return "–"
    return fig1(value * 100, "%")
