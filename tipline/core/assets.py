"""Static files with fingerprinted names, the service worker, the web app manifest, compression.

`url_for("static", filename="tipline.css")` gives `/static/tipline.<hash>.css` everywhere:
a fingerprinted name never changes content, so it is cached for a year; the plain name
still answers (revalidated every time) for anything that links to it directly.

Compression (Flask-Compress) is applied to static files and to the resident pages (the
public figures included) only:
staff pages carry CSRF tokens next to reflected input, the classic BREACH mix.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Flask, Response, abort, current_app, request, url_for
from flask_babel import gettext as _
from flask_compress import Compress

from tipline.core.i18n import locale_prefix

YEAR = 365 * 24 * 3600
# Files the service worker keeps so that the blank form opens with no network.
# voice.js: the tip form's recorder, fetched by the page only when tapped, kept for offline.
PRECACHE = ("tipline.css", "tipline.js", "icon.svg", "icon-192.png", "voice.js")
# The public figures (/so-lieu) too: a resident page with no secret on it (no CSRF token,
# no session), so BREACH has nothing to find.
COMPRESSED_BLUEPRINTS = frozenset({"public", "web", "reports_public"})
COMPRESSED_ENDPOINTS = frozenset({"static"})

bp = Blueprint("web", __name__)
compress = Compress()


@dataclass(frozen=True)
class Asset:
    name: str
    fingerprinted: str
    data: bytes
    mimetype: str
    etag: str


class AssetTable:
    """Every file of the static folder, read once, under its plain and fingerprinted names."""

    def __init__(self, folder: Path) -> None:
        self.by_name: dict[str, Asset] = {}
        self.by_fingerprint: dict[str, Asset] = {}
        for path in sorted(folder.rglob("*")):
            if not path.is_file():
                continue
            name = path.relative_to(folder).as_posix()
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()[:10]
            stem, dot, suffix = name.rpartition(".")
            fingerprinted = f"{stem}.{digest}.{suffix}" if dot else f"{name}.{digest}"
            mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
            if name.endswith(".js"):
                mimetype = "text/javascript"
            asset = Asset(name, fingerprinted, data, mimetype, digest)
            self.by_name[name] = asset
            self.by_fingerprint[fingerprinted] = asset

    def version(self, names) -> str:
        """A short digest of the given files: it changes whenever one of them changes."""
        joined = "".join(self.by_name[n].etag for n in names if n in self.by_name)
        return hashlib.sha256(joined.encode()).hexdigest()[:10]


def _table() -> AssetTable:
    if current_app.debug:  # `flask run --debug` reloads on Python changes only: re-read files
        current_app.extensions["tipline_assets"] = AssetTable(Path(current_app.static_folder))
    return current_app.extensions["tipline_assets"]


def serve_static(filename: str) -> Response:
    table = _table()
    asset = table.by_fingerprint.get(filename)
    immutable = asset is not None
    if asset is None:
        asset = table.by_name.get(filename)
    if asset is None:
        abort(404)
    response = Response(asset.data, mimetype=asset.mimetype)
    response.set_etag(asset.etag)
    if immutable:
        response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    else:
        response.headers["Cache-Control"] = "no-cache"
    return response.make_conditional(request)


def _fingerprint_static_urls(endpoint: str, values: dict) -> None:
    if endpoint != "static" or "filename" not in values:
        return
    asset = _table().by_name.get(values["filename"])
    if asset is not None:
        values["filename"] = asset.fingerprinted


@bp.get("/sw.js")
def service_worker():
    """The service worker, at the root so that its scope is the whole site."""
    table = _table()
    source = table.by_name["sw.js"].data.decode()
    shell = [url_for("static", filename=name) for name in PRECACHE]
    settings = {
        "version": table.version([*PRECACHE, "sw.js", "outbox.js", "puzzle-worker.js"]),
        "assets": shell,
        "outbox": url_for("static", filename="outbox.js"),
        # The proof of work's solver: the worker solves a queued tip's puzzle itself.
        "puzzle": url_for("static", filename="puzzle-worker.js"),
    }
    body = f"self.TIPLINE = {json.dumps(settings, separators=(',', ':'))};\n{source}"
    response = Response(body, mimetype="text/javascript")
    # Browsers check for a new worker at most daily anyway; never serve a stale one.
    response.headers["Cache-Control"] = "no-cache"
    response.set_etag(hashlib.sha256(body.encode()).hexdigest()[:16])
    return response.make_conditional(request)


@bp.get("/manifest.webmanifest")
def manifest():
    prefix = locale_prefix()
    data = {
        "name": _("Tin báo an ninh, trật tự"),
        "short_name": _("Tin báo ANTT"),
        "description": _("Gửi tin báo về an ninh, trật tự ở khu dân cư, ẩn danh nếu bạn muốn."),
        "lang": str(request.environ.get("tipline.locale", "vi")),
        "start_url": f"{prefix}/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#f6f7f9",
        "theme_color": "#0b5394",
        "icons": [
            {
                "src": url_for("static", filename="icon-192.png"),
                "sizes": "192x192",
                "type": "image/png",
            },
            {
                "src": url_for("static", filename="icon-512.png"),
                "sizes": "512x512",
                "type": "image/png",
            },
            {
                "src": url_for("static", filename="icon-maskable-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
            {
                "src": url_for("static", filename="icon.svg"),
                "sizes": "any",
                "type": "image/svg+xml",
            },
        ],
    }
    response = Response(json.dumps(data, ensure_ascii=False), mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/robots.txt")
def robots():
    # Receipts and status pages are answers to posts (never crawlable); staff pages need a login.
    body = "User-agent: *\nDisallow: /staff/\nDisallow: /en/staff/\n"
    response = Response(body, mimetype="text/plain")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


def _compress_resident_responses(response: Response) -> Response:
    if response.is_streamed or response.direct_passthrough:
        return response  # files sent from disk: ours are served from memory instead
    if request.blueprint in COMPRESSED_BLUEPRINTS or request.endpoint in COMPRESSED_ENDPOINTS:
        return compress.after_request(response)
    return response


def init_app(app: Flask) -> None:
    app.config.setdefault("COMPRESS_REGISTER", False)
    app.config.setdefault(
        "COMPRESS_MIMETYPES",
        [
            "text/html",
            "text/css",
            "text/javascript",
            "text/plain",
            "application/json",
            "application/manifest+json",
            "image/svg+xml",
            "image/x-icon",
        ],
    )
    # Static files are bytes in memory: compress them whole (gzip included), not as a stream.
    app.config.setdefault("COMPRESS_LEVEL", 9)
    compress.init_app(app)
    app.extensions["tipline_assets"] = AssetTable(Path(app.static_folder))
    app.view_functions["static"] = serve_static
    app.url_defaults(_fingerprint_static_urls)
    app.after_request(_compress_resident_responses)
    app.register_blueprint(bp)
