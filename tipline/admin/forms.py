"""Administration forms: accounts and roles in one's scope, villages files."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Regexp

from tipline.core.text import clean_text


def _lower(value):
    return value.lower() if isinstance(value, str) else value


class RoleForm(FlaskForm):
    role = SelectField(_l("Vai trò"), validators=[DataRequired(_l("Hãy chọn vai trò."))])
    unit = SelectField(_l("Đơn vị"), validators=[DataRequired(_l("Hãy chọn đơn vị."))])


class NewStaffForm(RoleForm):
    username = StringField(
        _l("Tên đăng nhập"),
        filters=[clean_text, _lower],
        validators=[
            DataRequired(_l("Hãy nhập tên đăng nhập.")),
            Regexp(
                r"^[a-z0-9][a-z0-9._-]{2,63}$",
                message=_l("Tên đăng nhập gồm 3–64 chữ thường không dấu, số, dấu . _ -"),
            ),
        ],
    )
    full_name = StringField(
        _l("Họ và tên"),
        filters=[clean_text],
        validators=[DataRequired(_l("Hãy nhập họ và tên.")), Length(max=120)],
    )


class RevokeForm(FlaskForm):
    role = HiddenField(validators=[DataRequired()])
    unit = HiddenField(validators=[DataRequired()])


class ConfirmForm(FlaskForm):
    """A button that changes something: only the CSRF token travels."""


class VillagesUploadForm(FlaskForm):
    file = FileField(
        _l("Tệp CSV danh sách thôn"), validators=[FileRequired(_l("Hãy chọn tệp CSV."))]
    )


class VillagesConfirmForm(FlaskForm):
    payload = HiddenField(validators=[DataRequired()])
