"""Machine interfaces: Open311 GeoReport v2 for partners, a JSON API for staff apps, and
the administrators' pages for partner keys."""

from __future__ import annotations

from flask import Flask

from tipline.api import (
    models,  # noqa: F401  (the tables, for migrations and create_all)
    openapi,
)
from tipline.api.key_pages import bp as key_pages_bp
from tipline.api.open311 import bp as open311_bp
from tipline.api.staff import bp as staff_bp


def init_app(app: Flask) -> None:
    """Register Open311 (/open311/v2), the staff API (/api/v1), its OpenAPI document, and
    the partner-key pages (/admin/api-keys)."""
    # Through the document's generator: it documents every view of these three.
    openapi.register(
        app,
        [(open311_bp, "/open311/v2"), (staff_bp, "/api/v1"), (openapi.bp, "/api")],
    )
    app.register_blueprint(key_pages_bp, url_prefix="/admin/api-keys")
