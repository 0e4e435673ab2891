"""The resident's forms. They validate input only; they never query the database."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (
    BooleanField,
    DateField,
    FileField,
    FloatField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectFieldBase
from wtforms.validators import (
    AnyOf,
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    StopValidation,
    ValidationError,
)

from tipline.core.text import clean_text, is_phone, normalize_phone
from tipline.core.timeutil import local_today
from tipline.tips.models import IdentityTier
from tipline.tips.services import normalize_code, valid_code
from tipline.tips.workflow import MAX_MESSAGE_LENGTH

# What new_submission_key() draws, or a phone's outbox (tipline.js).
SUBMISSION_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}\Z")
BAD_FORM = _l("Biểu mẫu đã cũ hoặc không hợp lệ. Hãy bấm Gửi tin báo một lần nữa.")
BOTH_COORDINATES = _l("Cần cả vĩ độ và kinh độ, hoặc để trống cả hai.")


_strip = clean_text


def _stop_if_unreadable(form, field) -> None:
    """A value that could not be read already has its message: say nothing more."""
    if field.process_errors:
        raise StopValidation()


def _valid_code(form, field) -> None:
    if field.data and not valid_code(field.data):
        raise ValidationError(BAD_FORM)


# A field without a Length of its own is never shown back longer than this.
ECHO_LIMIT = 100


class PublicForm(FlaskForm):
    """Resident forms carry no CSRF token (no session cookie): views check the origin instead.

    A value longer than its field's limit is refused with a message and shown back cut to
    the limit: a page answering a form never echoes a huge body (security review, item 11).
    """

    class Meta:
        csrf = False

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            if _cut_overlong(field):
                valid = False
        return valid


def _field_limit(field) -> int:
    limits = [v.max for v in field.validators if isinstance(v, Length) and v.max >= 0]
    return min(limits) if limits else ECHO_LIMIT


def _cut_overlong(field) -> bool:
    """Refuse and cut a value longer than the field's limit; True when it was."""
    if isinstance(field, SelectFieldBase | FileField) or not hasattr(field, "_value"):
        return False
    shown = field._value()
    limit = _field_limit(field)
    if not isinstance(shown, str) or len(shown) <= limit:
        return False
    if not field.errors:
        field.errors.append(_l("Tối đa %(max)d ký tự.", max=limit))
    if isinstance(field.data, str):
        field.data = field.data[:limit]
    if field.raw_data:
        field.raw_data = [str(field.raw_data[0])[:limit]]
    return True


class SubmitTipForm(PublicForm):
    submission_key = HiddenField(
        validators=[DataRequired(BAD_FORM), Regexp(SUBMISSION_KEY, message=BAD_FORM)]
    )
    village = SelectField(
        _l("Thôn, tổ dân phố"),
        choices=[],
        validate_choice=True,
        invalid_choice_message=_l("Hãy chọn thôn trong danh sách."),
    )
    category = RadioField(
        _l("Loại vụ việc"),
        choices=[],
        validators=[InputRequired(_l("Hãy chọn loại vụ việc."))],
        invalid_choice_message=_l("Hãy chọn loại vụ việc."),
    )
    description = TextAreaField(
        _l("Chuyện gì đã xảy ra?"),
        filters=[_strip],
        validators=[
            DataRequired(_l("Hãy mô tả sự việc.")),
            Length(
                min=10,
                max=4000,
                message=_l("Mô tả cần từ %(min)d đến %(max)d ký tự.", min=10, max=4000),
            ),
        ],
    )
    place = StringField(
        _l("Ở đâu? (số nhà, đường, địa điểm gần đó)"),
        filters=[_strip],
        validators=[Optional(), Length(max=300, message=_l("Tối đa 300 ký tự."))],
    )
    occurred_on = DateField(
        _l("Ngày xảy ra"),
        format=["%Y-%m-%d", "%d/%m/%Y"],
        validators=[Optional()],
        invalid_value_message=_l("Ngày không hợp lệ (ví dụ: 25/12/2025)."),
    )
    occurred_time = TimeField(
        _l("Giờ (nếu nhớ)"),
        validators=[Optional()],
        invalid_value_message=_l("Giờ không hợp lệ (ví dụ: 21:30)."),
    )
    latitude = FloatField(
        _l("Vĩ độ"),
        validators=[
            Optional(),
            _stop_if_unreadable,
            NumberRange(-90, 90, message=_l("Vĩ độ không hợp lệ.")),
        ],
        invalid_value_message=_l("Vĩ độ không hợp lệ."),
    )
    longitude = FloatField(
        _l("Kinh độ"),
        validators=[
            Optional(),
            _stop_if_unreadable,
            NumberRange(-180, 180, message=_l("Kinh độ không hợp lệ.")),
        ],
        invalid_value_message=_l("Kinh độ không hợp lệ."),
    )
    photo = MultipleFileField(_l("Ảnh (không bắt buộc)"))
    # Photos kept across a form error: up to MAX_PHOTOS signed tokens of about 200 characters.
    photo_token = HiddenField(validators=[Length(max=2000, message=BAD_FORM)])
    # A voice note (issue 21): recorded on the page or a file from the phone's recorder;
    # after the photo input, which stays the form's first file input.
    voice = FileField(_l("Ghi âm (không bắt buộc)"))
    # A voice note kept across a form error: one signed token.
    voice_token = HiddenField(validators=[Length(max=400, message=BAD_FORM)])
    # Sent by the page's script: the follow-up code chosen on the phone (see TipDraft).
    follow_up_code = HiddenField(
        filters=[lambda value: normalize_code(value) if value else None],
        validators=[Optional(), _valid_code],
    )
    identity_tier = RadioField(
        _l("Danh tính của bạn"),
        choices=IdentityTier.choices(),
        default=IdentityTier.ANONYMOUS.value,
        validators=[InputRequired(_l("Hãy chọn cách giữ danh tính."))],
        invalid_choice_message=_l("Hãy chọn cách giữ danh tính."),
    )
    # No Optional() on name and phone: it would stop the checks below when they are empty.
    name = StringField(
        _l("Họ và tên"),
        filters=[_strip],
        validators=[Length(max=120, message=_l("Tối đa 120 ký tự."))],
    )
    phone = StringField(_l("Số điện thoại"), filters=[clean_text])
    # Content-free SMS updates on this tip (kept only with a name and phone: tipline.alerts).
    sms_updates = BooleanField(_l("Nhắn tin SMS cho tôi khi tin có cập nhật"))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        # Checked here, not on a field: Optional() skips a field's own checks when it is empty.
        latitude, longitude = self.latitude, self.longitude
        if latitude.errors or longitude.errors:
            return valid
        if (latitude.data is None) != (longitude.data is None):
            missing = longitude if longitude.data is None else latitude
            missing.errors.append(BOTH_COORDINATES)
            return False
        return valid

    def validate_occurred_on(self, field) -> None:
        if field.data and field.data > local_today():
            raise ValidationError(_l("Ngày xảy ra không thể ở tương lai."))

    def validate_name(self, field) -> None:
        if (
            self.identity_tier.data != IdentityTier.ANONYMOUS.value
            and not (field.data or "").strip()
        ):
            raise ValidationError(_l("Hãy ghi họ tên, hoặc chọn gửi ẩn danh."))

    def validate_phone(self, field) -> None:
        if self.identity_tier.data == IdentityTier.ANONYMOUS.value:
            return
        field.data = _checked_phone(field.data, _l("Hãy ghi số điện thoại, hoặc chọn gửi ẩn danh."))


def _checked_phone(data: str | None, missing) -> str:
    """A Vietnamese phone number without spaces, dots or dashes; ValidationError otherwise."""
    value = normalize_phone(data)
    if not value:
        raise ValidationError(missing)
    if not is_phone(value):
        raise ValidationError(_l("Số điện thoại không đúng (ví dụ: 0912 345 678)."))
    return value


class FollowUpForm(PublicForm):
    reference = StringField(
        _l("Mã số tin báo"),
        validators=[
            DataRequired(_l("Hãy nhập mã số tin báo.")),
            Length(max=40, message=_l("Mã số tin báo không đúng.")),
        ],
    )
    code = StringField(
        _l("Mã tra cứu"),
        validators=[
            DataRequired(_l("Hãy nhập mã tra cứu.")),
            Length(max=60, message=_l("Mã tra cứu không đúng.")),
        ],
    )


class AddPhotoForm(PublicForm):
    """Photos added from the status page; the two codes come back as hidden fields."""

    reference = HiddenField(validators=[DataRequired(BAD_FORM), Length(max=40, message=BAD_FORM)])
    code = HiddenField(validators=[DataRequired(BAD_FORM), Length(max=60, message=BAD_FORM)])
    photo = MultipleFileField(_l("Thêm ảnh"))


class MessageForm(PublicForm):
    """The tipster's answer or added information, from the status page."""

    body = TextAreaField(
        _l("Tin nhắn của bạn"),
        filters=[_strip],
        validators=[
            DataRequired(_l("Hãy viết nội dung tin nhắn.")),
            Length(
                max=MAX_MESSAGE_LENGTH,
                message=_l("Tin nhắn tối đa %(max)d ký tự.", max=MAX_MESSAGE_LENGTH),
            ),
        ],
    )
    # The button pressed: answer a question, or add information.
    kind = HiddenField(
        validators=[
            DataRequired(BAD_FORM),
            AnyOf(("reply", "information"), message=BAD_FORM),
        ]
    )


class RevealForm(PublicForm):
    """An anonymous tipster gives a name and phone; validated like the submit form."""

    name = StringField(
        _l("Họ và tên"),
        filters=[_strip],
        validators=[
            DataRequired(_l("Hãy ghi họ tên.")),
            Length(max=120, message=_l("Tối đa 120 ký tự.")),
        ],
    )
    phone = StringField(_l("Số điện thoại"), filters=[clean_text])

    def validate_phone(self, field) -> None:
        field.data = _checked_phone(field.data, _l("Hãy ghi số điện thoại."))


class StatusVoiceForm(PublicForm):
    """A voice note added from the status page within the tipster's session."""

    voice = FileField(_l("Ghi âm thêm"))
    # Kept across an error of this form (a signed token, as on the tip form).
    voice_token = HiddenField(validators=[Length(max=400, message=BAD_FORM)])


class StatusPhotoForm(PublicForm):
    """Photos added from the status page within the tipster's session (no codes needed)."""

    photo = MultipleFileField(_l("Thêm ảnh"))
