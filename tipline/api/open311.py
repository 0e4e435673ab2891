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

A held tip (possible spam during a flood, tips/held.py) is in no answer until a staff
member releases it: not listed, and its reference answers 404 like one that does not
exist. (A partner's own tips are never held: only the web form asks for the puzzle.)
"""

from __future__ import annotations

import re

from flask import abort, g, request, url_for
from flask_babel import lazy_gettext as _l
from flask_babel import refresh
from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from tipline.api import keys, schemas
from tipline.api import open311_intake as intake
from tipline.api.common import bearer, header_only
from tipline.api.formats import answer, error_answer
from tipline.api.models import PartnerKey
from tipline.api.open311_records import Open311Error, list_filters, records
from tipline.core.errors import TiplineError
from tipline.core.http import ERROR_WRITERS, MESSAGES
from tipline.core.i18n import ENVIRON_KEY
from tipline.core.privacy import client_bucket
from tipline.core.text import clean_text
from tipline.extensions import db
from tipline.places.models import Unit
from tipline.places.services import communes_of, root_unit
from tipline.tips.models import Category, Tip
from tipline.tips.queries import TipUnit, unit_reading_clause
from tipline.tips.services import (
    TipDraft,
    active_categories,
    category_by_code,
    hash_submission_key,
    new_submission_key,
    normalize_reference,
    submit_tip,
)

bp = header_only(Blueprint("open311", __name__, description="Open311 GeoReport v2."))

FORMATS = "any(json, xml)"
IDEMPOTENCY = re.compile(schemas.IDEMPOTENCY_PATTERN)
# The operations that need a partner key; the others ignore a wrong or revoked one.
KEYED = {"open311.list_requests", "open311.create_request"}
PARTNER = [{}, {"partnerKey": []}, {"partnerBearer": []}]
PARTNER_ONLY = [{"partnerKey": []}, {"partnerBearer": []}]


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
    conditions, limit = list_filters(request.args)
    query = (
        select(Tip)
        # Only the key's own area: a list of the whole deployment, even without details,
        # would give a partner the small (commune, category, minute) cells /so-lieu hides.
        .join(TipUnit, TipUnit.id == Tip.unit_id)
        .where(unit_reading_clause(key.unit), Tip.held.is_(False), *conditions)
        # Each record names the tip's commune: units and their parents in two queries.
        .options(selectinload(Tip.duplicate_of), selectinload(Tip.unit).selectinload(Unit.parent))
        .order_by(Tip.submitted_at.desc(), Tip.id.desc())
        .limit(limit)
    )
    tips = list(db.session.scalars(query))
    return answer(records(tips, _partner()), root="service_requests", item="request")


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
    if tip is None or tip.held:
        raise Open311Error(404, _l("Không tìm thấy tin báo này."))
    g.api_tip_reference = tip.reference
    return answer(records([tip], _partner()), root="service_requests", item="request")


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
            hash_submission_key(intake.submission_key(key_id, token))
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
    description = intake.text(form, "description", 4000)
    if description is None or len(description) < 10:
        raise Open311Error(400, schemas.NewRequest.MESSAGES["description"])
    latitude, longitude = data.get("lat"), data.get("long")
    place = intake.text(form, "address_string", 300) or intake.text(form, "address_id", 300)
    unit = intake.place(form, key)
    tier, name, phone = intake.identity(form, key)
    token = (request.headers.get("Idempotency-Key") or data.get("idempotency_key") or "").strip()
    if token and not IDEMPOTENCY.match(token):
        raise Open311Error(400, schemas.NewRequest.MESSAGES["attribute[idempotency_key]"])
    if not token:
        token = new_submission_key()
    submission_key = intake.submission_key(key.id, token)
    existing = db.session.scalar(
        select(Tip.id).where(Tip.submission_key == hash_submission_key(submission_key))
    )
    photos = []
    if not existing:
        # Fetching and cleaning photos takes seconds: no transaction (and on SQLite no
        # write lock) is held meanwhile; the objects above reload on their next use.
        db.session.rollback()
        photos = intake.photos(form, request.files.getlist("media"))
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
