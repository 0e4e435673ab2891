"""Machine interfaces: Open311 GeoReport v2 for partners, a JSON API for staff apps."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the API blueprints (none yet)."""
