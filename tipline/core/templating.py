"""Jinja filters: local times, hidden small numbers, numbers (core.numbers), JSON for script
blocks."""

from __future__ import annotations

import json
from datetime import date, datetime

from flask import Flask
from markupsafe import Markup

from tipline.core.numbers import number, number1, percent
from tipline.core.privacy import SMALL_NUMBER
from tipline.core.timeutil import to_local


def local_datetime(moment: datetime | None, with_time: bool = True) -> str:
    if moment is None:
        return ""
    local = to_local(moment)
    return local.strftime("%d/%m/%Y %H:%M" if with_time else "%d/%m/%Y")


def local_day(day: date | None) -> str:
    return day.strftime("%d/%m/%Y") if day else ""


def public_number(value: int) -> str:
    """Public figures never show a number small enough to point at a person."""
    if 0 < value < SMALL_NUMBER:
        return f"< {SMALL_NUMBER}"
    return number(value)


def json_data(value) -> Markup:
    """JSON for a <script type="application/json"> block: UTF-8 as is (a third smaller
    than \\u escapes on Vietnamese text), with the characters HTML cares about escaped."""
    text = json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(char, escape)
    # Every character HTML could read as markup is escaped above.
    return Markup(text)  # noqa: S704  # nosec B704


def register(app: Flask) -> None:
    app.jinja_env.filters.update(
        local_datetime=local_datetime,
        local_day=local_day,
        public_number=public_number,
        number=number,
        percent=percent,
        # The names the report templates use for the same three.
        fig=number,
        fig1=number1,
        share=percent,
        json_data=json_data,
    )
