"""The app's request class: a multipart parser that compiles no regular expression per
request, and a body cap for each kind of body (see `TiplineRequest`).

Werkzeug's ``MultipartDecoder`` compiles two regular expressions around each request's
boundary. Browsers draw a new random boundary for every form they send, so ``re``'s own
cache never helps, and compiling took about 0.8 ms of CPU per tip submission (more than
the rest of the parse; measured in bench/RESULTS.md). An LRU cache keyed by boundary
would not help either, for the same reason.

``BoundaryDecoder`` is Werkzeug's decoder with those two patterns replaced by
``BoundaryFinder``: ``bytes.find`` of ``--<boundary>`` and one pattern compiled once for
what may follow a boundary. It gives the same matches as the two patterns (leftmost
match, same start, end and group 1), so every event of the parse is the same; the
installed Werkzeug's own ``MultiPartParser.parse`` and ``FormDataParser._parse_multipart``
run unchanged, only bound to this decoder (``tests/test_perf_multipart.py`` compares
both decoders on random bodies). A boundary holding anything outside RFC 2046's
characters (a line break, say) keeps Werkzeug's patterns as they are.
"""

from __future__ import annotations

import io
import re
import types

from flask import (
    Request,
    current_app,
    request,
)
from flask_babel import lazy_gettext as _l
from werkzeug import formparser
from werkzeug.sansio import multipart as sansio_multipart
from werkzeug.sansio.multipart import LINE_BREAK, MultipartDecoder

from tipline.core.http import error_response

# RFC 2046 section 5.1.1: bcharsnospace and space.
BOUNDARY_CHARS = frozenset(
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=? "
)
# What Werkzeug's patterns accept after "--<boundary>": "--" (the last one) with optional
# spaces and line break, or spaces and a line break. [^\S\n\r] is a space other than a
# line break, as in Werkzeug.
_TAIL = re.compile(rb"(--[^\S\n\r]*%s?|[^\S\n\r]*%s)" % (LINE_BREAK, LINE_BREAK), re.MULTILINE)
_CR, _LF = 13, 10


class BoundaryMatch:
    """What Werkzeug's decoder reads from a match: start(), end() and group(1)."""

    __slots__ = ("_end", "_start", "_tail")

    def __init__(self, start: int, end: int, tail: bytes) -> None:
        self._start = start
        self._end = end
        self._tail = tail

    def start(self) -> int:
        return self._start

    def end(self) -> int:
        return self._end

    def group(self, index: int) -> bytes:
        if index != 1:
            raise IndexError("no such group")
        return self._tail


class BoundaryFinder:
    """``search(data, pos)`` as Werkzeug's ``preamble_re`` (line break optional) or
    ``boundary_re`` (line break required): ``(?:\\r\\n|\\n|\\r)?--B(tail)`` or without ``?``.

    The boundary holds no CR or LF, so a match starts at the line break just before an
    occurrence of ``--B`` (CRLF preferred to LF or CR alone, as the pattern's alternation
    does), or at the occurrence itself when the break is optional and absent; two
    occurrences with a line break before each cannot overlap, so the first occurrence
    whose tail matches gives the leftmost match.
    """

    __slots__ = ("marker", "optional_break")

    def __init__(self, boundary: bytes, *, optional_break: bool) -> None:
        self.marker = b"--" + boundary
        self.optional_break = optional_break

    def search(self, data: bytes | bytearray, pos: int = 0) -> BoundaryMatch | None:
        marker = self.marker
        size = len(marker)
        found = data.find(marker, pos)
        while found != -1:
            tail = _TAIL.match(data, found + size)
            if tail is not None:
                start = None
                if found - 2 >= pos and data[found - 2] == _CR and data[found - 1] == _LF:
                    start = found - 2
                elif found - 1 >= pos and data[found - 1] in (_CR, _LF):
                    start = found - 1
                elif self.optional_break:
                    start = found
                if start is not None:
                    return BoundaryMatch(start, tail.end(), tail.group(1))
            found = data.find(marker, found + 1)
        return None


def plain_boundary(boundary: bytes) -> bool:
    return bool(boundary) and all(byte in BOUNDARY_CHARS for byte in boundary)


class BoundaryDecoder(MultipartDecoder):
    """Werkzeug's decoder, finding boundaries without compiling a pattern for each one."""

    def __init__(
        self,
        boundary: bytes,
        max_form_memory_size: int | None = None,
        *,
        max_parts: int | None = None,
    ) -> None:
        if not plain_boundary(boundary):
            super().__init__(boundary, max_form_memory_size, max_parts=max_parts)
            return
        self.buffer = bytearray()
        self.complete = False
        self.max_form_memory_size = max_form_memory_size
        self.max_parts = max_parts
        self.state = sansio_multipart.State.PREAMBLE
        self.boundary = boundary
        self.preamble_re = BoundaryFinder(boundary, optional_break=True)
        self.boundary_re = BoundaryFinder(boundary, optional_break=False)
        self._search_position = 0
        self._parts_decoded = 0


def _rebound(function, **names):
    """The same function (same code) with some of its module's global names replaced."""
    missing = set(names) - set(function.__code__.co_names)
    if missing:  # another Werkzeug: keep its own function rather than guess
        return function
    scope = {**function.__globals__, **names}
    rebound = types.FunctionType(
        function.__code__, scope, function.__name__, function.__defaults__, function.__closure__
    )
    rebound.__kwdefaults__ = function.__kwdefaults__
    rebound.__qualname__ = function.__qualname__
    rebound.__doc__ = function.__doc__
    return rebound


def _decoder_slots_match() -> bool:
    """The attributes Werkzeug's __init__ sets are the ones BoundaryDecoder sets."""
    probe = MultipartDecoder(b"probe", 1, max_parts=1)
    return set(vars(probe)) == {
        "buffer",
        "complete",
        "max_form_memory_size",
        "max_parts",
        "state",
        "boundary",
        "preamble_re",
        "boundary_re",
        "_search_position",
        "_parts_decoded",
    }


class MultiPartParser(formparser.MultiPartParser):
    parse = _rebound(
        formparser.MultiPartParser.parse,
        MultipartDecoder=BoundaryDecoder if _decoder_slots_match() else MultipartDecoder,
    )


class FormDataParser(formparser.FormDataParser):
    _parse_multipart = _rebound(
        formparser.FormDataParser._parse_multipart, MultiPartParser=MultiPartParser
    )


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
    """Werkzeug's request with the decoder above, and a body cap for each kind of body.

    Only a multipart body may carry photos: it keeps MAX_CONTENT_LENGTH (or what a view
    sets for its photos). Any other body (URL-encoded form, JSON, anything) is read in one
    piece, so it gets the much smaller TIPLINE_MAX_FORM_BYTES, with or without a
    Content-Length (`_refuse_large_bodies` answers 413 before anything parses it).
    """

    form_data_parser_class = FormDataParser

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


def init_app(app) -> None:
    app.request_class = TiplineRequest
    app.before_request(_refuse_large_bodies)
