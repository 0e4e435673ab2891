"""Forms of the partner-key pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from tipline.core.text import clean_text


class PartnerKeyForm(FlaskForm):
    name = StringField(
        _l("Tên hệ thống đối tác"),
        filters=[clean_text],
        validators=[DataRequired(_l("Hãy nhập tên hệ thống đối tác.")), Length(max=120)],
    )
    unit = SelectField(_l("Phạm vi (đơn vị)"), validators=[DataRequired(_l("Hãy chọn đơn vị."))])
    may_submit = BooleanField(_l("Được gửi tin báo"), default=True)
    may_read = BooleanField(
        _l("Được xem nội dung, địa điểm, tọa độ của tin trong phạm vi"), default=False
    )
    may_name = BooleanField(
        _l("Được gửi tin có họ tên, số điện thoại (tin giữ bí mật danh tính)"), default=False
    )


class ConfirmForm(FlaskForm):
    """A button that changes something: only the CSRF token travels."""
