"""Staff alert pages: my alerts, alert settings, devices (registered at /staff/thong-bao)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("alerts", __name__)


@bp.route("/")
@login_required
def index():
    """My alerts, unread first (filled in by the alerts work)."""
    return render_template("alerts/index.html", alerts=[])
