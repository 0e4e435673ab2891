"""Staff forms (with CSRF). They validate input only; the workflow judges the move."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from tipline.core.text import clean_text
from tipline.places.models import Unit
from tipline.tips.models import (
    STAFF_MESSAGE_KINDS,
    STAFF_SOURCES,
    MessageKind,
    Outcome,
    Priority,
    RejectReason,
    TipSource,
)
from tipline.tips.triage import RecordedTip
from tipline.tips.workflow import MAX_MESSAGE_LENGTH, Action

# A checkbox sends a value only when ticked; a client that sends "0" or "off" means no
# (WTForms would read any non-empty value other than "false" as yes).
FALSE = ("false", "", "0", "off", "no")


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
    note_to_tipster = BooleanField(_l("Gửi ghi chú này cho người báo tin"), false_values=FALSE)
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
        _l("Tôi quen biết người liên quan: ẩn tin này khỏi tổ bảo vệ ANTT thôn"), false_values=FALSE
    )

    def parsed_action(self) -> Action | None:
        try:
            return Action(self.action.data)
        except ValueError:
            return None


class MessageForm(FlaskForm):
    """Staff writing to the tipster (shown on the tipster's status page)."""

    body = TextAreaField(
        _l("Tin nhắn cho người báo tin"),
        filters=[clean_text],
        validators=[
            DataRequired(_l("Nội dung tin nhắn đang trống.")),
            Length(
                max=MAX_MESSAGE_LENGTH,
                message=_l("Tin nhắn tối đa %(max)d ký tự.", max=MAX_MESSAGE_LENGTH),
            ),
        ],
    )
    kind = SelectField(
        _l("Loại tin nhắn"),
        choices=lambda: MessageKind.choices(STAFF_MESSAGE_KINDS),
        default=MessageKind.QUESTION.value,
        validate_choice=True,
        invalid_choice_message=_l("Hãy chọn loại tin nhắn."),
    )


class NoteForm(FlaskForm):
    body = TextAreaField(
        _l("Ghi chú"),
        filters=[clean_text],
        validators=[
            DataRequired(_l("Nội dung ghi chú đang trống.")),
            Length(max=4000, message=_l("Tối đa 4000 ký tự.")),
        ],
    )
    to_tipster = BooleanField(
        _l("Gửi cho người báo tin (hiện trên trang tra cứu)"), false_values=FALSE
    )


class ConfirmForm(FlaskForm):
    """A bare CSRF-protected button (logout, show identity)."""


class AssignForm(FlaskForm):
    assignee = SelectField(_l("Giao cho"), choices=[], validate_choice=False)
    version = IntegerField(widget=HiddenField.widget, validators=[InputRequired()])


class PriorityForm(FlaskForm):
    priority = SelectField(
        _l("Mức ưu tiên"),
        choices=[SelectChoice("", _l("— Chọn —")), *Priority.choices()],
        validators=[DataRequired(_l("Hãy chọn mức ưu tiên."))],
    )
    version = IntegerField(widget=HiddenField.widget, validators=[InputRequired()])


class BulkForm(FlaskForm):
    """Several tips of the inbox at once; each goes through the workflow on its own."""

    tips = SelectMultipleField(choices=[], validate_choice=False)
    operation = SelectField(
        _l("Thao tác với các tin đã chọn"),
        choices=[
            SelectChoice("", _l("— Chọn —")),
            SelectChoice("assign", _l("Giao cho")),
            SelectChoice("priority", _l("Đổi mức ưu tiên")),
            SelectChoice("spam", _l("Không xử lý: tin rác")),
        ],
        validators=[DataRequired(_l("Hãy chọn thao tác."))],
    )
    assignee = SelectField(_l("Người nhận"), choices=[], validate_choice=False)
    priority = SelectField(
        _l("Mức ưu tiên"),
        choices=[SelectChoice("", "—"), *Priority.choices()],
        validate_choice=False,
    )


class HeldBulkForm(FlaskForm):
    """The held tips' view (tips/held.py): several at once, after a confirmation step.

    `tips` names them; `whole_page` (the view's "every tip on this page", with the
    operation as its value) lets the server read them from the view's own filter instead
    (its fields are the view's query string: unit, status, page). `confirm` is set by the
    confirmation page.
    """

    tips = SelectMultipleField(choices=[], validate_choice=False)
    operation = HiddenField()  # a button's value: held.OPERATIONS (checked there)
    whole_page = HiddenField()
    confirm = HiddenField()


class ReleaseForm(FlaskForm):
    """ "Không phải tin rác" for one held tip; `version` from its page (optional in the
    held view's list, where the state itself is the check)."""

    version = IntegerField(widget=HiddenField.widget, validators=[Optional()])


class TemplateForm(FlaskForm):
    commune = SelectField(_l("Xã, phường"), choices=[], validate_choice=False)
    title = StringField(
        _l("Tên mẫu"),
        filters=[clean_text],
        validators=[DataRequired(_l("Hãy đặt tên cho mẫu.")), Length(max=120)],
    )
    body = TextAreaField(
        _l("Nội dung gửi người báo tin"),
        filters=[clean_text],
        validators=[
            DataRequired(_l("Nội dung mẫu đang trống.")),
            Length(max=4000, message=_l("Tối đa 4000 ký tự.")),
        ],
    )


class RecordedTipForm(Form):
    """One tip heard from a resident (no CSRF of its own: it sits inside RecordForm)."""

    category = SelectField(_l("Loại vụ việc"), choices=[], validate_choice=False)
    unit = SelectField(_l("Địa bàn"), choices=[], validate_choice=False)
    description = TextAreaField(
        _l("Nội dung"),
        filters=[clean_text],
        validators=[Optional(), Length(max=4000, message=_l("Tối đa 4000 ký tự."))],
    )
    place = StringField(
        _l("Nơi xảy ra"), filters=[clean_text], validators=[Optional(), Length(max=300)]
    )
    occurred_on = DateField(_l("Ngày xảy ra"), validators=[Optional()])


class RecordForm(FlaskForm):
    """Tips taken on behalf of residents: at a meeting, from the tip box, by phone."""

    batch_key = HiddenField(validators=[DataRequired(), Length(min=16, max=64)])
    source = SelectField(
        _l("Nguồn tin"),
        choices=[SelectChoice("", "—"), *TipSource.choices(STAFF_SOURCES)],
        validators=[DataRequired(_l("Hãy chọn nguồn tin."))],
    )
    rows = FieldList(FormField(RecordedTipForm), min_entries=3, max_entries=10)

    def offer(self, categories, units) -> None:
        """The categories and places each line may choose from."""
        category_choices = coded_choices(categories)
        unit_choices = coded_choices(units)
        for row in self.rows:
            row.category.choices = category_choices
            row.unit.choices = unit_choices

    def recorded(self, categories: dict, units: dict) -> tuple[list[RecordedTip], list]:
        """The filled lines as tips to record, and what is wrong with the others."""
        rows, errors = [], []
        for index, row in enumerate(self.rows, start=1):
            data = row.form
            text = (data.description.data or "").strip()
            if not text and not data.category.data and not data.unit.data:
                continue  # an empty line of the form
            category = categories.get(data.category.data or "")
            unit = units.get(data.unit.data or "")
            if category is None:
                errors.append(_l("Tin %(n)d: hãy chọn loại vụ việc.", n=index))
            if unit is None:
                errors.append(_l("Tin %(n)d: hãy chọn địa bàn.", n=index))
            if len(text) < 10:
                errors.append(_l("Tin %(n)d: hãy ghi nội dung (ít nhất 10 ký tự).", n=index))
            if category and unit and len(text) >= 10:
                rows.append(
                    RecordedTip(
                        category, unit, text, data.place.data or None, data.occurred_on.data
                    )
                )
        return rows, errors


# --- choices filled in by the views -------------------------------------------------------


def coded_choices(items) -> list[SelectChoice]:
    """A blank line, then each item (a category, a unit) by its code and name (a category's
    in the reader's language)."""
    return [SelectChoice("", "—"), *[SelectChoice(i.code, _name(i)) for i in items]]


def _name(item) -> str:
    return getattr(item, "label", item.name)


def people_choices(people) -> list[SelectChoice]:
    """Nobody, then each person who may be given a tip (inbox.assignable_people)."""
    return [
        SelectChoice("", _l("— Không giao cho ai —")),
        *[SelectChoice(str(p.id), p.name) for p in people],
    ]


def move_choices(commune: Unit | None, targets: list[Unit]) -> list[SelectChoice]:
    """Where a tip may be moved (workflow.move_targets); its commune means no known village."""
    return [SelectChoice("", _l("— Chọn —"))] + [
        SelectChoice(unit.code, f"{unit.name} ({_l('không rõ thôn')})")
        if commune is not None and unit.id == commune.id
        else SelectChoice(unit.code, unit.name)
        for unit in targets
    ]
