"""Administration forms: accounts and roles in one's scope, villages files."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from tipline.admin.services import CategoryFields
from tipline.core.text import clean_text
from tipline.tips.models import Priority


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


class CategoryForm(FlaskForm):
    code = StringField(
        _l("Mã"),
        filters=[clean_text, _lower],
        validators=[
            DataRequired(_l("Hãy nhập mã.")),
            Regexp(r"^[a-z][a-z0-9_]{1,39}$", message=_l("Mã gồm chữ thường không dấu, số và _")),
        ],
    )
    name = StringField(
        _l("Tên (tiếng Việt)"),
        filters=[clean_text],
        validators=[DataRequired(_l("Hãy nhập tên.")), Length(max=120)],
    )
    name_en = StringField(
        _l("Tên (tiếng Anh)"), filters=[clean_text], validators=[Optional(), Length(max=120)]
    )
    sort_order = IntegerField(
        _l("Thứ tự"), default=0, validators=[Optional(), NumberRange(min=0, max=999)]
    )
    default_priority = SelectField(_l("Mức ưu tiên mặc định"), validators=[Optional()])
    response_days = IntegerField(
        _l("Hạn phản hồi đầu tiên (ngày)"), validators=[Optional(), NumberRange(min=1, max=90)]
    )
    settle_days = IntegerField(
        _l("Hạn giải quyết (ngày)"), validators=[Optional(), NumberRange(min=1, max=365)]
    )

    def fields(self) -> CategoryFields:
        return CategoryFields(
            name=self.name.data,
            name_en=self.name_en.data or None,
            sort_order=self.sort_order.data or 0,
            default_priority=(
                Priority(self.default_priority.data) if self.default_priority.data else None
            ),
            response_days=self.response_days.data,
            settle_days=self.settle_days.data,
        )


class LetterheadForm(FlaskForm):
    """How a unit's documents are headed and signed (Nghị định 30/2020/NĐ-CP)."""

    parent_body = StringField(
        _l("Cơ quan chủ quản (nếu có)"),
        filters=[clean_text],
        validators=[Optional(), Length(max=200)],
    )
    body = StringField(
        _l("Cơ quan ban hành"),
        filters=[clean_text],
        validators=[DataRequired(_l("Hãy nhập tên cơ quan ban hành.")), Length(max=200)],
    )
    symbol = StringField(
        _l("Chữ viết tắt tên cơ quan (trong số, ký hiệu)"),
        filters=[clean_text],
        validators=[
            DataRequired(_l("Hãy nhập chữ viết tắt, ví dụ UBND.")),
            Length(max=30),
            Regexp(r"^[^\s/]+$", message=_l("Chữ viết tắt không có khoảng trắng hay dấu /.")),
        ],
    )
    place = StringField(
        _l("Địa danh (nơi ban hành)"),
        filters=[clean_text],
        validators=[DataRequired(_l("Hãy nhập địa danh.")), Length(max=60)],
    )
    signer_title = TextAreaField(
        _l("Quyền hạn, chức vụ người ký (mỗi dòng một dòng)"),
        filters=[clean_text],
        validators=[DataRequired(_l("Hãy nhập chức vụ người ký.")), Length(max=200)],
    )
    signer_name = StringField(
        _l("Họ và tên người ký"), filters=[clean_text], validators=[Optional(), Length(max=120)]
    )
    recipients = TextAreaField(
        _l("Nơi nhận (mỗi dòng một nơi)"),
        filters=[clean_text],
        validators=[Optional(), Length(max=1000)],
    )
