"""Every API operation's input and output, declared once (marshmallow).

The staff API parses its input with these schemas (flask-smorest's `arguments`) and
writes its answers through them (`response`); Open311 parses its query and form with
them and its JSON/XML writer (api/formats.py) writes what they dump. The OpenAPI
document (api/openapi.py) is generated from the same declarations by apispec, so the
document, the parser and the serialiser cannot drift apart.

A refused input becomes a 400 with one Vietnamese sentence naming the field
(`refusal`): a schema's MESSAGES give a field its own sentence, others get "Thiếu
trường …" or "Trường … không hợp lệ.".
"""

from __future__ import annotations

import re

from flask import g
from flask_babel import lazy_gettext as _l
from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    missing,
    pre_load,
    validate,
    validates_schema,
)

from tipline.accounts.models import User
from tipline.api.formats import iso
from tipline.tips import workflow
from tipline.tips.inbox import FLAGS, MAX_CODE, MAX_PAGE, Sort
from tipline.tips.models import Outcome, Priority, RejectReason, TipStatus
from tipline.tips.queries import tip_for
from tipline.tips.services import public_status
from tipline.tips.triage import is_overdue
from tipline.tips.workflow import Action

NOTE = "note"  # an action that only adds a note
MISSING = "Missing data for required field."  # marshmallow's own text for a missing field
IDEMPOTENCY_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
# A date-time with its zone (RFC 3339), or a local one (Vietnam's time): what
# open311_records.parse_moment reads. Empty means absent, as Open311 says of every filter.
_DAY = r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
_TIME = r"([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?"
MOMENT_PATTERN = rf"^{_DAY}[Tt]{_TIME}([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)?$"
MOMENT = re.compile(MOMENT_PATTERN)
EMPTY_MEANS_ABSENT = "An empty value means the parameter is absent (as in Open311)."


# --- fields -------------------------------------------------------------------------------


class WholeNumber(fields.Integer):
    """A JSON integer: 3 and 3.0 (JSON Schema's integers), never "3" or true."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid")
        return super()._deserialize(int(value), attr, data, **kwargs)


class StrictBoolean(fields.Boolean):
    """true or false, never "yes" or 1."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def _choice(values, description: str, *, empty: bool = False, **kwargs) -> fields.String:
    values = [str(v) for v in values]
    return fields.String(
        validate=validate.OneOf(([""] if empty else []) + values),
        metadata={"description": description},
        **kwargs,
    )


def _text(
    description: str = "", *, required: bool = False, data_key=None, **limits
) -> fields.String:
    return fields.String(
        required=required,
        data_key=data_key,
        validate=validate.Length(**limits) if limits else None,
        metadata={"description": description} if description else {},
    )


def _nullable(field_class=fields.String, description: str = "", metadata=None, **kwargs):
    metadata = dict(metadata or {}) | ({"description": description} if description else {})
    return field_class(allow_none=True, metadata=metadata, **kwargs)


class Input(Schema):
    """An input schema: unknown names are ignored, as before the schemas."""

    MESSAGES: dict = {}

    class Meta:
        unknown = EXCLUDE


def refusal(schema, messages) -> str:
    """One sentence for a refused input (the first field webargs/marshmallow named)."""
    for _location, errors in (messages or {}).items():
        if not isinstance(errors, dict):
            break
        for name, texts in errors.items():
            if name == "_schema":
                own = [t for t in texts if isinstance(t, str) and not t.startswith("Invalid")]
                return own[0] if own else str(_l("Nội dung yêu cầu phải là một đối tượng JSON."))
            custom = getattr(schema, "MESSAGES", {}).get(name)
            if custom is not None:
                return str(custom)
            if isinstance(texts, list) and MISSING in texts:
                return str(_l("Thiếu trường %(name)s.", name=name))
            return str(_l("Trường %(name)s không hợp lệ.", name=name))
    return str(_l("Nội dung yêu cầu phải là một đối tượng JSON."))


# --- shared -------------------------------------------------------------------------------


class Error(Schema):
    error = fields.String(
        required=True, metadata={"description": "What is wrong, in the reader's language."}
    )
    status = fields.Integer(required=True)


class Named(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True, metadata={"description": "In the reader's language."})


# --- staff API ----------------------------------------------------------------------------


class NewToken(Input):
    username = _text(required=True, min=1, max=64)
    password = _text(required=True, min=1, max=200)
    code = _text("TOTP or recovery code, when the account has two-factor sign-in.", min=0, max=20)


class Token(Schema):
    token = fields.String(required=True, metadata={"description": "Shown once."})
    token_type = fields.String(required=True, validate=validate.OneOf(["Bearer"]))
    expires_at = fields.String(required=True, metadata={"format": "date-time"})


class InboxQuery(Input):
    """The inbox's query string; tips.inbox.InboxFilter gives it its meaning."""

    # The same sentences as InboxFilter.from_args: one message on the web and in the API.
    MESSAGES = {
        "status": _l("Trạng thái không hợp lệ."),
        "priority": _l("Mức ưu tiên không hợp lệ."),
        "category": _l("Loại vụ việc không hợp lệ."),
        "unit": _l("Địa bàn không hợp lệ."),
        "sort": _l("Cách sắp xếp không hợp lệ."),
        "page": _l("Số trang không hợp lệ."),
        **{flag: _l("Bộ lọc không hợp lệ.") for flag in FLAGS},
    }

    status = _choice([s.value for s in TipStatus], "A state.", empty=True)
    priority = _choice([p.value for p in Priority], "A priority.", empty=True)
    # The document lists the deployment's codes (openapi.document); an unknown one is a 400.
    category = _text("A category code (empty: every category).", max=MAX_CODE)
    unit = _text(
        "A unit code in the account's scope: its subtree (empty: the whole scope). A unit "
        "outside the scope lists nothing; a code that names no unit is a 400.",
        max=MAX_CODE,
    )
    q = fields.String(
        metadata={"description": "Words of the description or place, or a reference."}
    )
    sort = _choice(Sort.ALL, "Order.", empty=True)
    page = fields.String(
        validate=validate.Regexp(rf"^(|[1-9]\d{{0,{len(str(MAX_PAGE)) - 2}}}|{MAX_PAGE})$"),
        metadata={"description": f"From 1 to {MAX_PAGE} (empty: 1)."},
    )
    # The inbox's yes/no filters, by the names InboxFilter.from_args reads.
    locals().update({flag: _choice(["0", "1"], "1 to narrow.", empty=True) for flag in FLAGS})


class _Computed:
    """A field whose value is `compute(obj)`: its type (for the document) is the field's."""

    def __init__(self, compute, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.compute = compute

    def get_value(self, obj, attr, accessor=None, default=missing):
        return self.compute(obj)


class ComputedString(_Computed, fields.String):
    pass


class ComputedBoolean(_Computed, fields.Boolean):
    pass


class ComputedInteger(_Computed, fields.Integer):
    pass


class ComputedList(_Computed, fields.List):
    pass


class ComputedNested(_Computed, fields.Nested):
    pass


class Moment(fields.String):
    """A naive-UTC datetime, written in W3C form in Vietnam's time zone (formats.iso)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("metadata", {})["format"] = "date-time"
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return iso(value)


def _value(attribute: str, **kwargs) -> ComputedString:
    """An enum attribute's value (None stays None)."""
    return ComputedString(lambda obj: getattr(getattr(obj, attribute), "value", None), **kwargs)


def _reader() -> User:
    """The account the answer is for (the staff API's token_required sets it)."""
    return g.api_user


class CategoryRef(Schema):
    code = fields.String(required=True)
    name = fields.String(
        attribute="label", required=True, metadata={"description": "In the reader's language."}
    )


class UnitRef(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)


class TipSummary(Schema):
    """A tip in a list; dumped from the Tip itself."""

    public_id = fields.String(required=True)
    reference = fields.String(required=True)
    status = _value(
        "status",
        required=True,
        validate=validate.OneOf([s.value for s in TipStatus]),
        metadata={"description": "The detailed state."},
    )
    status_label = ComputedString(lambda tip: tip.status.label, required=True)
    open = fields.Boolean(attribute="is_open", required=True)
    category = fields.Nested(CategoryRef, required=True)
    unit = fields.Nested(UnitRef, required=True)
    # The tip's commune (its own unit, for a tip sent to the commune itself).
    commune = ComputedNested(lambda tip: tip.unit.commune or tip.unit, UnitRef, required=True)
    priority = _value(
        "priority", required=True, validate=validate.OneOf([p.value for p in Priority])
    )
    handler = _value("handler", required=True)
    submitted_at = Moment(required=True)
    response_due_at = Moment(allow_none=True)
    settle_due_at = Moment(allow_none=True)
    overdue = ComputedBoolean(is_overdue, required=True)
    held = fields.Boolean(
        required=True,
        metadata={
            "description": "Held for review as possible spam (sent during a flood without "
            "the form's anti-spam step): out of the lists unless `held=1` or a search, "
            "and only a rejection moves it until the web page's “not spam” releases it."
        },
    )
    version = fields.Integer(
        required=True, metadata={"description": "Send it back with an action."}
    )


class TipEvent(Schema):
    kind = _value("kind", required=True)
    label = ComputedString(lambda event: event.kind.label, required=True)
    at = Moment(required=True)
    from_status = _value("from_status", allow_none=True)
    to_status = _value("to_status", allow_none=True)
    actor = ComputedString(lambda e: e.actor.full_name if e.actor else None, allow_none=True)
    note = ComputedString(lambda e: e.note.body if e.note is not None else None, allow_none=True)
    public = fields.Boolean(required=True)


def _visible_duplicate(tip) -> str | None:
    """The original's reference, if the reader may see that tip."""
    original = tip.duplicate_of
    if original is None or tip_for(_reader(), original.public_id) is None:
        return None
    return original.reference


class TipDetail(TipSummary):
    """One tip as the reader (g.api_user) may see it: never the tipster's identity."""

    description = fields.String(required=True)
    place = _nullable()
    latitude = _nullable(fields.Float)
    longitude = _nullable(fields.Float)
    occurred_on = fields.Date(allow_none=True)
    occurred_time = ComputedString(
        lambda tip: tip.occurred_time.strftime("%H:%M") if tip.occurred_time else None,
        allow_none=True,
    )
    identity_tier = _value(
        "identity_tier",
        required=True,
        metadata={"description": "The tier only: the identity itself is never in the API."},
    )
    outcome = _value("outcome", allow_none=True)
    reject_reason = _value("reject_reason", allow_none=True)
    duplicate_of = ComputedString(_visible_duplicate, allow_none=True)
    public_status = ComputedString(lambda tip: public_status(tip).value, required=True)
    assignee = ComputedString(
        lambda tip: tip.assignee.full_name if tip.assignee else None, allow_none=True
    )
    photo_count = ComputedInteger(lambda tip: len(tip.photos), required=True)
    allowed_actions = ComputedList(
        lambda tip: [a.value for a in workflow.allowed_actions(tip, _reader())],
        fields.String(),
        required=True,
    )
    allowed_outcomes = ComputedList(
        lambda tip: [o.value for o in workflow.allowed_outcomes(tip, _reader())],
        fields.String(),
        required=True,
    )
    events = fields.List(fields.Nested(TipEvent), required=True)


class TipList(Schema):
    tips = fields.List(fields.Nested(TipSummary), required=True)
    page = fields.Integer(required=True)
    has_next = fields.Boolean(required=True)


class TipAnswer(Schema):
    tip = fields.Nested(
        TipDetail,
        required=True,
        allow_none=True,
        metadata={
            "description": "null when the tip left the account's scope (e.g. handed to the "
            "commune police for a conflict of interest)."
        },
    )


class ActionRequest(Input):
    action = _choice(
        [a.value for a in Action] + [NOTE], "A workflow move, or `note`.", required=True
    )
    version = WholeNumber(
        required=True,
        validate=validate.Range(min=1),
        metadata={"description": "The tip's version as last read (a 409 if it changed)."},
    )
    note = _nullable(
        description="Required, not blank, when action is `note`.",
        validate=validate.Length(max=4000),
    )
    note_to_tipster = StrictBoolean()
    outcome = _choice([o.value for o in Outcome], EMPTY_MEANS_ABSENT, empty=True, allow_none=True)
    reason = _choice(
        [r.value for r in RejectReason], EMPTY_MEANS_ABSENT, empty=True, allow_none=True
    )
    duplicate_of = _nullable(
        description="Reference of the original tip.", validate=validate.Length(max=40)
    )
    to_unit = _nullable(
        description="Code of a village or commune.", validate=validate.Length(max=40)
    )
    conflict_of_interest = StrictBoolean()

    @validates_schema
    def _a_note_has_text(self, data, **kwargs):
        if data.get("action") == NOTE and not (data.get("note") or "").strip():
            raise ValidationError(str(_l("Thiếu trường %(name)s.", name="note")))


# --- Open311 ------------------------------------------------------------------------------


class Open311Error(Schema):
    code = fields.Integer(required=True, metadata={"description": "The HTTP status."})
    description = fields.String(required=True)


class DiscoveryEndpoint(Schema):
    specification = fields.String(required=True)
    url = fields.String(required=True)
    changeset = fields.String(required=True, metadata={"format": "date-time"})
    type = fields.String(required=True, validate=validate.OneOf(["production", "test"]))
    formats = fields.List(fields.String(), required=True)
    notes = fields.String(
        metadata={"description": "Extension: the extensions this endpoint offers."}
    )


class Discovery(Schema):
    changeset = fields.String(required=True, metadata={"format": "date-time"})
    contact = fields.String(required=True)
    key_service = fields.String(required=True)
    endpoints = fields.List(fields.Nested(DiscoveryEndpoint), required=True)


class Service(Schema):
    service_code = fields.String(required=True)
    service_name = fields.String(
        required=True, metadata={"description": "In the reader's language."}
    )
    description = fields.String(required=True)
    metadata = fields.Boolean(required=True)
    type = fields.String(required=True, validate=validate.OneOf(["realtime", "batch", "blackbox"]))
    keywords = fields.String(required=True)
    group = fields.String(required=True)


class AttributeValue(Schema):
    key = fields.String(required=True)
    name = fields.String(required=True)


class Attribute(Schema):
    variable = fields.Boolean(
        required=True,
        metadata={"description": "false: information for the person, not an input."},
    )
    code = fields.String(required=True)
    datatype = fields.String(
        required=True,
        validate=validate.OneOf(
            ["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
        ),
    )
    required = fields.Boolean(required=True)
    datatype_description = fields.String(required=True)
    order = fields.Integer(required=True)
    description = fields.String(required=True)
    # Not "values" in the dicts: that name is a dict's own method for the serialiser.
    choices = fields.List(fields.Nested(AttributeValue), data_key="values")


class ServiceDefinition(Schema):
    service_code = fields.String(required=True)
    attributes = fields.List(fields.Nested(Attribute), required=True)


class ServiceRequest(Schema):
    """A tip as Open311 shows it; which fields depend on the key (open311.py)."""

    service_request_id = fields.String(
        required=True, metadata={"description": "The tip's reference."}
    )
    status = fields.String(
        required=True,
        validate=validate.OneOf(["open", "closed"]),
        metadata={
            "description": "From the state the tipster sees (for a merged tip: its original's)."
        },
    )
    status_notes = fields.String(
        metadata={
            "description": "Only for a key with the read permission: the detailed state the "
            "tipster sees, in the reader's language."
        }
    )
    service_name = fields.String(required=True)
    service_code = fields.String(required=True)
    agency_responsible = fields.String(
        metadata={"description": "Only for a key with the read permission: the commune."}
    )
    requested_datetime = fields.String(
        required=True,
        metadata={
            "format": "date-time",
            "description": "With a key with the read permission, the minute the tip came in; "
            "without, only its day (midnight in Asia/Ho_Chi_Minh, +07:00).",
        },
    )
    updated_datetime = fields.String(
        required=True,
        metadata={
            "format": "date-time",
            "description": "The last change the tipster can see (its day only without a "
            "reading key).",
        },
    )
    commune_code = fields.String(
        metadata={
            "description": "Extension, only for a key with the read permission: the commune's code."
        }
    )
    description = fields.String(
        metadata={"description": "Only for a key with the read permission, tips in its scope."}
    )
    address = _nullable()
    lat = _nullable(fields.Float)
    long = _nullable(fields.Float)
    expected_datetime = _nullable(metadata={"format": "date-time"})


class PostedRequest(Schema):
    service_request_id = fields.String(
        required=True,
        metadata={"description": "The tip's reference: the request is created at once."},
    )
    service_notice = fields.String(required=True)
    account_id = fields.String(
        allow_none=True, required=True, metadata={"description": "Always null."}
    )
    follow_up_code = fields.String(
        required=True,
        metadata={
            "description": "Extension: the resident's follow-up code. Hand it to the resident "
            "with the reference: together they open the tip's status page. Tipline keeps only "
            "its hash and cannot show it again."
        },
    )


class RequestToken(Schema):
    token = fields.String(required=True)
    service_request_id = fields.String(required=True)


class RequestsQuery(Input):
    """GET requests: Open311's filters. Empty means absent, as the specification says."""

    MESSAGES = {
        "status": _l("status chỉ nhận open hoặc closed."),
        "start_date": _l(
            "%(name)s không hợp lệ: dùng dạng ISO 8601, ví dụ 2026-01-31T08:00:00+07:00.",
            name="start_date",
        ),
        "end_date": _l(
            "%(name)s không hợp lệ: dùng dạng ISO 8601, ví dụ 2026-01-31T08:00:00+07:00.",
            name="end_date",
        ),
        "service_request_id": _l("service_request_id không hợp lệ."),
        "service_code": _l("service_code không hợp lệ."),
    }

    service_request_id = fields.String(
        metadata={"description": "References, comma-separated (other filters then do not apply)."}
    )
    service_code = fields.String(metadata={"description": "Category codes, comma-separated."})
    status = fields.String(
        validate=validate.Regexp(r"^\s*((open|closed)\s*(,\s*(open|closed)\s*)*)?$", flags=re.I),
        metadata={"description": "open, closed, or both comma-separated. " + EMPTY_MEANS_ABSENT},
    )
    start_date = fields.String(
        validate=validate.Regexp(rf"^$|{MOMENT_PATTERN}"),
        metadata={
            "description": "W3C date-time (without a zone: Vietnam's time); default end_date "
            "minus 90 days. " + EMPTY_MEANS_ABSENT
        },
    )
    end_date = fields.String(
        validate=validate.Regexp(rf"^$|{MOMENT_PATTERN}"),
        metadata={"description": "W3C date-time; default now. " + EMPTY_MEANS_ABSENT},
    )
    jurisdiction_id = fields.String(
        metadata={"description": "Accepted and ignored (one jurisdiction per deployment)."}
    )


class NewRequest(Input):
    """POST requests (form or multipart)."""

    MESSAGES = {
        "service_code": _l("service_code không hợp lệ: xem danh sách services."),
        "description": _l(
            "description là bắt buộc ở Tipline (Open311 để tùy chọn): cần từ %(min)d đến "
            "%(max)d ký tự.",
            min=10,
            max=4000,
        ),
        "lat": _l("%(name)s không hợp lệ.", name="lat"),
        "long": _l("%(name)s không hợp lệ.", name="long"),
        "address_string": _l("%(name)s dài quá %(n)d ký tự.", name="address_string", n=300),
        "address_id": _l("%(name)s dài quá %(n)d ký tự.", name="address_id", n=300),
        "attribute[idempotency_key]": _l("Idempotency-Key cần 8–64 ký tự A-Z a-z 0-9 _ -."),
    }

    api_key = fields.String(metadata={"description": "Or the X-Api-Key header."})
    service_code = _text(required=True, min=1, max=40)
    description = fields.String(
        required=True,
        metadata={
            "description": "Required by Tipline (optional in Open311), as on the resident "
            "form: 10 to 4,000 characters once spaces and control characters are cleaned."
        },
        validate=validate.Length(min=10, max=4000),
    )
    lat = fields.Float(validate=validate.Range(-90, 90), allow_nan=False)
    long = fields.Float(validate=validate.Range(-180, 180), allow_nan=False)
    address_string = _text(max=300)
    address_id = _text("Kept as the place's text (Tipline has no address registry).", max=300)
    first_name = _text(
        "Only with a key allowed to send named tips (the tip is then confidential).", max=60
    )
    last_name = _text(max=60)
    phone = _text(max=30)
    email = _text("Accepted, never stored.", max=254)
    media_url = _text(
        "An http(s) image on a public address, fetched once within size and time limits; "
        "no redirects.",
        max=2000,
    )
    media = fields.Raw(metadata={"type": "string", "contentMediaType": "application/octet-stream"})

    commune = _text(
        "Commune code (routes the tip; not a location); derived from the key when its scope "
        "is one commune or village.",
        max=40,
        data_key="attribute[commune]",
    )
    village = _text("Village code, if known.", max=40, data_key="attribute[village]")
    idempotency_key = fields.String(
        data_key="attribute[idempotency_key]",
        validate=validate.Regexp(IDEMPOTENCY_PATTERN),
        metadata={
            "description": "Or the Idempotency-Key header. GET tokens/{token} finds the request."
        },
    )

    @pre_load
    def _empty_means_absent(self, data, **kwargs):
        return {k: v for k, v in data.items() if v not in ("", None)}

    @validates_schema
    def _one_location(self, data, **kwargs):
        if ("lat" in data) != ("long" in data):
            raise ValidationError(str(_l("Cần cả vĩ độ và kinh độ, hoặc để trống cả hai.")))
        if "lat" not in data and not data.get("address_string") and not data.get("address_id"):
            raise ValidationError(
                str(_l("Cần nơi xảy ra: lat và long, address_string hoặc address_id."))
            )
