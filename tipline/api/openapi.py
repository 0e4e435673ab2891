"""The OpenAPI 3.1 document of Open311 (/open311/v2) and the staff API (/api/v1), generated.

flask-smorest (marshmallow + apispec) builds it from what each view declares: the
schemas of api/schemas.py that parse its input and write its answer (`arguments`,
`response`), the other answers it may give (`alt_response`) and a few notes (`doc`).
Nothing here describes an operation by hand; this module only sets up the generator,
the credentials and the links between operations, and serves the result at
/api/openapi.json.

Why flask-smorest: it is the Flask framework of the marshmallow project (with webargs
and apispec, all three maintained together), it plugs into ordinary Flask blueprints
(no application subclass, as flask-openapi3 needs), apispec writes OpenAPI 3.1
(nullable fields as `type: [..., "null"]`), and `doc`/`alt_response` let Open311's
XML answers, the spec's error lists and the links be declared next to each view.
"""

from __future__ import annotations

from copy import deepcopy

from flask import Flask, current_app, jsonify
from flask_smorest import Api, Blueprint

from tipline.api.common import header_only
from tipline.api.schemas import Error
from tipline.tips.services import active_categories

DESCRIPTION = (
    "Open311 GeoReport v2 for partner systems (smart-city apps, hotlines) and a JSON API "
    "for staff apps. Messages are Vietnamese first (English under /en/ or with "
    "Accept-Language: en on Open311). Open311 answers JSON or XML by the path's extension "
    "(text/xml, application/json; charset=utf-8); its errors are the specification's "
    "list of {code, description}, also for an unknown path or extension (404) and a wrong "
    "method (405, with Allow). Staff answers are JSON; their errors are {error, status}. "
    "Credentials come only from headers (and api_key in an Open311 POST body), never from "
    "cookies or the query string. In query strings an empty value means the parameter is "
    "absent. Open311 extensions: `commune_code` in requests read with a reading key, "
    "`follow_up_code` in POST answers, the `commune`, `village` and `idempotency_key` "
    "attributes, `media` uploads and `address_id` kept as text."
)

SECURITY_SCHEMES = {
    "partnerKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
    "partnerBearer": {"type": "http", "scheme": "bearer", "description": "A partner key (tlp_…)."},
    "staffToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "A staff token (tls_…) from POST /api/v1/tokens.",
    },
}


class TiplineApi(Api):
    """flask-smorest's Api with the staff API's error shape as every error's schema."""

    ERROR_SCHEMA = Error
    # Each operation lists the errors it gives; no catch-all "default" answer.
    DEFAULT_ERROR_RESPONSE_NAME = None


SPEC = {
    "title": "Tipline API",
    "version": "1.0.0",
    "openapi_version": "3.1.0",
    "info": {"description": DESCRIPTION},
    "security": [],
}

bp = header_only(Blueprint("api_docs", __name__, description="This document."))


@bp.route("/openapi.json")
@bp.doc(security=[], operationId="openapi")
@bp.response(200, description="This document (OpenAPI 3.1).")
def openapi_json():
    return jsonify(document())


def register(app: Flask, blueprints: list[tuple[Blueprint, str]]) -> None:
    """Register the API blueprints through the generator, which documents their views."""
    # Flask-smorest puts its own HTTPException handler on the app; Tipline's (registered
    # later by the factory) replaces it, and each API blueprint has its own.
    api = TiplineApi(spec_kwargs=SPEC)  # one per app: each has its own document
    api.init_app(app)
    for name, scheme in SECURITY_SCHEMES.items():
        api.spec.components.security_scheme(name, scheme)
    for blueprint, prefix in blueprints:
        api.register_blueprint(blueprint, url_prefix=prefix)
    spec = api.spec.to_dict()
    # flask-smorest registers its pagination schema up front; no operation here pages that way.
    spec["components"]["schemas"].pop("PaginationMetadata", None)
    app.extensions["tipline-openapi"] = spec


def document() -> dict:
    """The generated document, with what only the database knows: the category codes."""
    spec = deepcopy(current_app.extensions["tipline-openapi"])
    codes = [c.code for c in active_categories()]
    for parameter in spec["paths"]["/api/v1/tips"]["get"]["parameters"]:
        if parameter["name"] == "category":
            parameter["schema"]["enum"] = ["", *codes]
    return spec
