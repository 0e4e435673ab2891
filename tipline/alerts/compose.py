"""What an alert says: the tip's reference, why, its urgency; never what the tip says.

Staff alerts name the reference and the kind, say whether it is urgent, and link to the
tip's page (sign-in needed); the category only where the person asked for it on that
channel, since a lock screen shows it to whoever holds the phone. A resident's alert
says only that the tip has news, and links to /tra-cuu (the codes are needed there).

The flood alarm (issue 21) is about a commune, not its tip: it names the commune and
links to that commune's held tips (/staff/giu-lai?unit=<code>), no reference.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import current_app
from flask_babel import gettext as _

from tipline.alerts.channels.base import (
    DEADLINE_NEAR,
    ESCALATED,
    FLOOD,
    NEW_TIP,
    RESIDENT_KINDS,
    STAFF_REPLY,
    STATUS_CHANGE,
    TEST,
    TIPSTER_REPLY,
    UNACKNOWLEDGED,
    URGENT_TIP,
    Alert,
)
from tipline.alerts.models import Delivery, Notification
from tipline.places.models import Unit
from tipline.tips.models import Priority, Tip


def _base_url() -> str:
    return current_app.config["TIPLINE_BASE_URL"].rstrip("/")


def kind_label(kind: str) -> str:
    """The kind alone, for pages that must not name the tip (the dead letters)."""
    labels = {
        NEW_TIP: _("Tin báo mới"),
        URGENT_TIP: _("Tin báo khẩn mới"),
        TIPSTER_REPLY: _("Người báo tin trả lời"),
        ESCALATED: _("Chuyển Công an xã"),
        DEADLINE_NEAR: _("Sắp quá hạn phản hồi"),
        UNACKNOWLEDGED: _("Tin khẩn chưa ai ở thôn mở"),
        FLOOD: _("Tin báo dồn dập"),
        TEST: _("Thông báo thử"),
        STAFF_REPLY: _("Cán bộ nhắn người báo tin"),
        STATUS_CHANGE: _("Tin báo đổi trạng thái"),
        "sms_text": _("Tin nhắn trả lời người báo tin qua SMS"),  # tipline/sms/channel.py
    }
    return labels.get(kind, kind)


def staff_title(kind: str, reference: str | None, *, commune: str | None = None) -> str:
    """One line: which tip and why (a flood: which commune, if known, and why)."""
    if kind == FLOOD:
        if commune:
            return _("Tin báo dồn dập ở %(commune)s: cần xem các tin đang giữ lại", commune=commune)
        return _("Tin báo dồn dập: cần xem các tin đang giữ lại")
    titles = {
        NEW_TIP: _("Tin báo mới %(ref)s", ref=reference),
        URGENT_TIP: _("Tin báo khẩn mới %(ref)s", ref=reference),
        TIPSTER_REPLY: _("Người báo tin trả lời tin %(ref)s", ref=reference),
        ESCALATED: _("Tin báo %(ref)s được chuyển Công an xã", ref=reference),
        DEADLINE_NEAR: _("Tin báo %(ref)s sắp quá hạn phản hồi", ref=reference),
        UNACKNOWLEDGED: _("Tin báo khẩn %(ref)s chưa ai ở thôn mở", ref=reference),
        TEST: _("Thông báo thử của Tipline"),
    }
    return titles.get(kind, reference or "Tipline")


def compose(
    notification: Notification, tip: Tip | None, delivery: Delivery, *, show_category: bool
) -> Alert:
    """The alert of one delivery, built from the notification and the tip's public facts."""
    key = f"tipline-{delivery.id}"
    topic = f"tipline-n{notification.id}"  # a repeat of this alert replaces it on a phone
    if notification.kind in RESIDENT_KINDS:
        return Alert(
            kind=notification.kind,
            title=_("Tin báo của bạn có cập nhật mới"),
            body=_("Mở trang Tra cứu và nhập mã để xem."),
            url=f"{_base_url()}/tra-cuu",
            urgent=False,
            topic=topic,
            key=key,
        )
    if tip is None:  # a test alert
        return Alert(
            kind=notification.kind,
            title=staff_title(notification.kind, None),
            body=_("Nếu bạn thấy thông báo này, kênh này đã hoạt động."),
            url=f"{_base_url()}/staff/thong-bao/",
            urgent=False,
            topic=topic,
            key=key,
        )
    if notification.kind == FLOOD:
        return _flood(notification, tip, topic=topic, key=key)
    urgent = tip.priority == Priority.URGENT or notification.kind in (URGENT_TIP, UNACKNOWLEDGED)
    lines = [_("Mức ưu tiên: %(p)s", p=tip.priority.label)]
    if show_category:
        lines.append(_("Loại vụ việc: %(name)s", name=tip.category.label))
    return Alert(
        kind=notification.kind,
        title=staff_title(notification.kind, tip.reference),
        body="\n".join(str(line) for line in lines),
        url=f"{_base_url()}/staff/tips/{tip.public_id}",
        urgent=urgent,
        topic=topic,
        key=key,
        reference=tip.reference,
    )


def held_view_path(commune: Unit) -> str:
    """The path of a commune's held tips on the staff side (the flood alarm's link)."""
    return "/staff/giu-lai?" + urlencode({"unit": commune.code})


def _flood(notification: Notification, tip: Tip, *, topic: str, key: str) -> Alert:
    """A commune's flood: its name and the link to its held tips; nothing of the tip
    that crossed the threshold (likely spam itself), not even its reference."""
    commune = tip.unit.commune or tip.unit
    return Alert(
        kind=notification.kind,
        title=staff_title(FLOOD, None, commune=commune.name),
        body=_(
            "Tin gửi không kèm bước chống tin rác đang được giữ lại, chưa vào hộp tin. "
            "Hãy xem và loại tin rác."
        ),
        url=_base_url() + held_view_path(commune),
        urgent=False,
        topic=topic,
        key=key,
    )
