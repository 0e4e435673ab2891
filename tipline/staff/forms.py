"""Staff forms (with CSRF). They validate input only; the workflow judges the move."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from tipline.core.text import clean_text
from tipline.tips.models import Outcome, RejectReason
from tipline.tips.workflow import Action


class LoginForm(FlaskForm):
    username = StringField(
        _l("Tên đăng nhập"),
        filters=[clean_text],
        validators=[DataRequired(_l("Hãy nhập tên đăng nhập.")), Length(max=64)],
    )
    password = PasswordField(
        _l("Mật khẩu"), validators=[DataRequired(_l("Hãy nhập mật khẩu.")), Length(max=256)]
    )
    next = HiddenField()


class ActionForm(FlaskForm):
    action = HiddenField(validators=[DataRequired()])
    version = IntegerField(widget=HiddenField.widget, validators=[InputRequired()])
    note = TextAreaField(
        _l("Ghi chú (không bắt buộc)"),
        filters=[clean_text],
        validators=[Optional(), Length(max=4000, message=_l("Tối đa 4000 ký tự."))],
    )
    note_to_tipster = BooleanField(_l("Gửi ghi chú này cho người báo tin"))
    outcome = SelectField(
        _l("Kết quả"), choices=[SelectChoice("", "—"), *Outcome.choices()], validate_choice=False
    )
    reason = SelectField(
        _l("Lý do"), choices=[SelectChoice("", "—"), *RejectReason.choices()], validate_choice=False
    )
    duplicate_of = StringField(
        _l("Mã số tin gốc (ví dụ TL-ABCD-EFGH)"),
        filters=[clean_text],
        validators=[Optional(), Length(max=40)],
    )
    to_unit = SelectField(_l("Chuyển đến"), choices=[], validate_choice=False)
    conflict_of_interest = BooleanField(
        _l("Tôi quen biết người liên quan: ẩn tin này khỏi tổ bảo vệ ANTT thôn")
    )

    def parsed_action(self) -> Action | None:
        try:
            return Action(self.action.data)
        except ValueError:
            return None


class NoteForm(FlaskForm):
    body = TextAreaField(
        _l("Ghi chú"),
        filters=[clean_text],
        validators=[
            DataRequired(_l("Nội dung ghi chú đang trống.")),
            Length(max=4000, message=_l("Tối đa 4000 ký tự.")),
        ],
    )
    to_tipster = BooleanField(_l("Gửi cho người báo tin (hiện trên trang tra cứu)"))


class ConfirmForm(FlaskForm):
    """A bare CSRF-protected button (logout, show identity)."""
