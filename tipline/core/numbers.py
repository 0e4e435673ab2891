"""Numbers as people read them, in the request's language (Flask-Babel's `format_decimal`).

The one formatter for whole numbers, one-decimal figures and shares: the report pages
call it, and the templates' filters (`number`, `fig`, `fig1`, `percent`, `share`) are
these functions. A missing figure is a dash.
"""

from __future__ import annotations

from decimal import Decimal

from flask_babel import format_decimal

DASH = "–"
ONE_DECIMAL = "#,##0.0"


def number(value: int | float | None) -> str:
    """A number with the locale's grouping: "2.967" in Vietnamese, "2,967" in English."""
    if value is None:
        return DASH
    return format_decimal(value)


def number1(value: float | None, unit: str = "") -> str:
    """One decimal and an optional unit (days, hours): "1,5 ngày"."""
    if value is None:
        return DASH
    # The float's exact value: Babel would round its shortest text instead, and a tie
    # such as 2.45 (stored as 2.4500000000000002) would come out 2,4 instead of 2,5.
    text = format_decimal(Decimal(value), format=ONE_DECIMAL)
    return f"{text} {unit}".strip()


def percent(value: float | None) -> str:
    """A share (0 to 1) as a percentage with one decimal: "88,6 %"."""
    if value is None:
        return DASH
    return number1(value * 100, "%")
