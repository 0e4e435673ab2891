"""Jinja filters: local times, hidden small numbers, numbers (core.numbers), JSON for script
blocks."""

from __future__ import annotations

import json
from datetime import date, datetime

from flask import Flask, current_app
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
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


# The words of the outbox script (tipline/static/outbox.js), in the id="tl-strings" block
# of every page.
CLIENT_STRINGS = {
    "sending": _l("Đang gửi…"),
    "queued_title": _l("Tin đã được lưu trên máy này"),
    "queued_text": _l(
        "Chưa có mạng. Tin sẽ tự gửi khi có mạng trở lại, bạn không cần bấm gửi lại. Hãy ghi lại mã tra cứu dưới đây ngay bây giờ."  # noqa: E501
    ),
    "photo_queued_title": _l("Ảnh đã được lưu trên máy này"),
    "photo_queued_text": _l("Chưa có mạng. Ảnh sẽ tự gửi khi có mạng trở lại."),
    "sent_title": _l("Đã nhận tin báo của bạn"),
    "sent_text": _l("Tin đã được gửi. Hãy ghi lại hai mã dưới đây để theo dõi kết quả."),
    "reference": _l("Mã số tin báo"),
    "reference_pending": _l("sẽ hiện ở đây khi tin được gửi"),
    "code": _l("Mã tra cứu"),
    "code_once": _l(
        "Chúng tôi không lưu mã tra cứu nên không thể gửi lại cho bạn. Đừng cho người khác xem."
    ),
    "another": _l("Gửi tin khác"),
    "home": _l("Về trang chủ"),
    "outbox": _l("Tin, ảnh gửi từ máy này"),
    "waiting_tip": _l("Tin chờ mạng để gửi, mã tra cứu"),
    "waiting_photo": _l("Ảnh chờ mạng để gửi cho tin"),
    "sent_tip": _l("Đã gửi tin"),
    "sent_photo": _l("Đã gửi ảnh cho tin"),
    "see_status": _l("Xem tình trạng"),
    "failed": _l("Không gửi được:"),
    "forget": _l("Đã ghi lại, xóa khỏi máy"),
    "too_many": _l("Chỉ gửi được tối đa 3 ảnh: 3 ảnh đầu sẽ được gửi."),
    "need_name": _l("Hãy ghi họ tên, hoặc chọn gửi ẩn danh."),
    "need_phone": _l("Hãy ghi số điện thoại, hoặc chọn gửi ẩn danh."),
    "locating": _l("Đang lấy vị trí…"),
    "located": _l("Đã điền vĩ độ và kinh độ."),
    "locate_failed": _l("Không lấy được vị trí. Bạn có thể bỏ qua mục này."),
}


def client_strings() -> Markup:
    """CLIENT_STRINGS as JSON in the page's language: made once per language and process
    (the catalogues do not change while the app runs), not on every page."""
    made = current_app.extensions.setdefault("tipline.client_strings", {})
    locale = str(get_locale())
    if locale not in made:
        made[locale] = json_data({key: str(text) for key, text in CLIENT_STRINGS.items()})
    return made[locale]


def register(app: Flask) -> None:
    app.jinja_env.globals["client_strings"] = client_strings
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
