"""What SMS replies say, made to fit: no marks by default, never more than two parts.

Every template is Vietnamese (the source language of the app) and goes out without tone
marks unless TIPLINE_SMS_MARKS is on and the marked text still fits: a basic phone shows
"Da nhan tin bao" well, and 160 GSM characters fit in one part where 70 marked ones do.
The receipt fits one part without marks; every reply, with the first reply's sentence on
privacy, fits two (bench/sms_intake.py counts them).
"""

from __future__ import annotations

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from tipline.alerts.sms import sms_parts, without_marks

MAX_PARTS = 2


def fit(text: str, max_parts: int = MAX_PARTS) -> str:
    """The text as sent: marked only when asked for and it fits, else without marks;
    cut with "..." if it is still too long (a staff question may be)."""
    text = " ".join(text.split())
    if current_app.config.get("TIPLINE_SMS_MARKS") and sms_parts(text).count <= max_parts:
        return text
    plain = without_marks(text)
    while sms_parts(plain).count > max_parts:
        plain = plain[: max(0, len(plain) - 12)].rstrip() + "..."
    return plain


def receipt(reference: str, code: str) -> str:
    with force_locale("vi"):
        return _(
            "Đã nhận tin báo %(reference)s. Mã tra cứu: %(code)s. Xem tình trạng: nhắn "
            "TC %(reference)s %(code)s, hoặc TC từ số này.",
            reference=reference,
            code=code,
        )


def privacy() -> str:
    with force_locale("vi"):
        return _(
            "Số của bạn được mã hóa, chỉ dùng để trả lời, cán bộ thôn không thấy; máy nhận "
            "tin do Công an xã giữ."
        )


def ask_commune() -> str:
    with force_locale("vi"):
        return _("Tin của bạn ở xã, phường nào? Hãy nhắn tên xã, phường.")


def confirm_commune(name: str) -> str:
    with force_locale("vi"):
        return _("Có phải %(name)s? Trả lời CO hoặc gửi lại tên xã.", name=name)


def unknown_commune() -> str:
    with force_locale("vi"):
        return _("Không tìm thấy xã, phường này trong tỉnh. Hãy nhắn lại tên xã, phường.")


def empty() -> str:
    with force_locale("vi"):
        return _("Tin nhắn chưa có nội dung. Hãy nhắn bằng chữ việc bạn muốn báo.")


def status(reference: str, label: str) -> str:
    with force_locale("vi"):
        return _("Tin báo %(reference)s: %(status)s.", reference=reference, status=label)


def not_found() -> str:
    with force_locale("vi"):
        return _("Không tìm thấy tin báo. Hãy nhắn: TC <mã tin báo> <mã tra cứu>.")


def stopped() -> str:
    with force_locale("vi"):
        return _("Đã ngừng gửi tin nhắn đến số này. Nhắn tin mới nếu muốn báo tiếp.")


def callback(reference: str) -> str:
    with force_locale("vi"):
        return _("Công an xã sẽ gọi lại cho bạn về tin báo %(reference)s.", reference=reference)


def no_tip() -> str:
    with force_locale("vi"):
        return _("Chưa có tin báo nào từ số này.")


def answer_received(reference: str) -> str:
    with force_locale("vi"):
        return _("Đã nhận trả lời cho tin báo %(reference)s. Cảm ơn bạn.", reference=reference)


def staff_message(reference: str, body: str) -> str:
    """A staff question or note, as text: the head and the tail stay, the body is cut."""
    with force_locale("vi"):
        head = _("Cán bộ về tin %(reference)s:", reference=reference)
        tail = _("Trả lời bằng tin nhắn.")
    body = " ".join(body.split())
    while True:
        text = f"{head} {body} {tail}"
        if sms_parts(fit_plain(text)).count <= MAX_PARTS or not body:
            return fit(text)
        body = body[: max(0, len(body) - 10)].rstrip() + "..."
        if body == "...":
            body = ""


def fit_plain(text: str) -> str:
    if current_app.config.get("TIPLINE_SMS_MARKS"):
        return text
    return without_marks(text)


def update(reference: str, label: str) -> str:
    with force_locale("vi"):
        return _(
            "Tin báo %(reference)s có cập nhật: %(status)s. Nhắn TC để xem.",
            reference=reference,
            status=label,
        )


def settled_question(reference: str) -> str:
    """Issue 22's "was it settled?", content-free apart from the reference."""
    with force_locale("vi"):
        return _(
            "Tin báo %(reference)s: Việc này đã được giải quyết chưa? "
            "Trả lời: XONG / CHUA / KHONG BIET",
            reference=reference,
        )


def settled_received(reference: str, answer: str, reopened: bool) -> str:
    with force_locale("vi"):
        if reopened:
            return _(
                "Đã nhận trả lời cho tin báo %(reference)s: %(answer)s. Tin báo được mở lại, "
                "Công an xã sẽ xử lý tiếp.",
                reference=reference,
                answer=answer,
            )
        return _(
            "Đã nhận trả lời cho tin báo %(reference)s: %(answer)s. Cảm ơn bạn.",
            reference=reference,
            answer=answer,
        )
