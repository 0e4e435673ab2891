"""A staff member's number for SMS alerts: add it, confirm it with the code sent to it, remove it.

Registered at /staff/settings/notifications/sms. The settings page includes the same
form (templates/alerts/_sms_number.html), which posts here and comes back (`back`);
a refused form is shown again on this blueprint's own page, with what was typed.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import StringField

from tipline.alerts import sms
from tipline.alerts.channels import sms as sms_channel  # noqa: F401 (registers the channel)
from tipline.alerts.sms_numbers import (
    CODE_DIGITS,
    SmsNumberError,
    SmsUnavailable,
    StaffNumberState,
    remove_staff_number,
    send_code,
    set_staff_number,
    staff_number_state,
    tip_sms_state,
    verify_staff_number,
)
from tipline.core.http import safe_path
from tipline.core.text import clean_text
from tipline.extensions import db

bp = Blueprint("sms", __name__)
# A refused value is shown back cut to this (a number or a code is far shorter).
MAX_SHOWN = 20


class _Form(FlaskForm):
    """Field names carry a prefix ("sms-phone": the settings page has fields of its own).

    The CSRF token is the app's (CSRFProtect checks every staff post for `csrf_token`), so
    the form has none of its own under the prefix; `back`, where to return, is unprefixed.
    """

    class Meta:
        csrf = False


class NumberForm(_Form):
    phone = StringField(_l("Số điện thoại nhận tin nhắn SMS"), filters=[clean_text])


class CodeForm(_Form):
    code = StringField(_l("Mã xác nhận trong tin nhắn"), filters=[clean_text])


def _form(cls, **kwargs):
    return cls(prefix="sms", **kwargs)


@dataclass
class SmsSettings:
    """What the form on the settings page needs; built for whichever page includes it."""

    available: bool
    number: StaffNumberState | None
    number_form: NumberForm
    code_form: CodeForm
    back: str
    code_digits: int = CODE_DIGITS


def sms_settings(
    number_form: NumberForm | None = None, code_form: CodeForm | None = None
) -> SmsSettings | None:
    """The state of the signed-in member's SMS number, for templates (None: not signed in)."""
    if not current_user.is_authenticated:
        return None
    # Where the forms come back to: the page showing them, or the one a refused form
    # came from.
    back = request.path if request.method == "GET" else _back()
    return SmsSettings(
        available=sms.available(),
        number=staff_number_state(current_user),
        number_form=number_form or _form(NumberForm, formdata=None),
        code_form=code_form or _form(CodeForm, formdata=None),
        back=back,
    )


@bp.app_context_processor
def _template_globals() -> dict:
    # The tip form offers SMS updates only where a gateway is set up.
    return {
        "sms_settings": sms_settings,
        "sms_updates_offered": sms.available,
        "tip_sms_state": tip_sms_state,  # the tipster's status page
    }


def _back() -> str:
    return safe_path(request.form.get("back"), url_for("sms.page"))


def _page(status: int = 200, **forms):
    return render_template("alerts/sms_number.html", sms_state=sms_settings(**forms)), status


@bp.get("")
@login_required
def page():
    return _page()


@bp.post("")
@login_required
def add():
    form = _form(NumberForm)
    try:
        set_staff_number(current_user, form.phone.data or "")
    except SmsNumberError as refused:
        db.session.rollback()
        form.phone.data = (form.phone.data or "")[:MAX_SHOWN]
        form.phone.errors = [refused.message]
        return _page(422, number_form=form)
    except SmsUnavailable as refused:
        db.session.commit()  # the number stays, waiting: "send the code again" later
        form.phone.errors = [refused.message]
        return _page(503, number_form=form)
    db.session.commit()
    flash(_l("Đã gửi mã xác nhận tới số của bạn. Nhập mã để bắt đầu nhận tin nhắn."))
    return redirect(_back())


@bp.post("/xac-nhan")
@login_required
def verify():
    form = _form(CodeForm)
    try:
        verify_staff_number(current_user, form.code.data or "")
    except SmsNumberError as refused:
        db.session.commit()  # a wrong try counts
        form.code.data = (form.code.data or "")[:MAX_SHOWN]
        form.code.errors = [refused.message]
        return _page(422, code_form=form)
    db.session.commit()
    flash(_l("Đã xác nhận số. Tin báo khẩn và tin chuyển lên sẽ được nhắn tới số này."))
    return redirect(_back())


@bp.post("/gui-lai")
@login_required
def resend():
    code_form = _form(CodeForm, formdata=None)
    try:
        send_code(current_user)
    except SmsNumberError as refused:
        db.session.rollback()
        code_form.code.errors = [refused.message]
        return _page(422, code_form=code_form)
    except SmsUnavailable as refused:
        db.session.commit()
        code_form.code.errors = [refused.message]
        return _page(503, code_form=code_form)
    db.session.commit()
    flash(_l("Đã gửi mã mới."))
    return redirect(_back())


@bp.post("/xoa")
@login_required
def remove():
    if remove_staff_number(current_user):
        db.session.commit()
        flash(_l("Đã xóa số nhận tin nhắn SMS."))
    return redirect(_back())
