"""One error handler: JSON for API clients, a page for people; never a bare 500."""

from __future__ import annotations

import time
import unicodedata
from contextlib import suppress
from urllib.parse import unquote, urlsplit

from flask import Flask, current_app, jsonify, make_response, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from werkzeug.exceptions import HTTPException

from tipline.core.errors import TiplineError

MESSAGES = {
    400: _l("Yêu cầu không hợp lệ. Hãy kiểm tra lại thông tin đã nhập."),
    403: _l("Bạn không có quyền xem trang này."),
    404: _l("Không tìm thấy trang hoặc tin báo này."),
    405: _l("Thao tác này không được hỗ trợ ở địa chỉ này."),
    409: _l("Dữ liệu vừa thay đổi. Hãy tải lại trang rồi thử lại."),
    413: _l("Tệp gửi lên quá lớn (tối đa %(mb)s MB). Hãy quay lại, chọn ảnh nhỏ hơn rồi gửi lại."),
    429: _l("Bạn thao tác quá nhanh. Hãy đợi một lúc rồi thử lại."),
    503: _l(
        "Hệ thống đang tạm gián đoạn nên chưa lưu được gì. "
        "Hãy thử lại sau ít phút. Việc khẩn cấp: gọi 113, 114, 115."
    ),
    500: _l("Hệ thống đang gặp sự cố. Tin của bạn chưa bị mất: hãy thử lại sau ít phút."),
}


def wants_json() -> bool:
    if request.path.startswith(("/api/", "/open311/")):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


# Path prefix -> writer(status, text) of the errors of an API with its own error shape
# (Open311's list of {code, description}); registered by that API, so core knows no feature.
ERROR_WRITERS: dict = {}


def error_response(status: int, message):
    if status == 413 and message is None:
        mb = current_app.config["TIPLINE_MAX_PHOTO_BYTES"] // (1024 * 1024)
        message = _l(
            "Tệp gửi lên quá lớn (tối đa %(mb)s MB). Hãy quay lại, chọn ảnh nhỏ hơn rồi gửi lại.",
            mb=mb,
        )
    text = str(message or MESSAGES.get(status, MESSAGES[400]))
    for prefix, write in ERROR_WRITERS.items():
        if request.path.startswith(prefix):
            return write(status, text)
    if wants_json():
        return make_response(jsonify(error=text, status=status), status)
    return make_response(render_template("error.html", status=status, message=text), status)


def register(app: Flask, *, session, limiter) -> None:
    """The app's error handlers. `session` is the database session to roll back and
    `limiter` the rate limiter whose 429s they answer (given by the factory: core knows
    no extension)."""

    @app.errorhandler(TiplineError)
    def _domain_error(error: TiplineError):
        session.rollback()
        response = error_response(error.status_code, error.message)
        retry_after = getattr(error, "retry_after", None)
        if retry_after:
            response.headers["Retry-After"] = str(int(retry_after))
        return response

    @app.errorhandler(CSRFError)
    def _csrf_error(_error: CSRFError):
        return error_response(
            400,
            _l(
                "Phiên làm việc đã hết hạn hoặc biểu mẫu không hợp lệ. "
                "Hãy tải lại trang rồi gửi lại."
            ),
        )

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(SATimeoutError)
    def _database_unavailable(error: Exception):
        # Nothing was committed: the transaction is rolled back as a whole.
        with suppress(Exception):  # the connection may be gone; the pool recovers it
            session.rollback()
        app.logger.error("database unavailable: %s", type(error).__name__)
        response = error_response(503, MESSAGES[503])
        response.headers["Retry-After"] = "30"
        return response

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        status = error.code or 500
        # A 413 from Werkzeug is an upload over the photo limit: say so (error_response).
        response = error_response(status, None if status == 413 else MESSAGES.get(status))
        if getattr(error, "valid_methods", None):  # a 405 says which methods there are
            response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
        if status == 429:
            _retry_after_limit(response, limiter)
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        session.rollback()
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, MESSAGES[500])


def _retry_after_limit(response, limiter) -> None:
    """Flask-Limiter's own 429: say when its window ends (its headers are turned off)."""
    with suppress(Exception):  # a limit without a known reset simply sends no header
        current = limiter.current_limit
        if current is not None:
            response.headers["Retry-After"] = str(max(1, int(current.reset_at - time.time())))


def no_store(response):
    """Pages that show a tip must not be kept by the browser or any proxy."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


# Longer than any page of ours with its query string; a longer target is not one of ours.
_MAX_TARGET = 2048
# Cc: controls (tab, CR, LF, NUL, DEL, C1); Cf: invisible format marks (bidi overrides,
# zero-width); Cs: lone surrogates; Cn, Co: unassigned, private use; Zl, Zp: line and
# paragraph separators.
_REFUSED = frozenset({"Cc", "Cf", "Cs", "Cn", "Co", "Zl", "Zp"})


def safe_path(target: str | None, default: str) -> str:
    """`target` if it is a path on this site, else `default`: no open redirect, never a 500.

    Browsers drop tabs and line breaks anywhere in a URL, strip leading control
    characters and spaces, and read a backslash as a slash: a target that a naive check
    passes (slash, tab, slash, host) takes them to another site. So nothing is cleaned
    here (that would check something else than what the browser follows): anything that
    is not plainly one path is refused. It must start with exactly one slash, hold no
    backslash and no control or invisible character, have no scheme or host, and stay so
    once percent-decoded (for whoever decodes it again down the line).
    """
    if not isinstance(target, str) or not target or len(target) > _MAX_TARGET:
        return default
    if not (_plain_path(target) and _plain_path(unquote(target, errors="replace"))):
        return default
    return target


def _plain_path(target: str) -> bool:
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    if any(unicodedata.category(ch) in _REFUSED for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and parts.path.startswith("/")
