"""`/healthz`: does the database, Redis and the photo storage answer? For load balancers."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from tipline.extensions import db, limiter
from tipline.media.storage import storage_for

bp = Blueprint("ops", __name__)


def _database() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except Exception:  # any failure means "not answering"
        current_app.logger.warning("health check: database does not answer")
        db.session.rollback()
        return False
    finally:
        db.session.remove()


def _redis() -> bool | None:
    """None when no Redis is configured (single-process deployments)."""
    if not current_app.config["RATELIMIT_STORAGE_URI"].startswith(("redis", "rediss")):
        return None
    try:
        return bool(limiter.storage.check())
    except Exception:
        return False


def _photo_storage() -> bool:
    try:
        return storage_for(current_app).ping()
    except Exception:  # e.g. an s3 setting without a bucket
        return False


@bp.get("/healthz")
@limiter.exempt
def healthz():
    checks = {"database": _database(), "redis": _redis(), "photo_storage": _photo_storage()}
    healthy = all(value is not False for value in checks.values())
    response = jsonify(status="ok" if healthy else "unavailable", checks=checks)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response
