"""After signing in, `next` leads to a page of this site or to the inbox; never a 500."""

from __future__ import annotations

import re
from urllib.parse import quote, urljoin, urlsplit

import pyotp
import pytest

from tipline.core.http import safe_path

from .conftest import PASSWORD

DEFAULT = "/staff/"
LEADER_START = "/staff/thon-cua-toi"  # where a village leader's sign-in lands

# Each of these, followed by a browser, would leave the site (or is no path at all).
HOSTILE = [
    "/\t/evil.example",  # the reported one: /%09/evil.example, the tab dropped by browsers
    "/\n/evil.example",
    "/\r/evil.example",
    "/\r\n/evil.example",
    "/x\r\nSet-Cookie: a=b",
    "\t//evil.example",
    " //evil.example",
    "\x00//evil.example",
    "\x01/\x1f/evil.example",
    "/\x7f/evil.example",
    "/\x85/evil.example",  # C1 next line
    "//evil.example",
    "///evil.example",
    "////evil.example/staff/",
    "/\\evil.example",
    "\\/evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "https:evil.example",
    "https://evil.example/staff/",
    "http:/evil.example",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "staff/",
    "?next=//evil.example",
    "#//evil.example",
    "/%2F%2Fevil.example",  # decoded once by whoever comes next: //evil.example
    "/%2f/evil.example",
    "%2F%2Fevil.example",
    "/%5Cevil.example",
    "/%5C%5Cevil.example",
    "/%09/evil.example",
    "/%0d%0aSet-Cookie:%20a=b",
    "/%00/evil.example",
    "\u3000//evil.example",  # ideographic space
    "\uff0f\uff0fevil.example",  # fullwidth solidus
    "/\u2028/evil.example",  # line separator
    "/\u2029/evil.example",
    "/\u202e/elpmaxe.live",  # right-to-left override
    "/\u200b/evil.example",  # zero-width space
    "/\ufeff/evil.example",
    "/\ud800/evil.example",  # a lone surrogate
    "/%E2%80%A8/evil.example",
    "/" + "a" * 3000,
    "",
    None,
]

# Odd but harmless: paths of this site, kept as they are.
KEPT = [
    "/staff/",
    "/staff/?status=received&page=2",
    "/staff/tai-khoan/mat-khau",
    "/staff/?q=tr%E1%BB%99m",
    "/staff/?q=trộm cắp",
    "/\uff0fevil.example",  # a fullwidth slash after a real one: a path here
    "/a:b",
    "/%ff",
]


def label(target) -> str:
    text = repr(target)
    return text if len(text) <= 40 else text[:37] + "..."


@pytest.mark.parametrize("target", HOSTILE, ids=label)
def test_hostile_targets_fall_back_to_the_default(target):
    assert safe_path(target, DEFAULT) == DEFAULT


@pytest.mark.parametrize("target", KEPT, ids=label)
def test_paths_of_this_site_are_kept(target):
    assert safe_path(target, DEFAULT) == target


def test_anything_but_text_falls_back():
    assert safe_path(b"/staff/", DEFAULT) == DEFAULT  # type: ignore[arg-type]
    assert safe_path(["/staff/"], DEFAULT) == DEFAULT  # type: ignore[arg-type]


# ------------------------------------------------------------------ through the login page


def followed(location: str):
    """Where a browser goes: WHATWG URL parsing drops tabs and line breaks anywhere, strips
    leading and trailing controls and spaces, and reads a backslash as a slash."""
    cleaned = location.strip("".join(chr(c) for c in range(0x21)))
    cleaned = re.sub("[\t\n\r]", "", cleaned).replace("\\", "/")
    return urlsplit(urljoin("http://localhost/staff/login", cleaned))


def assert_same_origin(response, path: str | None = DEFAULT) -> None:
    assert response.status_code == 302, response.status_code
    target = followed(response.location)
    assert (target.scheme, target.netloc) == ("http", "localhost"), response.location
    if path is not None:
        assert target.path == path, response.location


def usable(target) -> bool:
    return isinstance(target, str) and "\ud800" not in target


@pytest.mark.parametrize("target", [t for t in HOSTILE if usable(t)], ids=label)
def test_hostile_next_in_the_form_ends_on_the_inbox(app, world, target):
    response = app.test_client().post(
        "/staff/login", data={"username": "leader_a1", "password": PASSWORD, "next": target}
    )
    assert_same_origin(response, LEADER_START)


@pytest.mark.parametrize("target", [t for t in HOSTILE if usable(t)], ids=label)
def test_hostile_next_in_the_address_ends_on_the_inbox(app, world, target):
    url = "/staff/login?next=" + quote(target, safe="")
    client = app.test_client()
    page = client.get(url)
    response = client.post(url, data={"username": "leader_a1", "password": PASSWORD})
    if "\x00" in target:  # a NUL anywhere in the address is a 400 before anything else
        assert page.status_code == response.status_code == 400
        return
    assert page.status_code == 200
    assert_same_origin(response, LEADER_START)


def test_the_reported_target_no_longer_leaves_the_site(app, world):
    response = app.test_client().post(
        "/staff/login?next=/%09/evil.example",
        data={"username": "leader_a1", "password": PASSWORD},
    )
    assert response.status_code == 302
    assert "evil.example" not in response.location
    assert_same_origin(response, LEADER_START)


@pytest.mark.parametrize("target", ["/staff/?status=received&page=2", "/staff/tai-khoan/mat-khau"])
def test_a_page_of_this_site_is_where_sign_in_goes_on_to(app, world, target):
    response = app.test_client().post(
        "/staff/login", data={"username": "leader_a1", "password": PASSWORD, "next": target}
    )
    assert_same_origin(response, path=urlsplit(target).path)
    assert response.location.endswith(target)


@pytest.mark.parametrize("target", [t for t in KEPT if t.isascii()], ids=label)
def test_odd_paths_of_this_site_stay_on_it(app, world, target):
    response = app.test_client().post(
        "/staff/login", data={"username": "leader_a1", "password": PASSWORD, "next": target}
    )
    assert_same_origin(response, path=None)


@pytest.mark.parametrize(
    "target", ["/\t/evil.example", "/x\r\nSet-Cookie: a=b", "/%2F%2Fevil.example", "/\\evil"]
)
def test_hostile_next_through_the_second_factor_ends_on_the_inbox(app, world, target):
    user = world.user("police_a")
    secret = pyotp.random_base32()
    user.totp_secret = secret
    client = app.test_client()
    started = client.post(
        "/staff/login", data={"username": "police_a", "password": PASSWORD, "next": target}
    )
    assert started.location.endswith("/staff/tai-khoan/xac-thuc")
    with client.session_transaction() as session:
        session["_next"] = target  # as if an older release had kept it
    response = client.post("/staff/tai-khoan/xac-thuc", data={"code": pyotp.TOTP(secret).now()})
    assert_same_origin(response)


def test_a_good_next_survives_the_second_factor(app, world):
    user = world.user("police_a")
    secret = pyotp.random_base32()
    user.totp_secret = secret
    client = app.test_client()
    client.post(
        "/staff/login",
        data={"username": "police_a", "password": PASSWORD, "next": "/staff/?status=received"},
    )
    response = client.post("/staff/tai-khoan/xac-thuc", data={"code": pyotp.TOTP(secret).now()})
    assert_same_origin(response)
    assert response.location.endswith("/staff/?status=received")
