"""The OpenAPI 3.1 document of Open311 (/open311/v2) and the staff API (/api/v1).

Hand-written, and kept true by tests: every API route of the URL map is documented
here and every documented path exists (tests/test_openapi.py); schemathesis checks that
the answers match (tests/test_openapi_schemathesis.py). One module on purpose (about 680
lines): it is one document, read top to bottom like the specification it publishes.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from tipline.api.common import header_only
from tipline.tips.inbox import FLAGS, MAX_PAGE, Sort
from tipline.tips.models import Outcome, Priority, RejectReason, TipStatus
from tipline.tips.workflow import Action

bp = header_only(Blueprint("api_docs", __name__))

OPEN311 = "/open311/v2"
V1 = "/api/v1"

_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}
_NTIME = {"type": ["string", "null"], "format": "date-time"}
_TIME = {"type": "string", "format": "date-time"}


def _obj(required: list[str], /, **properties) -> dict:
    return {"type": "object", "required": required, "properties": properties}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _array(item: dict) -> dict:
    return {"type": "array", "items": item}


# XML answers carry the same fields in the spec's element shapes (<services><service>…,
# <service_requests><request>…, <errors><error>…); their schema is not checked here.
_XML = {"application/xml": {"schema": {}}}


def _open311_answer(description: str, schema: dict) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}, **_XML},
    }


# An address that matches no Open311 route (e.g. an unknown extension) gets the app's
# generic JSON error ({"error", "status"}) instead of the spec's list.
_OPEN311_ERROR = {"anyOf": [_ref("Open311Errors"), _ref("Error")]}
_OPEN311_ERRORS = {
    status: _open311_answer(text, _OPEN311_ERROR)
    for status, text in {
        "400": "Invalid parameter (the message says which, Vietnamese first).",
        "401": "A partner key is needed, or the key is wrong.",
        "403": "Revoked key, or a permission or scope the key lacks.",
        "404": "No such service, request or token.",
        "405": "Method not allowed.",
        "413": "Upload too large.",
        "422": "A photo that cannot be used.",
        "429": "Rate limit of the key (or of the client, without a key).",
    }.items()
}


def _staff_errors(*statuses: str) -> dict:
    texts = {
        "400": "Invalid input; `error` says what (Vietnamese first).",
        "401": "No token, or a token that is wrong, expired, revoked or ended by a password "
        "change or deactivation. Session cookies never authenticate this API.",
        "403": "The workflow does not allow this account to do this.",
        "404": "No such tip in the account's scope (the same answer as for a missing id).",
        "405": "Method not allowed.",
        "409": "This tip has changed since `version` was read, or the move is not possible "
        "in its state.",
        "415": "The body must be JSON.",
        "429": "Too many requests for this token (or too many sign-ins from this client).",
    }
    return {
        s: {
            "description": texts[s],
            "content": {"application/json": {"schema": _ref("Error")}},
        }
        for s in statuses
    }


_FORMAT = {
    "name": "format",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "enum": ["json", "xml"]},
}
_PARTNER = [{}, {"partnerKey": []}, {"partnerBearer": []}]
_PARTNER_ONLY = [{"partnerKey": []}, {"partnerBearer": []}]
_STAFF = [{"staffToken": []}]


def _query(name: str, description: str, schema: dict | None = None) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or _STR,
    }


SCHEMAS = {
    "Error": _obj(["error", "status"], error=_STR, status={"type": "integer"}),
    "Open311Errors": _array(
        _obj(["code", "description"], code={"type": "integer"}, description=_STR)
    ),
    "Discovery": _obj(
        ["changeset", "contact", "endpoints"],
        changeset=_STR,
        contact=_STR,
        key_service=_STR,
        endpoints=_array(
            _obj(
                ["specification", "url", "type", "formats"],
                specification=_STR,
                url=_STR,
                changeset=_STR,
                type=_STR,
                formats=_array(_STR),
            )
        ),
    ),
    "Service": _obj(
        ["service_code", "service_name", "metadata", "type"],
        service_code=_STR,
        service_name=_STR,
        description=_STR,
        metadata={"type": "boolean"},
        type={"type": "string", "enum": ["realtime", "batch", "blackbox"]},
        keywords=_STR,
        group=_STR,
    ),
    "ServiceDefinition": _obj(
        ["service_code", "attributes"],
        service_code=_STR,
        attributes=_array(
            _obj(
                ["variable", "code", "datatype", "required", "order", "description"],
                variable={"type": "boolean"},
                code=_STR,
                datatype=_STR,
                required={"type": "boolean"},
                datatype_description=_STR,
                order={"type": "integer"},
                description=_STR,
                values=_array(_obj(["key", "name"], key=_STR, name=_STR)),
            )
        ),
    ),
    "ServiceRequest": {
        **_obj(
            [
                "service_request_id",
                "status",
                "service_name",
                "service_code",
                "requested_datetime",
                "updated_datetime",
            ],
            service_request_id={"type": "string", "description": "The tip's reference."},
            status={"type": "string", "enum": ["open", "closed"]},
            status_notes={
                "type": "string",
                "description": "Only for a key with the read permission: the detailed "
                "state, in the reader's language (Vietnamese by default): Mới tiếp nhận, "
                "Đang xác minh, Đã giải quyết...",
            },
            service_name=_STR,
            service_code=_STR,
            agency_responsible={
                "type": "string",
                "description": "Only for a key with the read permission: the commune.",
            },
            requested_datetime={
                **_TIME,
                "description": "With a key with the read permission, the minute the tip "
                "came in; without, only its day (midnight in Asia/Ho_Chi_Minh, +07:00).",
            },
            updated_datetime={
                **_TIME,
                "description": "The last change the tipster can see; without a key with "
                "the read permission, only its day (midnight, +07:00).",
            },
            commune_code={
                "type": "string",
                "description": "Extension, only for a key with the read permission: the "
                "commune's code.",
            },
            description={
                "type": "string",
                "description": "Only for a key with the read permission, for tips in its scope.",
            },
            address=_NSTR,
            lat={"type": ["number", "null"]},
            long={"type": ["number", "null"]},
            expected_datetime=_NTIME,
        ),
        "description": "Without a partner key with the read permission (only for one "
        "request asked for by its reference): reference, category, open or closed, and "
        "the days it came in and last changed. With such a key also the commune, the "
        "detailed state and the minutes; and for tips in the key's scope the description, "
        "address and coordinates. Never the tipster's identity or photos.",
    },
    "PostedRequest": _obj(
        ["service_request_id", "token", "follow_up_code"],
        service_request_id={"type": "string", "description": "The tip's reference."},
        token={
            "type": "string",
            "description": "The idempotency key (given or made): GET /tokens/{token} "
            "finds the request again; resending with it records nothing new.",
        },
        service_notice=_STR,
        account_id={"type": "null"},
        follow_up_code={
            "type": "string",
            "description": "Extension: the resident's follow-up code. Hand it to the "
            "resident with the reference: together they open the tip's status page. "
            "Tipline keeps only its hash and cannot show it again.",
        },
    ),
    "RequestToken": _obj(["token", "service_request_id"], token=_STR, service_request_id=_STR),
    "NewRequest": {
        "type": "object",
        "required": ["service_code", "description"],
        "properties": {
            "api_key": {"type": "string", "description": "Or the X-Api-Key header."},
            "service_code": _STR,
            "description": {"type": "string", "minLength": 10, "maxLength": 4000},
            "lat": {"type": "number", "minimum": -90, "maximum": 90},
            "long": {"type": "number", "minimum": -180, "maximum": 180},
            "address_string": {"type": "string", "maxLength": 300},
            "attribute[commune]": {
                "type": "string",
                "description": "Commune code; derived from the key when its scope is one "
                "commune or village.",
            },
            "attribute[village]": _STR,
            "attribute[idempotency_key]": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$"},
            "first_name": {
                "type": "string",
                "description": "Only with a key allowed to "
                "send named tips (the tip is then confidential).",
            },
            "last_name": _STR,
            "phone": _STR,
            "email": {"type": "string", "description": "Accepted, never stored."},
            "media_url": {
                "type": "string",
                "description": "An http(s) image on a public address, fetched once "
                "within size and time limits; no redirects.",
            },
            "media": {"type": "string", "contentMediaType": "application/octet-stream"},
        },
    },
    "NewToken": _obj(
        ["username", "password"],
        username=_STR,
        password=_STR,
        code={
            "type": "string",
            "description": "TOTP or recovery code, when the account has two-factor sign-in.",
        },
    ),
    "Token": _obj(
        ["token", "token_type", "expires_at"],
        token=_STR,
        token_type={"type": "string", "enum": ["Bearer"]},
        expires_at=_TIME,
    ),
    "Named": _obj(["code", "name"], code=_STR, name=_STR),
    "TipSummary": _obj(
        [
            "public_id",
            "reference",
            "status",
            "status_label",
            "open",
            "category",
            "unit",
            "commune",
            "priority",
            "handler",
            "submitted_at",
            "version",
        ],
        public_id=_STR,
        reference=_STR,
        status={"type": "string", "enum": [s.value for s in TipStatus]},
        status_label=_STR,
        open={"type": "boolean"},
        category=_ref("Named"),
        unit=_ref("Named"),
        commune=_ref("Named"),
        priority={"type": "string", "enum": [p.value for p in Priority]},
        handler=_STR,
        submitted_at=_TIME,
        response_due_at=_NTIME,
        settle_due_at=_NTIME,
        overdue={"type": "boolean"},
        version={"type": "integer", "description": "Send it back with an action."},
    ),
    "TipList": _obj(
        ["tips", "page", "has_next"],
        tips=_array(_ref("TipSummary")),
        page={"type": "integer"},
        has_next={"type": "boolean"},
    ),
    "TipDetail": {
        "allOf": [
            _ref("TipSummary"),
            _obj(
                ["description", "identity_tier", "allowed_actions", "events"],
                description=_STR,
                place=_NSTR,
                latitude={"type": ["number", "null"]},
                longitude={"type": ["number", "null"]},
                occurred_on={"type": ["string", "null"], "format": "date"},
                occurred_time=_NSTR,
                identity_tier={
                    "type": "string",
                    "description": "The tier only: the identity itself is never in the API.",
                },
                outcome=_NSTR,
                reject_reason=_NSTR,
                duplicate_of=_NSTR,
                public_status=_STR,
                assignee=_NSTR,
                photo_count={"type": "integer"},
                allowed_actions=_array(_STR),
                allowed_outcomes=_array(_STR),
                events=_array(
                    _obj(
                        ["kind", "at"],
                        kind=_STR,
                        label=_STR,
                        at=_TIME,
                        from_status=_NSTR,
                        to_status=_NSTR,
                        actor=_NSTR,
                        note=_NSTR,
                        public={"type": "boolean"},
                    )
                ),
            ),
        ]
    },
    "TipAnswer": _obj(
        ["tip"],
        tip={
            "anyOf": [_ref("TipDetail"), {"type": "null"}],
            "description": "null when the tip left the account's scope (e.g. handed to "
            "the commune police for a conflict of interest).",
        },
    ),
    "ActionRequest": {
        "type": "object",
        "required": ["action", "version"],
        "properties": {
            "action": {"type": "string", "enum": [a.value for a in Action] + ["note"]},
            "version": {"type": "integer", "minimum": 1},
            "note": {"type": "string", "maxLength": 4000},
            "note_to_tipster": {"type": "boolean"},
            "outcome": {"type": "string", "enum": [o.value for o in Outcome]},
            "reason": {"type": "string", "enum": [r.value for r in RejectReason]},
            "duplicate_of": {"type": "string", "description": "Reference of the original tip."},
            "to_unit": {"type": "string", "description": "Code of a village or commune."},
            "conflict_of_interest": {"type": "boolean"},
        },
    },
}


def _open311_paths() -> dict:
    requests_filters = [
        _query(
            "service_request_id", "References, comma-separated (other filters then do not apply)."
        ),
        _query("service_code", "Category codes, comma-separated."),
        _query(
            "status",
            "open, closed, or both comma-separated.",
            {"type": "string", "enum": ["open", "closed", "open,closed"]},
        ),
        _query(
            "start_date",
            "W3C date-time; default end_date minus 90 days.",
            {"type": "string", "format": "date-time"},
        ),
        _query(
            "end_date", "W3C date-time; default now.", {"type": "string", "format": "date-time"}
        ),
        _query("jurisdiction_id", "Accepted and ignored (one jurisdiction per deployment)."),
    ]
    return {
        OPEN311 + "/discovery.{format}": {
            "get": {
                "tags": ["Open311"],
                "summary": "Discovery",
                "parameters": [_FORMAT],
                "responses": {
                    "200": _open311_answer("Endpoints.", _ref("Discovery")),
                    "429": _OPEN311_ERRORS["429"],
                },
            }
        },
        OPEN311 + "/services.{format}": {
            "get": {
                "tags": ["Open311"],
                "summary": "Services: the tip categories",
                "parameters": [_FORMAT],
                "security": _PARTNER,
                "responses": {
                    "200": _open311_answer("Services.", _array(_ref("Service"))),
                    **{s: _OPEN311_ERRORS[s] for s in ("401", "403", "429")},
                },
            }
        },
        OPEN311 + "/services/{service_code}.{format}": {
            "get": {
                "tags": ["Open311"],
                "summary": "Service definition (the commune, village, idempotency attributes)",
                "parameters": [
                    {"name": "service_code", "in": "path", "required": True, "schema": _STR},
                    _FORMAT,
                ],
                "security": _PARTNER,
                "responses": {
                    "200": _open311_answer("Definition.", _ref("ServiceDefinition")),
                    **{s: _OPEN311_ERRORS[s] for s in ("401", "403", "404", "429")},
                },
            }
        },
        OPEN311 + "/requests.{format}": {
            "get": {
                "tags": ["Open311"],
                "summary": "Service requests (tips), newest first, at most 1000",
                "description": "Only with a partner key that has the read permission, and "
                "only the tips of the key's own area (a village key: not those hidden from "
                "the village for a conflict of interest); without such a key the answer is "
                "403. A list of tips with commune, category and "
                "time would point at the few people behind a small count, which the public "
                "figures (/so-lieu) withhold. A tipster looks up one request by its "
                "reference (GET /requests/{service_request_id}).",
                "parameters": [_FORMAT, *requests_filters],
                "security": _PARTNER_ONLY,
                "responses": {
                    "200": _open311_answer("Requests.", _array(_ref("ServiceRequest"))),
                    "403": _open311_answer(
                        "No partner key with the read permission (or a revoked key): "
                        '[{"code": 403, "description": "..."}], Vietnamese first, pointing '
                        "to the public figures at /so-lieu.",
                        _OPEN311_ERROR,
                    ),
                    **{s: _OPEN311_ERRORS[s] for s in ("400", "401", "429")},
                },
            },
            "post": {
                "tags": ["Open311"],
                "summary": "Send a tip (anonymous unless the key allows named tips)",
                "parameters": [
                    _FORMAT,
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$"},
                    },
                ],
                "security": _PARTNER_ONLY,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {"schema": _ref("NewRequest")},
                        "multipart/form-data": {"schema": _ref("NewRequest")},
                    },
                },
                "responses": {
                    "201": _open311_answer("Recorded.", _array(_ref("PostedRequest"))),
                    "200": _open311_answer(
                        "Already recorded with this idempotency key: the same answer.",
                        _array(_ref("PostedRequest")),
                    ),
                    **{
                        s: _OPEN311_ERRORS[s]
                        for s in ("400", "401", "403", "409", "413", "422", "429")
                        if s in _OPEN311_ERRORS
                    },
                    "409": _open311_answer("Conflict.", _OPEN311_ERROR),
                },
            },
        },
        OPEN311 + "/requests/{service_request_id}.{format}": {
            "get": {
                "tags": ["Open311"],
                "summary": "One service request",
                "description": "Open without a key, for the tipster who holds the "
                "reference: then only reference, category, open or closed, and the days "
                "(not the times) it came in and last changed. A key with the read "
                "permission gets the fuller record (see ServiceRequest).",
                "parameters": [
                    {"name": "service_request_id", "in": "path", "required": True, "schema": _STR},
                    _FORMAT,
                ],
                "security": _PARTNER,
                "responses": {
                    "200": _open311_answer("The request.", _array(_ref("ServiceRequest"))),
                    **{s: _OPEN311_ERRORS[s] for s in ("401", "403", "404", "429")},
                },
            }
        },
        OPEN311 + "/tokens/{token}.{format}": {
            "get": {
                "tags": ["Open311"],
                "summary": "The request id of a token (the partner's idempotency key)",
                "parameters": [
                    {"name": "token", "in": "path", "required": True, "schema": _STR},
                    _FORMAT,
                ],
                "security": _PARTNER_ONLY,
                "responses": {
                    "200": _open311_answer("Found.", _array(_ref("RequestToken"))),
                    **{s: _OPEN311_ERRORS[s] for s in ("401", "403", "404", "429")},
                },
            }
        },
    }


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_PUBLIC_ID = {"name": "public_id", "in": "path", "required": True, "schema": _STR}


def _staff_paths() -> dict:
    return {
        V1 + "/tokens": {
            "post": {
                "tags": ["Staff"],
                "summary": "Sign in: a bearer token for a staff app",
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("NewToken")}},
                },
                "responses": {
                    "201": _json(_ref("Token"), "The token (shown once)."),
                    **_staff_errors("400", "401", "403", "429"),
                },
            },
            "delete": {
                "tags": ["Staff"],
                "summary": "Revoke the token of this request",
                "security": _STAFF,
                "responses": {"204": {"description": "Revoked."}, **_staff_errors("401", "429")},
            },
        },
        V1 + "/tips": {
            "get": {
                "tags": ["Staff"],
                "summary": "The inbox: tips in the account's scope",
                "security": _STAFF,
                "parameters": [
                    _query(
                        "status",
                        "A state.",
                        {"type": "string", "enum": [s.value for s in TipStatus]},
                    ),
                    _query(
                        "priority",
                        "A priority.",
                        {"type": "string", "enum": [p.value for p in Priority]},
                    ),
                    _query("category", "A category code."),
                    _query("unit", "A unit code (its subtree)."),
                    _query("q", "Words of the description or place, or a reference."),
                    _query(
                        "sort",
                        "Order.",
                        {"type": "string", "enum": list(Sort.ALL)},
                    ),
                    # The inbox's yes/no filters (InboxFilter.from_args reads the same names).
                    *(
                        _query(flag, "1 to narrow.", {"type": "string", "enum": ["0", "1"]})
                        for flag in FLAGS
                    ),
                    _query(
                        "page", "From 1.", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}
                    ),
                ],
                "responses": {"200": _json(_ref("TipList")), **_staff_errors("400", "401", "429")},
            }
        },
        V1 + "/tips/{public_id}": {
            "get": {
                "tags": ["Staff"],
                "summary": "One tip (marks it read, like the web page)",
                "security": _STAFF,
                "parameters": [_PUBLIC_ID],
                "responses": {
                    "200": _json(_ref("TipAnswer")),
                    **_staff_errors("401", "404", "429"),
                },
            }
        },
        V1 + "/tips/{public_id}/actions": {
            "post": {
                "tags": ["Staff"],
                "summary": "A workflow move (or a note) with the version last read",
                "security": _STAFF,
                "parameters": [_PUBLIC_ID],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("ActionRequest")}},
                },
                "responses": {
                    "200": _json(_ref("TipAnswer")),
                    **_staff_errors("400", "401", "403", "404", "409", "429"),
                },
            }
        },
        "/api/openapi.json": {
            "get": {
                "tags": ["Docs"],
                "summary": "This document",
                "security": [],
                "responses": {"200": _json({"type": "object"})},
            }
        },
    }


def document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Tipline API",
            "version": "1.0.0",
            "description": (
                "Open311 GeoReport v2 for partner systems (smart-city apps, hotlines) and a "
                "JSON API for staff apps. Messages are Vietnamese first. Open311 answers "
                "JSON or XML by the path's extension; staff answers are JSON. Credentials "
                "come only from headers (and api_key in an Open311 POST body), never from "
                "cookies or the query string."
            ),
        },
        "tags": [{"name": "Open311"}, {"name": "Staff"}, {"name": "Docs"}],
        "security": [],
        "paths": {**_open311_paths(), **_staff_paths()},
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "partnerKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
                "partnerBearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A partner key (tlp_…).",
                },
                "staffToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A staff token (tls_…) from POST /api/v1/tokens.",
                },
            },
        },
    }


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(document())
