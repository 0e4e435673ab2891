"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2) for partner systems.

Services are the tip categories; a service request is a tip, its id the tip's public
reference. The list of requests needs a partner key with the read permission: commune,
category and minute of every tip would undo the small-number suppression of the public
figures (/so-lieu), where most cells hold one tip. Without such a key one request, asked
for by its reference (the tipster's), answers only its reference, category, open or
closed, and the days it came in and last changed. A key with the read permission lists
the tips of its own area (`queries.unit_reading_clause`), with commune, detailed state,
minute, description, place and coordinates, and reads any one tip's commune, state and
minute by its reference; never the tipster's identity or photos.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from flask import abort, current_app, g, request, url_for
from flask_babel import lazy_gettext as _l
from flask_babel import refresh
from flask_smorest import Blueprint
from sqlalchemy import case, func, select
from sqlalchemy.orm import aliased, selectinload
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from tipline.accounts.permissions import unit_may_read
from tipline.api import keys, schemas
from tipline.api.common import bearer, header_only
from tipline.api.formats import answer, day, error_answer, iso
from tipline.api.media import MediaError, fetch_media
from tipline.api.models import PartnerKey
from tipline.core.errors import TiplineError
from tipline.core.http import ERROR_WRITERS, MESSAGES
from tipline.core.i18n import ENVIRON_KEY
from tipline.core.privacy import client_bucket
from tipline.core.text import clean_text, is_phone, normalize_phone
from tipline.core.timeutil import LOCAL_TZ, utcnow
from tipline.extensions import db
from tipline.media.photos import PhotoError, process_photo
from tipline.places.models import Unit, UnitLevel
from tipline.places.services import commune_by_code, communes_of, root_unit, unit_by_code
from tipline.tips.models import (
    OPEN_STATUSES,
    Category,
    IdentityTier,
    Tip,
    TipEvent,
    TipStatus,
)
from tipline.tips.queries import TipUnit, unit_reading_clause
from tipline.tips.services import (
    MAX_PHOTOS,
    TipDraft,
    active_categories,
    category_by_code,
    hash_submission_key,
    new_submission_key,
    normalize_reference,
    public_status,
    store_photo,
    submit_tip,
)

bp = header_only(Blueprint("open311", __name__, description="Open311 GeoReport v2."))

FORMATS = "any(json, xml)"
IDEMPOTENCY = re.compile(schemas.IDEMPOTENCY_PATTERN)
MAX_IDS = 100
# The operations that need a partner key; the others ignore a wrong or revoked one.
KEYED = {"open311.list_requests", "open311.create_request"}
PARTNER = [{}, {"partnerKey": []}, {"partnerBearer": []}]
PARTNER_ONLY = [{"partnerKey": []}, {"partnerBearer": []}]


class Open311Error(Exception):
    def __init__(self, status: int, message) -> None:
        super().__init__(str(message))
        self.status = status
        self.message = message


# --- errors in the answer's format ---------------------------------------------------------


@bp.errorhandler(Open311Error)
def _open311_error(error: Open311Error):
    db.session.rollback()
    return error_answer(error.status, error.message)


@bp.errorhandler(TiplineError)
def _domain_error(error: TiplineError):
    db.session.rollback()
    return error_answer(error.status_code, error.message)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    data = getattr(error, "data", None) or {}
    if "messages" in data:  # an input its schema refused (webargs)
        return error_answer(400, schemas.refusal(data.get("schema"), data["messages"]))
    status = error.code or 500
    response = error_answer(status, MESSAGES.get(status, MESSAGES[400]))
    if status == 429:
        response.headers["Retry-After"] = "60"
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
    return response


# Errors the app answers before or without a route (no format, an unknown one, a wrong
# method, a NUL in the address, an upload over the cap): in the spec's shape too.
ERROR_WRITERS["/open311/"] = error_answer


# --- who is asking ------------------------------------------------------------------------


@bp.before_request
def _language():
    """English under /en/ (the app's prefix) or when Accept-Language prefers it."""
    prefixed = request.environ.get(ENVIRON_KEY) is not None
    if not prefixed and request.accept_languages.best_match(["vi", "en"]) == "en":
        request.environ[ENVIRON_KEY] = "en"
        refresh()


@bp.after_request
def _vary(response):
    response.vary.add("Accept-Language")
    return response


@bp.before_request
def _identify():
    """A partner key from the headers (or api_key in a POST body, as the spec says).

    The spec answers 403 to a missing or wrong key where one is needed; where none is
    (discovery, services, one request, tokens), a wrong or revoked key is ignored."""
    credential = bearer()
    if credential is None and request.method == "POST":
        credential = (request.form.get("api_key") or "").strip() or None
    g.api_partner_key = None
    keyed = request.endpoint in KEYED
    key = keys.find_partner_key(credential) if credential is not None else None
    if key is None or not (key.active or keyed):
        # Wrong keys count against the client's limit, like requests without one.
        if keys.over_limit("TIPLINE_API_PUBLIC_LIMIT", "public", client_bucket()):
            abort(429)
        if keyed and credential is not None:
            raise Open311Error(403, _l("Khóa API không đúng."))
        if keyed and request.endpoint == "open311.create_request":
            raise Open311Error(403, _l("Cần khóa API của đối tác."))
        if keyed:
            _refuse_list()
        return
    g.api_partner_key = key
    if not key.active:
        raise Open311Error(403, _l("Khóa API này đã bị thu hồi."))
    if keys.over_limit("TIPLINE_API_KEY_LIMIT", "key", str(key.id)):
        abort(429)
    if request.endpoint == "open311.list_requests" and not key.may_read:
        _refuse_list()


def _refuse_list():
    raise Open311Error(
        403,
        _l(
            "Danh sách tin báo chỉ dành cho khóa API có quyền đọc. "
            "Số liệu tổng hợp công khai xem tại %(url)s.",
            url=url_for("reports_public.figures", _external=True),
        ),
    )


def _partner() -> PartnerKey | None:
    return g.get("api_partner_key")


def _reader() -> PartnerKey | None:
    """The request's partner key if it has the read permission; otherwise nobody."""
    key = _partner()
    return key if key is not None and key.may_read else None


def _in_scope(key: PartnerKey | None, tip: Tip) -> bool:
    """Whether the key may read this tip's details (permissions.unit_may_read)."""
    return key is not None and key.may_read and unit_may_read(key.unit, tip)


# --- how each operation is documented -----------------------------------------------------


def _answers(status: int, schema, description: str, *, many: bool = True):
    """An Open311 answer: its JSON schema, and the same fields in the spec's XML elements."""

    def decorate(view):
        view = bp.alt_response(
            status, schema={}, content_type="text/xml", description=description, success=True
        )(view)
        return bp.response(status, schema(many=many) if schema else None, description=description)(
            view
        )

    return decorate


OPEN311_ERRORS = {
    400: "Invalid parameter; the description says which (Vietnamese first).",
    403: "A key is needed and is missing, wrong or revoked; or it lacks the permission or scope.",
    404: "No such service, request or token; or no such address (no format, or one other "
    "than json and xml).",
    405: "Method not allowed (the Allow header lists the methods).",
    413: "Upload too large.",
    429: "Rate limit of the key (or of the client, without a key).",
}


def _errors(*statuses: int):
    """The errors an operation gives: the spec's list of {code, description}, JSON or XML."""

    def decorate(view):
        # Every Open311 path ends in .json or .xml: any other extension is a 404.
        for status in sorted({*statuses, 404}, reverse=True):
            description = OPEN311_ERRORS[status]
            view = bp.alt_response(
                status, schema={}, content_type="text/xml", description=description
            )(view)
            view = bp.alt_response(
                status, schema=schemas.Open311Error(many=True), description=description
            )(view)
        return view

    return decorate


def _dump(schema, data, **kwargs):
    """What a schema declares of `data`, written in the path's format."""
    return answer(schema.dump(data), **kwargs)


# --- discovery and services ---------------------------------------------------------------


EXTENSIONS = (
    "Extensions: with a key that has the read permission, requests carry commune_code (the "
    "commune's code); a POST answer carries follow_up_code (the resident's follow-up code, "
    "shown once). The attributes commune (required: it routes the tip), village and "
    "idempotency_key; media as a multipart upload; address_id kept as text. description is "
    "required (10-4,000 characters). Without a key the list of requests is refused and one "
    "request shows only its reference, category, open or closed and its days."
)


@bp.route(f"/discovery.<{FORMATS}:fmt>")
@bp.doc(operationId="discovery", security=[])
@_answers(200, schemas.Discovery, "Endpoints.", many=False)
@_errors(429)
def discovery(fmt: str):
    """Discovery."""
    base = url_for(".services", fmt="json", _external=True).rsplit("/", 1)[0] + "/"
    data = {
        "changeset": "2026-12-06T00:00:00+07:00",
        "contact": str(_l("Quản trị hệ thống Tipline của tỉnh.")),
        "key_service": str(_l("Khóa API do quản trị viên cấp cho từng hệ thống đối tác.")),
        "endpoints": [
            {
                "specification": "http://wiki.open311.org/GeoReport_v2",
                "url": base,
                "changeset": "2026-12-06T00:00:00+07:00",
                "type": "production",
                "formats": ["application/json", "text/xml"],
                "notes": EXTENSIONS,
            }
        ],
    }
    return _dump(schemas.Discovery(), data, root="discovery", item="endpoint")


def _service(category: Category) -> dict:
    return {
        "service_code": category.code,
        "service_name": category.label,
        "description": category.label,
        "metadata": True,  # the commune attribute (a Tipline extension) is required
        "type": "realtime",
        "keywords": category.code.replace("_", ","),
        "group": str(_l("An ninh, trật tự")),
    }


@bp.route(f"/services.<{FORMATS}:fmt>")
@bp.doc(operationId="services", security=PARTNER)
@_answers(200, schemas.Service, "Services: the tip categories, in the reader's language.")
@_errors(429)
def services(fmt: str):
    """Services: the tip categories."""
    return _dump(
        schemas.Service(many=True),
        [_service(c) for c in active_categories()],
        root="services",
        item="service",
    )


def _communes() -> list[Unit]:
    root = root_unit()
    return communes_of(root) if root is not None else []


@bp.route(f"/services/<service_code>.<{FORMATS}:fmt>")
@bp.doc(operationId="serviceDefinition", security=PARTNER)
@_answers(200, schemas.ServiceDefinition, "The definition.", many=False)
@_errors(404, 429)
def service_definition(service_code: str, fmt: str):
    """Service definition (the commune, village, idempotency attributes)."""
    category = category_by_code(service_code[:40])
    if category is None:
        raise Open311Error(404, _l("Không có loại vụ việc này."))
    attributes = [
        {
            "variable": True,
            "code": "commune",
            "datatype": "singlevaluelist",
            "required": True,
            "datatype_description": str(_l("Mã xã, phường nơi xảy ra sự việc.")),
            "order": 1,
            "description": str(_l("Xã, phường")),
            "choices": [{"key": c.code, "name": c.name} for c in _communes()],
        },
        {
            "variable": True,
            "code": "village",
            "datatype": "string",
            "required": False,
            "datatype_description": str(_l("Mã thôn, tổ dân phố (nếu biết).")),
            "order": 2,
            "description": str(_l("Thôn, tổ dân phố")),
        },
        {
            "variable": True,
            "code": "idempotency_key",
            "datatype": "string",
            "required": False,
            "datatype_description": str(
                _l("8–64 ký tự A-Z a-z 0-9 _ -: gửi lại cùng khóa không tạo tin mới.")
            ),
            "order": 3,
            "description": str(_l("Khóa chống gửi trùng")),
        },
        {
            # variable false: information for the person filling the form (the spec's use).
            "variable": False,
            "code": "description_required",
            "datatype": "text",
            "required": False,
            "datatype_description": str(
                _l("description là bắt buộc: từ %(min)d đến %(max)d ký tự.", min=10, max=4000)
            ),
            "order": 4,
            "description": str(
                _l(
                    "Mô tả sự việc là bắt buộc (như trên biểu mẫu của người dân), "
                    "từ %(min)d đến %(max)d ký tự.",
                    min=10,
                    max=4000,
                )
            ),
        },
    ]
    return _dump(
        schemas.ServiceDefinition(),
        {"service_code": category.code, "attributes": attributes},
        root="service_definition",
        item="attribute",
    )


# --- service requests ---------------------------------------------------------------------


def open311_status(status: TipStatus) -> str:
    """Open311's open or closed, from the state the tipster sees (services.public_status)."""
    return "open" if status in OPEN_STATUSES else "closed"


def _seen_state():
    """public_status in SQL: a merged tip shows the state of the tip it joined."""
    original = aliased(Tip)
    joined = select(original.status).where(original.id == Tip.duplicate_of_id).scalar_subquery()
    return case(
        (Tip.status == TipStatus.DUPLICATE, func.coalesce(joined, Tip.status)), else_=Tip.status
    )


def _updated_at(tips: list[Tip]) -> dict[int, datetime]:
    if not tips:
        return {}
    rows = db.session.execute(
        select(TipEvent.tip_id, func.max(TipEvent.at))
        .where(TipEvent.tip_id.in_([t.id for t in tips]), TipEvent.public.is_(True))
        .group_by(TipEvent.tip_id)
    )
    return dict(rows.all())


def tipster_record(tip: Tip, updated: datetime | None) -> dict:
    """What a reference alone may learn: no commune, no detailed state, no minute."""
    return {
        "service_request_id": tip.reference,
        "status": open311_status(public_status(tip)),
        "service_name": tip.category.label,
        "service_code": tip.category.code,
        "requested_datetime": day(tip.submitted_at),
        "updated_datetime": day(updated or tip.submitted_at),
    }


def request_record(tip: Tip, updated: datetime | None, key: PartnerKey | None) -> dict:
    if key is None or not key.may_read:
        return tipster_record(tip, updated)
    status = public_status(tip)
    commune = tip.unit.commune or tip.unit
    record = {
        "service_request_id": tip.reference,
        "status": open311_status(status),
        "status_notes": status.label,
        "service_name": tip.category.label,
        "service_code": tip.category.code,
        "agency_responsible": commune.name,
        "requested_datetime": iso(tip.submitted_at),
        "updated_datetime": iso(updated or tip.submitted_at),
        "commune_code": commune.code,
    }
    if _in_scope(key, tip):
        record.update(
            description=tip.description,
            address=tip.place,
            lat=tip.latitude,
            long=tip.longitude,
            expected_datetime=iso(tip.settle_due_at) if status in OPEN_STATUSES else None,
        )
    return record


def _records(tips: list[Tip]) -> list[dict]:
    updated = _updated_at(tips)
    key = _partner()
    return schemas.ServiceRequest(many=True).dump(
        [request_record(t, updated.get(t.id), key) for t in tips]
    )


def parse_moment(name: str, value: str) -> datetime:
    """A W3C date-time (a missing zone is Vietnam's) as naive UTC; Open311Error if unreadable."""
    text = value.strip()
    try:
        if not schemas.MOMENT.match(text):
            raise ValueError(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=LOCAL_TZ)
        return moment.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise Open311Error(
            400,
            _l(
                "%(name)s không hợp lệ: dùng dạng ISO 8601, ví dụ 2026-01-31T08:00:00+07:00.",
                name=name,
            ),
        ) from None


def _list_filters(args) -> tuple[list, int]:
    conditions = []
    now = utcnow()
    ids = (args.get("service_request_id") or "").strip()
    if ids:
        wanted = [normalize_reference(part) for part in ids.split(",")[:MAX_IDS]]
        if not all(wanted):
            raise Open311Error(400, _l("service_request_id không hợp lệ."))
        return [Tip.reference.in_(wanted)], MAX_IDS
    code = (args.get("service_code") or "").strip()
    if code:
        codes = [c.strip()[:40] for c in code.split(",") if c.strip()]
        if not codes:
            raise Open311Error(400, _l("service_code không hợp lệ."))
        conditions.append(Tip.category.has(Category.code.in_(codes)))
    status = (args.get("status") or "").strip().lower()
    if status:
        wanted_status = {s.strip() for s in status.split(",")}
        if not wanted_status <= {"open", "closed"}:
            raise Open311Error(400, _l("status chỉ nhận open hoặc closed."))
        # The state the record shows (open311_status), not the tip's own.
        if wanted_status == {"open"}:
            conditions.append(_seen_state().in_(OPEN_STATUSES))
        elif wanted_status == {"closed"}:
            conditions.append(_seen_state().not_in(OPEN_STATUSES))
    window = timedelta(days=current_app.config["TIPLINE_OPEN311_WINDOW_DAYS"])
    start = parse_moment("start_date", args["start_date"]) if args.get("start_date") else None
    end = parse_moment("end_date", args["end_date"]) if args.get("end_date") else None
    if start is None and end is None:
        start = now - window
    elif start is None:
        start = end - window
    if start is not None and end is not None and start > end:
        raise Open311Error(400, _l("start_date phải trước end_date."))
    conditions.append(Tip.submitted_at >= start)
    if end is not None:
        conditions.append(Tip.submitted_at <= end)
    return conditions, current_app.config["TIPLINE_OPEN311_MAX_RESULTS"]


LINKS_FROM_LIST = {
    "ReadRequest": {
        "operationId": "getRequest",
        "parameters": {
            "reference": "$response.body#/0/service_request_id",
            "fmt": "json",
        },
        "description": "The first request of the list.",
    }
}


@bp.route(f"/requests.<{FORMATS}:fmt>")
@bp.doc(
    operationId="listRequests",
    security=PARTNER_ONLY,
    description="Only with a partner key that has the read permission, and only the tips of "
    "the key's own area (a village key: not those hidden from the village for a conflict "
    "of interest); without such a key the answer is 403, pointing to the public figures "
    "(/so-lieu): a list of tips with commune, category and time would point at the few "
    "people behind a small count. A tipster looks up one request by its reference. "
    "Newest first, at most 1,000, by default the last 90 days.",
)
@bp.arguments(schemas.RequestsQuery, location="query", error_status_code=400)
@_answers(200, schemas.ServiceRequest, "Requests.")
@bp.doc(responses={200: {"links": LINKS_FROM_LIST}})
@_errors(400, 403, 429)
def list_requests(_checked: dict, fmt: str):
    """Service requests (tips), newest first."""
    key = _reader()  # _identify refused the others
    conditions, limit = _list_filters(request.args)
    query = (
        select(Tip)
        # Only the key's own area: a list of the whole deployment, even without details,
        # would give a partner the small (commune, category, minute) cells /so-lieu hides.
        .join(TipUnit, TipUnit.id == Tip.unit_id)
        .where(unit_reading_clause(key.unit), *conditions)
        # Each record names the tip's commune: units and their parents in two queries.
        .options(selectinload(Tip.duplicate_of), selectinload(Tip.unit).selectinload(Unit.parent))
        .order_by(Tip.submitted_at.desc(), Tip.id.desc())
        .limit(limit)
    )
    tips = list(db.session.scalars(query))
    return answer(_records(tips), root="service_requests", item="request")


@bp.route(f"/requests/<reference>.<{FORMATS}:fmt>")
@bp.doc(
    operationId="getRequest",
    security=PARTNER,
    description="Open without a key, for the tipster who holds the reference: then only "
    "reference, category, open or closed, and the days (not the times) it came in and last "
    "changed. A key with the read permission gets the fuller record (see ServiceRequest); "
    "a wrong or revoked key is ignored.",
)
@_answers(200, schemas.ServiceRequest, "The request.")
@_errors(404, 429)
def get_request(reference: str, fmt: str):
    """One service request (its service_request_id, the tip's reference, in the path)."""
    wanted = normalize_reference(reference[:40])
    tip = db.session.scalar(select(Tip).where(Tip.reference == wanted)) if wanted else None
    if tip is None:
        raise Open311Error(404, _l("Không tìm thấy tin báo này."))
    g.api_tip_reference = tip.reference
    return answer(_records([tip]), root="service_requests", item="request")


@bp.route(f"/tokens/<token>.<{FORMATS}:fmt>")
@bp.doc(
    operationId="getToken",
    security=PARTNER,
    description="No key needed (a token is only as secret as the partner made it): the "
    "answer is the request id the token became, nothing else. A token is the idempotency "
    "key a partner sent with its POST; a token several partners used answers each id.",
)
@_answers(200, schemas.RequestToken, "Found.")
@_errors(404, 429)
def get_token(token: str, fmt: str):
    """The request id of a token (a partner's idempotency key)."""
    tips = []
    if IDEMPOTENCY.match(token):
        hashes = [
            hash_submission_key(_submission_key(key_id, token))
            for key_id in db.session.scalars(select(PartnerKey.id))
        ]
        if hashes:
            tips = list(
                db.session.scalars(
                    select(Tip).where(Tip.submission_key.in_(hashes)).order_by(Tip.id)
                )
            )
    if not tips:
        raise Open311Error(404, _l("Không tìm thấy mã này."))
    return _dump(
        schemas.RequestToken(many=True),
        [{"token": token, "service_request_id": tip.reference} for tip in tips],
        root="service_requests",
        item="request",
    )


def _require_key() -> PartnerKey:
    key = _partner()
    if key is None:
        raise Open311Error(403, _l("Cần khóa API của đối tác."))
    return key


def _submission_key(key_id: int, token: str) -> str:
    # Keys of different partners (and of the resident form) never meet.
    return f"open311:{key_id}:{token}"


def _text(form, name: str, limit: int) -> str | None:
    value = clean_text(form.get(name) or "")
    if value and len(value) > limit:
        raise Open311Error(400, _l("%(name)s dài quá %(n)d ký tự.", name=name, n=limit))
    return value or None


def _coordinate(form, name: str, low: float, high: float) -> float | None:
    value = (form.get(name) or "").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not low <= number <= high:  # also refuses nan and inf
        raise Open311Error(400, _l("%(name)s không hợp lệ.", name=name))
    return number


def _place(form, key: PartnerKey) -> Unit:
    """The village or commune of a new tip, inside the key's scope."""
    scope = key.unit
    commune_code = _text(form, "attribute[commune]", 40)
    village_code = _text(form, "attribute[village]", 40)
    if commune_code:
        commune = commune_by_code(commune_code)
        if commune is None:
            raise Open311Error(400, _l("Không có xã, phường với mã này."))
    elif scope.level in (UnitLevel.COMMUNE, UnitLevel.VILLAGE):
        commune = scope.commune
    else:
        raise Open311Error(400, _l("Hãy ghi xã, phường (attribute[commune])."))
    unit = commune
    if village_code:
        village = unit_by_code(village_code)
        if village is None or village.parent_id != commune.id:
            raise Open311Error(400, _l("Thôn này không thuộc xã, phường đã chọn."))
        unit = village
    elif scope.level == UnitLevel.VILLAGE and scope.commune.id == commune.id:
        unit = scope
    if not scope.contains(unit):
        raise Open311Error(403, _l("Địa bàn này nằm ngoài phạm vi của khóa API."))
    return unit


def _identity(form, key: PartnerKey) -> tuple[IdentityTier, str | None, str | None]:
    names = [_text(form, n, 60) for n in ("first_name", "last_name")]
    phone = normalize_phone(_text(form, "phone", 30))
    email = _text(form, "email", 254)
    if not any(names) and not phone and not email:
        return IdentityTier.ANONYMOUS, None, None
    if not key.may_name:
        raise Open311Error(
            403, _l("Khóa API này chỉ được gửi tin ẩn danh: hãy bỏ họ tên, điện thoại, email.")
        )
    name = " ".join(n for n in names if n)
    if not name or not phone:
        raise Open311Error(400, _l("Tin có danh tính cần cả họ tên và số điện thoại."))
    if not is_phone(phone):
        raise Open311Error(400, _l("Số điện thoại không đúng (ví dụ: 0912 345 678)."))
    # The email is not kept: a tip stores only name and phone (DOMAIN.md, identity tiers).
    return IdentityTier.CONFIDENTIAL, name, phone


def _photos(form) -> list:
    config = current_app.config
    blobs = []
    for upload in request.files.getlist("media"):
        if upload and upload.filename is not None:
            blobs.append(upload.read(config["TIPLINE_MAX_PHOTO_BYTES"] + 1))
    url = _text(form, "media_url", 2000)
    if url:
        try:
            blobs.append(fetch_media(url))
        except MediaError as error:
            raise Open311Error(400, error.message) from None
    if len(blobs) > MAX_PHOTOS:
        raise Open311Error(400, _l("Mỗi tin báo có tối đa %(n)d ảnh.", n=MAX_PHOTOS))
    photos = []
    for data in blobs:
        try:
            processed = process_photo(
                data,
                max_bytes=config["TIPLINE_MAX_PHOTO_BYTES"],
                max_pixels=config["TIPLINE_MAX_PHOTO_PIXELS"],
            )
        except PhotoError as error:
            raise Open311Error(400, error.message) from None  # the spec's code for bad input
        photos.append(processed)
    return [store_photo(p) for p in photos]


LINKS_FROM_POST = {
    "ReadRequest": {
        "operationId": "getRequest",
        "parameters": {
            "reference": "$response.body#/0/service_request_id",
            "fmt": "json",
        },
        "description": "The request just recorded.",
    }
}


@bp.route(f"/requests.<{FORMATS}:fmt>", methods=["POST"])
@bp.doc(
    operationId="createRequest",
    security=PARTNER_ONLY,
    description="Anonymous unless the key allows named tips. A location is required (lat and "
    "long, address_string or address_id); so is description (10-4,000 characters), as on "
    "the resident form. The answer has the service_request_id at once (never a token) and "
    "the follow_up_code extension.",
    parameters=[
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "schema": {"type": "string", "pattern": schemas.IDEMPOTENCY_PATTERN},
        }
    ],
)
@bp.arguments(
    schemas.NewRequest, location="form", content_type="multipart/form-data", error_status_code=400
)
@bp.doc(
    requestBody={
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"$ref": "#/components/schemas/NewRequest"}
            }
        }
    }
)
@_answers(201, schemas.PostedRequest, "Recorded.")
@_answers(
    200, schemas.PostedRequest, "Already recorded with this idempotency key: the same answer."
)
@bp.doc(responses={201: {"links": LINKS_FROM_POST}})
@_errors(400, 403, 404, 413, 429)
def create_request(data: dict, fmt: str):
    """Send a tip."""
    key = _require_key()
    if not key.may_submit:
        raise Open311Error(403, _l("Khóa API này không được gửi tin báo."))
    form = request.form
    category = category_by_code(clean_text(data["service_code"]) or "")
    if category is None:
        raise Open311Error(404, _l("service_code không hợp lệ: xem danh sách services."))
    description = _text(form, "description", 4000)
    if description is None or len(description) < 10:
        raise Open311Error(400, schemas.NewRequest.MESSAGES["description"])
    latitude, longitude = data.get("lat"), data.get("long")
    place = _text(form, "address_string", 300) or _text(form, "address_id", 300)
    unit = _place(form, key)
    tier, name, phone = _identity(form, key)
    token = (request.headers.get("Idempotency-Key") or data.get("idempotency_key") or "").strip()
    if token and not IDEMPOTENCY.match(token):
        raise Open311Error(400, schemas.NewRequest.MESSAGES["attribute[idempotency_key]"])
    if not token:
        token = new_submission_key()
    submission_key = _submission_key(key.id, token)
    existing = db.session.scalar(
        select(Tip.id).where(Tip.submission_key == hash_submission_key(submission_key))
    )
    photos = []
    if not existing:
        # Fetching and cleaning photos takes seconds: no transaction (and on SQLite no
        # write lock) is held meanwhile; the objects above reload on their next use.
        db.session.rollback()
        photos = _photos(form)
    draft = TipDraft(
        submission_key=submission_key,
        category=category,
        unit=unit,
        description=description,
        place=place,
        latitude=latitude,
        longitude=longitude,
        identity_tier=tier,
        name=name,
        phone=phone,
        photos=photos,
    )
    receipt = submit_tip(draft, alone=True)
    db.session.commit()
    g.api_tip_reference = receipt.tip.reference
    body = [
        {
            # Created at once: the id, never a token (the spec gives one or the other).
            "service_request_id": receipt.tip.reference,
            "service_notice": str(
                _l(
                    "Đã nhận tin. Người báo tin tra cứu bằng mã số tin báo và mã tra cứu. "
                    "Việc khẩn cấp: gọi 113, 114, 115."
                )
            ),
            "account_id": None,
            "follow_up_code": receipt.formatted_code,
        }
    ]
    return _dump(
        schemas.PostedRequest(many=True),
        body,
        root="service_requests",
        item="request",
        status=201 if receipt.created else 200,
    )
