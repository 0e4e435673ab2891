"""Forms of a staff member's own account: password and two-factor sign-in."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from tipline.core.text import clean_text


class ChangePasswordForm(FlaskForm):
    current = PasswordField(
        _l("Mật khẩu hiện tại"),
        validators=[DataRequired(_l("Hãy nhập mật khẩu hiện tại.")), Length(max=256)],
    )
    new = PasswordField(
        _l("Mật khẩu mới"),
        validators=[DataRequired(_l("Hãy nhập mật khẩu mới.")), Length(max=256)],
    )
    confirm = PasswordField(
        _l("Nhập lại mật khẩu mới"),
        validators=[
            DataRequired(_l("Hãy nhập lại mật khẩu mới.")),
            EqualTo("new", _l("Hai lần nhập mật khẩu mới không khớp.")),
        ],
    )


class CodeForm(FlaskForm):
    code = StringField(
        _l("Mã xác thực"),
        filters=[clean_text],
        validators=[DataRequired(_l("Hãy nhập mã xác thực.")), Length(max=32)],
    )


class EnrolForm(CodeForm):
    secret = HiddenField(validators=[DataRequired(), Regexp(r"^[A-Z2-7]{16,64}$")])


class DisableTwoFactorForm(FlaskForm):
    password = PasswordField(
        _l("Mật khẩu"), validators=[DataRequired(_l("Hãy nhập mật khẩu.")), Length(max=256)]
    )
