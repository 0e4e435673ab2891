"""App-wide request checks that headers alone cannot give: same-origin posts, no debugger.

Pages send ``Referrer-Policy: no-referrer``, so our own forms arrive without a Referer
and Flask-WTF's HTTPS referrer check (WTF_CSRF_SSL_STRICT) would refuse every one of
them. That check is switched off here and replaced by what browsers send on every
unsafe request instead: ``Origin`` and ``Sec-Fetch-Site``. The CSRF token stays the
main defence of staff forms; this check covers every blueprint, including the
resident forms that carry no token (they set no cookie).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, request

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# "none": the user typed the address or used a bookmark; never a cross-site request.
TRUSTED_FETCH_SITES = frozenset({"same-origin", "none"})
# Blueprints that authenticate every request with a key or token in a header, never
# with a cookie: other sites' pages and servers may call them (a browser sends no
# credential of ours along, so there is nothing to forge).
_CROSS_SITE_BLUEPRINTS: set[str] = set()


def allow_cross_site(blueprint: Blueprint) -> Blueprint:
    """Exempt a header-authenticated API blueprint from the same-origin check."""
    _CROSS_SITE_BLUEPRINTS.add(blueprint.name)
    return blueprint


def header_authenticated() -> bool:
    """Whether this request is for a blueprint that takes credentials from headers only."""
    return request.blueprint in _CROSS_SITE_BLUEPRINTS


def is_same_origin_request() -> bool:
    """Whether an unsafe request may come from our own pages (judged from its headers).

    A request without either header (a script, an old browser) passes: for staff the
    CSRF token still has to be right, and resident forms need none by design. Refused:
    Sec-Fetch-Site other than same-origin/none, an Origin of another host, and an http
    Origin posting into the https site.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in TRUSTED_FETCH_SITES:
        return False
    origin = request.headers.get("Origin")
    if not origin:
        return True
    if origin == "null":
        # Under Referrer-Policy: no-referrer, browsers send "Origin: null" with our own
        # form posts, and Sec-Fetch-Site tells those apart (same-origin) from a sandboxed
        # frame elsewhere (cross-site, refused above). Browsers too old for Sec-Fetch-Site
        # pass: staff forms still need their CSRF token and a SameSite=Lax cookie, and a
        # forged resident tip gains nothing over sending one directly.
        return True
    parts = urlsplit(origin)
    if parts.netloc != request.host:
        return False
    # What WTF_CSRF_SSL_STRICT guarded: a page served over plain HTTP (where anyone on
    # the path can change it) must not post into the HTTPS site.
    return not (request.is_secure and parts.scheme != "https")


def init_app(app: Flask) -> None:
    """Refuse cross-site unsafe requests everywhere; refuse debug mode in production."""
    if app.config.get("TIPLINE_PRODUCTION") and app.debug:
        # Werkzeug's debugger runs any code typed into a browser; FLASK_DEBUG must be off.
        raise RuntimeError("Debug mode is not allowed in production: unset FLASK_DEBUG.")
    app.config["WTF_CSRF_SSL_STRICT"] = False  # the Origin check below replaces it

    @app.before_request
    def _refuse_cross_site_requests():
        if header_authenticated():
            return
        if request.method not in SAFE_METHODS and not is_same_origin_request():
            abort(403)

    @app.before_request
    def _refuse_nul_in_url():
        # No address of ours holds a NUL, and PostgreSQL refuses one in any text it is
        # given: a lookup by a code from the URL would fail with a 500 instead of a 400.
        if "\x00" in request.path or b"%00" in request.query_string.lower():
            abort(400)
