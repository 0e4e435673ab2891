"""Languages: Vietnamese at `/`, English under the `/en` prefix; no cookie remembers anything.

A WSGI middleware takes the prefix off the path and moves it into SCRIPT_NAME, so every
`url_for` of an English page stays English (links, form actions, redirects) while the
views see the same paths as in Vietnamese. The browser's local storage remembers the
choice for the home-screen icon (tipline.js); the server keeps nothing.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import Flask, current_app, has_request_context, request

log = logging.getLogger(__name__)

PREFIXES = {"en": "/en"}
ENVIRON_KEY = "tipline.locale"
BASE_SCRIPT_NAME = "tipline.base_script_name"


class LocalePrefixMiddleware:
    """`/en/...` is the English site: strip the prefix and remember the language."""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "") or ""
        script = environ.get("SCRIPT_NAME", "")
        environ[BASE_SCRIPT_NAME] = script
        for locale, prefix in PREFIXES.items():
            if path == prefix:
                # "/en" alone: the English home page lives at "/en/".
                location = f"{script}{prefix}/"
                query = environ.get("QUERY_STRING")
                if query:
                    location += f"?{query}"
                start_response("308 Permanent Redirect", [("Location", location)])
                return [b""]
            if path.startswith(prefix + "/"):
                environ["PATH_INFO"] = path[len(prefix) :]
                environ["SCRIPT_NAME"] = script + prefix
                environ[ENVIRON_KEY] = locale
                break
        return self.wsgi_app(environ, start_response)


def select_locale() -> str:
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    wanted = request.environ.get(ENVIRON_KEY)
    if wanted in current_app.config["TIPLINE_LOCALES"]:
        return wanted
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def locale_prefix() -> str:
    """The path prefix of the current page's language ("" for Vietnamese)."""
    if not has_request_context():
        return ""
    return PREFIXES.get(request.environ.get(ENVIRON_KEY, ""), "")


def switch_language_url(locale: str) -> str:
    """The current page in another language (same path and query, other prefix)."""
    base = request.environ.get(BASE_SCRIPT_NAME, "")
    url = f"{base}{PREFIXES.get(locale, '')}{request.path}"
    query = request.query_string.decode("latin-1")
    return f"{url}?{query}" if query else url


def alternate_url(locale: str) -> str:
    """The absolute address of the current page in another language (for hreflang links)."""
    return request.host_url.rstrip("/") + switch_language_url(locale)


def site_root() -> str:
    """Where the site starts, whatever the language ("" at the root of a domain)."""
    return request.environ.get(BASE_SCRIPT_NAME, "") if has_request_context() else ""


def compile_catalogues(translations: Path) -> list[Path]:
    """Compile each messages.po whose messages.mo is missing or older (a fresh clone has none).

    Returns the files written. A read-only install (catalogues compiled at build time)
    is left alone.
    """
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted(translations.glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as source:
            catalogue = read_po(source, locale=po.parent.parent.name)
        partial = mo.with_name(f".messages.mo.{os.getpid()}")
        try:  # written aside then renamed: several workers may start at once
            with partial.open("wb") as target:
                write_mo(target, catalogue, use_fuzzy=False)
            os.replace(partial, mo)
        except OSError as error:
            log.warning("could not compile %s: %s", po, error)
            continue
        written.append(mo)
    return written


def init_app(app: Flask) -> None:
    compile_catalogues(Path(app.root_path) / "translations")
    app.wsgi_app = LocalePrefixMiddleware(app.wsgi_app)
    app.jinja_env.globals.update(
        switch_language_url=switch_language_url, alternate_url=alternate_url, site_root=site_root
    )
