"""The alert settings page (/staff/settings/notifications): per channel, what and when.

The staff blueprint keeps the URL and calls `page()`; the page, its form and its rules
live here. Channel modules may add their own part below the form (a device list, a phone
number) as templates alerts/_push_devices.html and alerts/_sms_number.html.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time

from flask import flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length, Optional, Regexp

from tipline.alerts import preferences
from tipline.alerts.channels import label, ordered
from tipline.alerts.models import StaffEmail
from tipline.alerts.preferences import Preferences
from tipline.core.text import clean_text
from tipline.extensions import db

KIND_FIELDS = (
    ("new_tips", _l("Mọi tin báo mới tôi xử lý được")),
    ("urgent_tips", _l("Tin báo khẩn")),
    ("tipster_replies", _l("Người báo tin trả lời")),
    ("escalations", _l("Tin chuyển đến tôi (Công an xã)")),
)
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class EmailForm(FlaskForm):
    email = StringField(
        _l("Địa chỉ email nhận thông báo (để trống: không nhận thư)"),
        filters=[clean_text],
        validators=[
            Optional(),
            Length(max=254, message=_l("Tối đa 254 ký tự.")),
            Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("Địa chỉ email không hợp lệ.")),
        ],
    )


@dataclass
class ChannelChoice:
    """One channel's part of the page: its settings and what went wrong with them."""

    name: str
    label: str
    available: bool
    prefs: Preferences
    quiet_from: str
    quiet_to: str
    error: str | None = None


def _clock(value: time | None) -> str:
    return value.strftime("%H:%M") if value is not None else ""


def _parse_clock(value: str) -> time | None:
    match = _CLOCK.match(value.strip())
    return time(int(match.group(1)), int(match.group(2))) if match else None


def _current(name: str, available: bool) -> ChannelChoice:
    prefs = preferences.for_user(current_user, name)
    return ChannelChoice(
        name,
        label(name),
        available,
        prefs,
        _clock(prefs.quiet_from),
        _clock(prefs.quiet_to),
    )


def _submitted(name: str, available: bool) -> ChannelChoice:
    form = request.form
    quiet_from = (form.get(f"{name}-quiet_from") or "").strip()[:5]
    quiet_to = (form.get(f"{name}-quiet_to") or "").strip()[:5]
    error = None
    start = _parse_clock(quiet_from) if quiet_from else None
    end = _parse_clock(quiet_to) if quiet_to else None
    if (quiet_from and start is None) or (quiet_to and end is None):
        error = _l("Giờ không hợp lệ: hãy ghi dạng 22:00.")
    elif bool(quiet_from) != bool(quiet_to):
        error = _l("Giờ yên lặng cần cả giờ bắt đầu và giờ kết thúc.")
    elif start is not None and start == end:
        error = _l("Giờ bắt đầu và giờ kết thúc phải khác nhau.")
    prefs = Preferences(
        **{field: form.get(f"{name}-{field}") == "y" for field, _ in KIND_FIELDS},
        quiet_from=start,
        quiet_to=end,
        show_category=form.get(f"{name}-show_category") == "y",
    )
    return ChannelChoice(name, label(name), available, prefs, quiet_from, quiet_to, error)


def page():
    """GET shows the settings; POST saves them (400 with the reasons when one is wrong)."""
    address = db.session.get(StaffEmail, current_user.id)
    form = EmailForm(data={"email": address.email if address else ""})
    # A channel that only answers residents (the SMS conversation) has no staff settings.
    channels = [
        (c.name, c.available()) for c in ordered() if not getattr(c, "residents_only", False)
    ]
    if request.method == "GET":
        choices = [_current(name, available) for name, available in channels]
        return render_template(
            "alerts/settings.html", form=form, channels=choices, kind_fields=KIND_FIELDS
        )
    form = EmailForm()
    # Only channels the page showed are saved: a form from an older page changes nothing else.
    choices = [
        _submitted(name, available)
        if request.form.get(f"{name}-shown")
        else _current(name, available)
        for name, available in channels
    ]
    valid = form.validate_on_submit()
    if not valid or any(c.error for c in choices):
        if valid:
            flash(_l("Chưa lưu: hãy sửa các ô báo lỗi."))
        return render_template(
            "alerts/settings.html", form=form, channels=choices, kind_fields=KIND_FIELDS
        ), 400
    if form.email.data:
        address = address or StaffEmail(user_id=current_user.id)
        address.email = form.email.data
        db.session.add(address)
    elif address is not None:
        db.session.delete(address)
    for choice in choices:
        if request.form.get(f"{choice.name}-shown"):
            preferences.save(current_user, choice.name, choice.prefs)
    db.session.commit()
    flash(_l("Đã lưu cài đặt thông báo."))
    return redirect(url_for("staff.notification_settings"), code=303)
