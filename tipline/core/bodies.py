"""The app's request class: a cap for each kind of body, checked before anything parses it.

A multipart body may carry photos: it keeps MAX_CONTENT_LENGTH (or what a view sets for its
photos), and Werkzeug's own decoder counts as it reads. Any other body (URL-encoded form,
JSON, anything) is read in one piece, so it gets the much smaller TIPLINE_MAX_FORM_BYTES,
with or without a Content-Length.
"""

from __future__ import annotations

import io
import re

from flask import Request, current_app, request
from flask_babel import lazy_gettext as _l

from tipline.core.http import error_response


def _too_large_response():
    """413 with its own message (without one, the app's 413 speaks of photos)."""
    kb = max(1, current_app.config["TIPLINE_MAX_FORM_BYTES"] // 1024)
    return error_response(
        413,
        _l(
            "Nội dung gửi lên quá lớn (tối đa %(kb)d KB). Hãy rút ngắn nội dung rồi gửi lại.", kb=kb
        ),
    )


class TiplineRequest(Request):
    """Werkzeug's request with a body cap for each kind of body.

    Only a multipart body may carry photos: it keeps MAX_CONTENT_LENGTH (or what a view
    sets for its photos). Any other body (URL-encoded form, JSON, anything) is read in one
    piece, so it gets the much smaller TIPLINE_MAX_FORM_BYTES, with or without a
    Content-Length (`_refuse_large_bodies` answers 413 before anything parses it).
    """

    @property
    def max_content_length(self) -> int | None:
        limit = super().max_content_length
        if self.mimetype == "multipart/form-data" or not current_app:
            return limit
        cap = current_app.config["TIPLINE_MAX_FORM_BYTES"]
        return cap if limit is None else min(limit, cap)

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value


def _refuse_large_bodies():
    """A body other than multipart over the cap gets 413 before anything parses it.

    With a Content-Length, that is a comparison. Without one (chunked), Werkzeug would cut
    the body at the cap without a word and parse what came; so it is read here up to one
    byte past the cap, refused if it has that byte, and handed on with its length.
    """
    if request.mimetype == "multipart/form-data":
        return None  # the decoder counts as it reads, and a view may allow photos
    limit = request.max_content_length
    if limit is None:
        return None
    length = request.content_length
    if length is not None:
        return _too_large_response() if length > limit else None
    environ = request.environ
    if "wsgi.input_terminated" not in environ:
        return None  # Werkzeug reads no body of unknown length at all
    body = environ["wsgi.input"].read(limit + 1)
    if len(body) > limit:
        return _too_large_response()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    return None


# A JSON string escape of half a UTF-16 surrogate pair with no other half: it decodes to a
# Python string that cannot be encoded again (hashing, password checks and database
# drivers fail on it), and no person or device writes one.
_HIGH = rb"\\u[dD][89abAB][0-9a-fA-F]{2}"
_LOW = rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}"
_LONE_SURROGATE = re.compile(
    rb"(?:" + _HIGH + rb"(?!" + _LOW + rb"))|(?:(?<!" + _HIGH + rb")" + _LOW + rb")"
)


def _refuse_broken_json():
    """A JSON body carrying a lone surrogate gets 400 before any view parses it."""
    if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        return None
    if _LONE_SURROGATE.search(request.get_data(cache=True)):
        return error_response(
            400, _l("Nội dung gửi lên có ký tự không hợp lệ. Hãy kiểm tra rồi gửi lại.")
        )
    return None


def init_app(app) -> None:
    app.request_class = TiplineRequest
    app.before_request(_refuse_large_bodies)
    app.before_request(_refuse_broken_json)
