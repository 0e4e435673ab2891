"""Forms of the teams registry."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp

from tipline.core.text import clean_text
from tipline.teams.models import MemberRole, TeamKind

PHONE = Regexp(r"^\+?[0-9 .-]{8,15}$", message=_l("Số điện thoại chưa đúng."))


class TeamForm(FlaskForm):
    kind = SelectField(
        _l("Loại tổ chức"),
        choices=[SelectChoice("", _l("— Chọn —")), *TeamKind.choices()],
        validators=[DataRequired(_l("Hãy chọn loại tổ chức."))],
    )
    name = StringField(
        _l("Tên"),
        filters=[clean_text],
        validators=[DataRequired(_l("Hãy nhập tên.")), Length(max=160)],
    )
    unit = SelectField(_l("Nơi hoạt động"), validators=[DataRequired(_l("Hãy chọn nơi."))])
    established_on = DateField(
        _l("Ngày thành lập"),
        validators=[Optional()],
        render_kw={"max": "2100-12-31"},
    )
    leader = StringField(
        _l("Người đứng đầu"), filters=[clean_text], validators=[Optional(), Length(max=120)]
    )


class MemberForm(FlaskForm):
    full_name = StringField(
        _l("Họ và tên"),
        filters=[clean_text],
        validators=[DataRequired(_l("Hãy nhập họ và tên.")), Length(max=120)],
    )
    role = SelectField(_l("Vai trò"), choices=MemberRole.choices(), default="member")
    phone = StringField(_l("Số điện thoại"), filters=[clean_text], validators=[Optional(), PHONE])


class RemoveMemberForm(FlaskForm):
    member = HiddenField(validators=[DataRequired()])


class DissolveForm(FlaskForm):
    on = DateField(_l("Ngày giải thể"), validators=[DataRequired(_l("Hãy nhập ngày giải thể."))])
