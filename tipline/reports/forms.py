"""The indicators form (with CSRF). It validates input; the service checks who may enter."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField
from wtforms.validators import InputRequired, NumberRange, Optional, ValidationError

from tipline.reports.models import INDICATOR_FIELDS

MAX_VALUE = 10_000_000


def _indicator_field(label) -> IntegerField:
    return IntegerField(
        label,
        validators=[
            Optional(),
            NumberRange(0, MAX_VALUE, _l("Hãy nhập số nguyên từ 0 đến 10.000.000.")),
        ],
        render_kw={"inputmode": "numeric", "min": 0},
    )


class IndicatorForm(FlaskForm):
    commune = SelectField(_l("Xã, phường"), validators=[InputRequired(_l("Hãy chọn xã."))])
    period_start = DateField(
        _l("Từ ngày"), validators=[InputRequired(_l("Hãy nhập ngày bắt đầu kỳ."))]
    )
    period_end = DateField(
        _l("Đến ngày"), validators=[InputRequired(_l("Hãy nhập ngày kết thúc kỳ."))]
    )

    def validate_period_end(self, field) -> None:
        if self.period_start.data and field.data and field.data < self.period_start.data:
            raise ValidationError(_l("Ngày kết thúc phải sau ngày bắt đầu."))

    def validate_people_improved(self, field) -> None:
        managed = self.people_managed.data
        if field.data is not None and managed is not None and field.data > managed:
            raise ValidationError(
                _l("Số đối tượng tiến bộ không thể lớn hơn số đối tượng được quản lý.")
            )

    def values(self) -> dict:
        return {name: getattr(self, name).data for name, _ in INDICATOR_FIELDS}


for _name, _label in INDICATOR_FIELDS:
    setattr(IndicatorForm, _name, _indicator_field(_label))
