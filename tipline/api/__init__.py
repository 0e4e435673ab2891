"""Machine interfaces: Open311 GeoReport v2 for partners, a JSON API for staff apps, and
the administrators' pages for partner keys."""

from __future__ import annotations

from flask import Flask

from tipline.api import models  # noqa: F401  (the tables, for migrations and create_all)
from tipline.api.key_pages import bp as key_pages_bp
from tipline.api.open311 import bp as open311_bp
from tipline.api.openapi import bp as openapi_bp
from tipline.api.staff import bp as staff_bp


def init_app(app: Flask) -> None:
    """Register Open311 (/open311/v2), the staff API (/api/v1), its OpenAPI document, and
    the partner-key pages (/admin/api-keys)."""
    app.register_blueprint(open311_bp, url_prefix="/open311/v2")
    app.register_blueprint(staff_bp, url_prefix="/api/v1")
    app.register_blueprint(openapi_bp, url_prefix="/api")
    app.register_blueprint(key_pages_bp, url_prefix="/admin/api-keys")
