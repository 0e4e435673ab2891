"""The JSON API of staff apps: a bearer token, then the inbox, a tip, and its actions.

Same scope query (tips.queries / tips.inbox) and same workflow as the web pages. The
session cookie never authenticates here: only `Authorization: Bearer tls_…`. A
tipster's identity is never in these answers (the web's logged identity view is the
one way to it).
"""

from __future__ import annotations

from functools import wraps

from flask import Response, current_app, g, request
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint
from werkzeug.exceptions import HTTPException

from tipline.accounts import sessions, twofactor
from tipline.accounts.models import User
from tipline.accounts.services import authenticate
from tipline.api import keys, schemas
from tipline.api.common import bearer, header_only
from tipline.api.formats import iso
from tipline.core.errors import TiplineError
from tipline.core.http import error_response
from tipline.core.privacy import client_bucket
from tipline.core.text import clean_text
from tipline.extensions import db
from tipline.places.models import UnitLevel
from tipline.places.services import unit_by_code
from tipline.tips import workflow
from tipline.tips.inbox import InboxFilter, inbox_page, mark_read
from tipline.tips.models import Outcome, RejectReason, Tip
from tipline.tips.queries import tip_by_reference_for, tip_for
from tipline.tips.services import normalize_reference

bp = header_only(Blueprint("api_v1", __name__, description="The staff apps' JSON API."))


class ApiError(TiplineError):
    def __init__(self, status: int, message) -> None:
        super().__init__(message)
        self.status_code = status


class Unauthorized(ApiError):
    def __init__(self, message=None) -> None:
        super().__init__(401, message or _l("Cần mã truy cập (Authorization: Bearer …)."))


def _refuse_unauthorized(response):
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="tipline"'
    return response


bp.after_request(_refuse_unauthorized)

STAFF = [{"staffToken": []}]


@bp.errorhandler(HTTPException)
def _refused_input(error: HTTPException):
    """A refused input (webargs) is a 400 naming the field; other HTTP errors as elsewhere."""
    data = getattr(error, "data", None) or {}
    if "messages" in data:
        return error_response(400, schemas.refusal(data.get("schema"), data["messages"]))
    return error_response(error.code or 500, None)


def _errors(*statuses: int):
    """Document the errors an operation gives, all in the {error, status} shape."""

    def decorate(view):
        for status in reversed(statuses):
            view = bp.alt_response(status, schema=schemas.Error, description=ERRORS[status])(view)
        return view

    return decorate


ERRORS = {
    400: "Invalid input; `error` says what (Vietnamese first).",
    401: "No token, or a token that is wrong, expired, revoked or ended by a password change "
    "or deactivation. Session cookies never authenticate this API.",
    403: "The workflow does not allow this account to do this.",
    404: "No such tip in the account's scope (the same answer as for a missing id).",
    409: "This tip has changed since `version` was read, or the move is not possible in its state.",
    429: "Too many requests for this token (or too many sign-ins from this client).",
}


def token_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        credential = bearer()
        token = keys.find_staff_token(credential) if credential else None
        if token is None:
            # Wrong tokens count against the client's limit (nothing to guess, but no flood).
            if keys.over_limit("TIPLINE_API_PUBLIC_LIMIT", "public", client_bucket()):
                raise ApiError(429, _l("Bạn thao tác quá nhanh. Hãy đợi một lúc rồi thử lại."))
            raise Unauthorized(
                _l("Mã truy cập không đúng hoặc đã hết hạn. Hãy đăng nhập lại.")
                if credential
                else None
            )
        g.api_staff_token = token
        g.api_user = token.user
        if keys.over_limit("TIPLINE_API_TOKEN_LIMIT", "token", str(token.id)):
            raise ApiError(429, _l("Bạn thao tác quá nhanh. Hãy đợi một lúc rồi thử lại."))
        return view(*args, **kwargs)

    return wrapped


def _user() -> User:
    return g.api_user


def _string(data: dict, name: str) -> str | None:
    """A text field the schema let through, cleaned; None when absent or empty."""
    return clean_text(data.get(name) or "") or None


# --- tokens -------------------------------------------------------------------------------


LINKS_FROM_TOKEN = {
    "ListTips": {
        "operationId": "listTips",
        "parameters": {"header.Authorization": "Bearer {$response.body#/token}"},
        "description": "The inbox, with this token.",
    },
    "RevokeToken": {
        "operationId": "revokeToken",
        "parameters": {"header.Authorization": "Bearer {$response.body#/token}"},
        "description": "Sign out: revoke this token.",
    },
}


@bp.post("/tokens")
@bp.doc(operationId="createToken", security=[])
@bp.arguments(schemas.NewToken, error_status_code=400)
@bp.response(201, schemas.Token, description="The token (shown once).")
@bp.doc(responses={201: {"links": LINKS_FROM_TOKEN}})
@_errors(400, 401, 403, 429)
def create_token(data: dict):
    """Sign in: a bearer token for a staff app.

    Username + password (+ the second factor when the account has one)."""
    if keys.over_limit("TIPLINE_LOGIN_LIMIT", "login", client_bucket()):
        raise ApiError(429, _l("Bạn thao tác quá nhanh. Hãy đợi một lúc rồi thử lại."))
    username = _string(data, "username") or ""
    password = data["password"]
    # Counted before the password is checked: parallel guesses get the allowance at most.
    if sessions.login_attempt_refused(username):
        raise ApiError(
            429, _l("Tài khoản tạm dừng đăng nhập vì sai mật khẩu nhiều lần. Hãy thử lại sau.")
        )
    user = authenticate(username, password)
    if user is None:
        raise Unauthorized(_l("Tên đăng nhập hoặc mật khẩu không đúng."))
    sessions.clear_login_attempts(username)
    if user.totp_secret:
        code = _string(data, "code")
        # check_second_factor counts the attempt per account first (429 past the
        # allowance, like the web page) and takes a TOTP code once only.
        if not code or not twofactor.check_second_factor(user, code):
            raise Unauthorized(_l("Mã xác thực hai bước không đúng."))
    elif twofactor.required_for(user):
        raise ApiError(403, _l("Hãy bật xác thực hai bước trên trang web trước."))
    if user.must_change_password:
        raise ApiError(403, _l("Hãy đổi mật khẩu trên trang web trước."))
    issued = keys.issue_staff_token(user)
    g.api_staff_token = issued.token
    db.session.commit()
    return {
        "token": issued.credential,
        "token_type": "Bearer",  # the scheme, not a secret  # noqa: S105  # nosec B105
        "expires_at": iso(issued.token.expires_at),
    }


@bp.delete("/tokens")
@bp.doc(operationId="revokeToken", security=STAFF)
@token_required
@bp.response(204, description="Revoked.")
@_errors(401, 429)
def revoke_token():
    """Revoke the token of this request."""
    keys.revoke_staff_token(g.api_staff_token)
    db.session.commit()
    return Response(status=204)


# --- tips ---------------------------------------------------------------------------------


LINKS_FROM_LIST = {
    "ReadTip": {
        "operationId": "getTip",
        "parameters": {"public_id": "$response.body#/tips/0/public_id"},
        "description": "The first tip of the page.",
    },
    "ActOnTip": {
        "operationId": "actOnTip",
        "parameters": {"public_id": "$response.body#/tips/0/public_id"},
        "requestBody": {
            "action": "note",
            "note": "Đã xem.",
            "version": "$response.body#/tips/0/version",
        },
        "description": "A note on the first tip of the page, with the version just read.",
    },
}


@bp.get("/tips")
@bp.doc(operationId="listTips", security=STAFF)
@token_required
@bp.arguments(schemas.InboxQuery, location="query", error_status_code=400)
@bp.response(200, schemas.TipList)
@bp.doc(responses={200: {"links": LINKS_FROM_LIST}})
@_errors(400, 401, 429)
def list_tips(_checked: dict):
    """The inbox: tips in the account's scope.

    The filters are the staff inbox's, read by the same parser (tips.inbox.InboxFilter)."""
    wanted = InboxFilter.from_args(request.args)  # BadFilter: a 400 with what is wrong
    size = current_app.config["TIPLINE_INBOX_PAGE_SIZE"]
    result = inbox_page(_user(), wanted, size)
    return {
        "tips": result.tips,
        "page": result.page,
        "has_next": result.has_next,
    }


def _tip(public_id: str) -> Tip:
    tip = tip_for(_user(), public_id[:40])
    if tip is None:
        raise ApiError(404, _l("Không tìm thấy trang hoặc tin báo này."))
    g.api_tip_reference = tip.reference
    return tip


LINKS_FROM_TIP = {
    "ActOnTip": {
        "operationId": "actOnTip",
        "parameters": {"public_id": "$request.path.public_id"},
        "requestBody": {
            "action": "note",
            "note": "Đã xem.",
            "version": "$response.body#/tip/version",
        },
        "description": "A note on this tip, with the version just read.",
    },
}


@bp.get("/tips/<public_id>")
@bp.doc(operationId="getTip", security=STAFF)
@token_required
@bp.response(200, schemas.TipAnswer)
@bp.doc(responses={200: {"links": LINKS_FROM_TIP}})
@_errors(401, 404, 429)
def get_tip(public_id: str):
    """One tip (marks it read, like the web page)."""
    tip = _tip(public_id)
    mark_read(tip, _user())
    db.session.commit()
    return {"tip": tip}


def _enum(enum_cls, data: dict, name: str):
    """A value the schema checked against the enum; None when absent or empty."""
    value = data.get(name)
    return enum_cls(value) if value else None


@bp.post("/tips/<public_id>/actions")
@bp.doc(operationId="actOnTip", security=STAFF)
@token_required
@bp.arguments(schemas.ActionRequest, error_status_code=400)
@bp.response(200, schemas.TipAnswer)
@_errors(400, 401, 403, 404, 409, 429)
def act(data: dict, public_id: str):
    """A workflow move (or a note) with the version the app last read."""
    user = _user()
    tip = _tip(public_id)
    name = data["action"]
    version = data["version"]
    note = _string(data, "note")
    to_tipster = data.get("note_to_tipster", False)
    if name == schemas.NOTE:
        workflow.check_version(tip, version)
        workflow.add_note(tip, user, note or "", to_tipster=to_tipster)
    else:
        action = workflow.Action(name)
        workflow.check_held(tip, action)  # a held tip: a rejection only, until released
        duplicate_of = None
        reference = _string(data, "duplicate_of")
        if reference:
            duplicate_of = tip_by_reference_for(user, normalize_reference(reference))
        to_unit = None
        code = _string(data, "to_unit")
        if code:
            to_unit = unit_by_code(code)
            if to_unit is not None and to_unit.level not in (UnitLevel.VILLAGE, UnitLevel.COMMUNE):
                to_unit = None
        workflow.transition(
            tip,
            action,
            user,
            note=note,
            note_to_tipster=to_tipster,
            outcome=_enum(Outcome, data, "outcome"),
            reason=_enum(RejectReason, data, "reason"),
            duplicate_of=duplicate_of,
            to_unit=to_unit,
            conflict_of_interest=data.get("conflict_of_interest", False),
            expected_version=version,
        )
    db.session.commit()
    visible = tip_for(user, public_id)
    return {"tip": visible}
