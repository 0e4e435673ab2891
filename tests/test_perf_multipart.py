"""The multipart parser without per-boundary patterns (tipline/core/multipart.py) parses
exactly as Werkzeug's: same matches, same events, same fields and files, same errors."""

from __future__ import annotations

import io
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug import formparser
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.sansio.multipart import MultipartDecoder, NeedData

from tipline.core import multipart

BOUNDARIES = [b"x", b"----tiplinebench0123abcd", b"WebKitFormBoundary7MA4YWxk", b"a-b'()+_,./:=? c"]


# Pieces that make boundaries, near-boundaries, line breaks and spaces likely.
def _pieces(boundary: bytes):
    return st.sampled_from(
        [
            b"\r\n",
            b"\r",
            b"\n",
            b"-",
            b"--",
            b" ",
            b"\t",
            b"\x0b",
            b"a",
            boundary,
            boundary[:-1],
            b"--" + boundary,
            b"\r\n--" + boundary,
            b"\r\n--" + boundary + b"--",
            b"\r\n--" + boundary + b"\r\n",
        ]
    )


@st.composite
def haystacks(draw):
    boundary = draw(st.sampled_from(BOUNDARIES))
    data = b"".join(draw(st.lists(_pieces(boundary), max_size=14)))
    pos = draw(st.integers(0, len(data) + 1))
    return boundary, data, pos


def _as_tuple(match):
    return None if match is None else (match.start(), match.end(), bytes(match.group(1)))


@settings(max_examples=400, deadline=None)
@given(haystacks(), st.booleans())
def test_finder_matches_werkzeugs_patterns(case, as_bytearray):
    boundary, data, pos = case
    subject = bytearray(data) if as_bytearray else data
    werkzeug = MultipartDecoder(boundary)
    ours = multipart.BoundaryDecoder(boundary)
    assert isinstance(werkzeug.preamble_re, re.Pattern)
    assert isinstance(ours.preamble_re, multipart.BoundaryFinder)
    assert _as_tuple(ours.preamble_re.search(subject, pos)) == _as_tuple(
        werkzeug.preamble_re.search(subject, pos)
    )
    assert _as_tuple(ours.boundary_re.search(subject)) == _as_tuple(
        werkzeug.boundary_re.search(subject)
    )
    assert _as_tuple(ours.boundary_re.search(subject, pos)) == _as_tuple(
        werkzeug.boundary_re.search(subject, pos)
    )


def test_unusual_boundary_keeps_werkzeugs_patterns():
    for boundary in (b"a\r\nb", b"\xff\xfe", b"tab\tbound"):
        decoder = multipart.BoundaryDecoder(boundary)
        assert isinstance(decoder.preamble_re, re.Pattern)
        assert isinstance(decoder.boundary_re, re.Pattern)


def test_the_app_uses_the_request_class(app):
    assert app.request_class is multipart.TiplineRequest
    assert app.request_class.form_data_parser_class is multipart.FormDataParser
    # The installed Werkzeug's parse is used, bound to the decoder without patterns.
    parse = multipart.MultiPartParser.parse
    assert parse.__code__ is formparser.MultiPartParser.parse.__code__
    assert parse.__globals__["MultipartDecoder"] is multipart.BoundaryDecoder


@st.composite
def bodies(draw):
    boundary = draw(st.sampled_from(BOUNDARIES))
    content = st.lists(_pieces(boundary), max_size=8).map(b"".join)
    parts = []
    for index in range(draw(st.integers(0, 4))):
        value = draw(content)
        if draw(st.booleans()):
            head = f'Content-Disposition: form-data; name="f{index}"'.encode()
        else:
            head = (
                f'Content-Disposition: form-data; name="p{index}"; filename="a{index}.jpg"\r\n'
                "Content-Type: image/jpeg"
            ).encode()
        parts.append(b"--" + boundary + b"\r\n" + head + b"\r\n\r\n" + value + b"\r\n")
    body = draw(st.sampled_from([b"", b"preamble\r\n"])) + b"".join(parts)
    body += draw(st.sampled_from([b"--" + boundary + b"--\r\n", b"--" + boundary + b"--", b""]))
    if draw(st.booleans()):  # damaged bodies must fail in the same way
        cut = draw(st.integers(0, len(body)))
        body = body[:cut] + draw(content) + body[cut:]
    return boundary, body


def _parse(parser_class, boundary, body, buffer_size):
    parser = parser_class(
        stream_factory=lambda **_: io.BytesIO(),  # no temp files left open
        buffer_size=buffer_size,
        max_form_memory_size=400,
        max_form_parts=6,
    )
    try:
        form, files = parser.parse(io.BytesIO(body), boundary, len(body))
    except (ValueError, RequestEntityTooLarge) as error:
        return ("error", type(error).__name__, str(error))
    return (
        "ok",
        list(form.items(multi=True)),
        [(k, f.filename, f.content_type, f.read()) for k, f in files.items(multi=True)],
    )


@settings(max_examples=300, deadline=None)
@given(bodies(), st.sampled_from([1, 3, 7, 16, 64 * 1024]))
def test_parse_gives_werkzeugs_fields_files_and_errors(case, buffer_size):
    boundary, body = case
    assert _parse(multipart.MultiPartParser, boundary, body, buffer_size) == _parse(
        formparser.MultiPartParser, boundary, body, buffer_size
    )


def test_events_equal_on_a_browser_like_body():
    boundary = b"----WebKitFormBoundaryAbC123"
    body = (
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="description"\r\n\r\n'
        b"line one\r\n--not the boundary\r\n\r\n"
        b"\r\n--" + boundary + b'\r\nContent-Disposition: form-data; name="photo"; '
        b'filename="x.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        + bytes(range(256)) * 40
        + b"\r\n--"
        + boundary
        + b"--\r\n"
    )

    def events(decoder_class, size):
        decoder = decoder_class(boundary, 100_000)
        seen = []
        for start in range(0, len(body), size):
            decoder.receive_data(body[start : start + size])
            event = decoder.next_event()
            while not isinstance(event, NeedData):
                seen.append(event)
                if event.__class__.__name__ == "Epilogue":
                    break
                event = decoder.next_event()
        decoder.receive_data(None)
        return seen

    for size in (1, 5, 100, len(body)):
        assert events(multipart.BoundaryDecoder, size) == events(MultipartDecoder, size)


@pytest.mark.parametrize("photo", [False, True])
def test_a_submission_parses_through_the_app(app, photo):
    boundary = "----tiplinetest" + "0" * 20
    filename = "a.jpg" if photo else ""
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="description"\r\n\r\n'
            "Có người lạ\r\n--"
            f'{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="{filename}"'
            "\r\nContent-Type: image/jpeg\r\n\r\n"
        ).encode()
        + (b"\xff\xd8jpeg\r\n--x" if photo else b"")
        + f"\r\n--{boundary}--\r\n".encode()
    )
    with app.test_request_context(
        "/", method="POST", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    ):
        from flask import request

        assert isinstance(request._get_current_object(), multipart.TiplineRequest)
        # The installed Werkzeug's parser really runs with our decoder (no silent fallback).
        parse = multipart.MultiPartParser.parse
        assert parse.__globals__["MultipartDecoder"] is multipart.BoundaryDecoder
        assert request.form["description"] == "Có người lạ"
        assert request.files["photo"].read() == (b"\xff\xd8jpeg\r\n--x" if photo else b"")
