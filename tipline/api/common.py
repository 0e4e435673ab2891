"""What both API blueprints share: credentials from headers only, the use log, limits."""

from __future__ import annotations

import re

from flask import Blueprint, g, request

from tipline.api import keys
from tipline.core.http import no_store
from tipline.core.security import allow_cross_site
from tipline.extensions import csrf, db


def bearer() -> str | None:
    """The credential of the request: `Authorization: Bearer …` or `X-Api-Key` (never a cookie)."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("X-Api-Key", "").strip() or None


def header_only(bp: Blueprint) -> Blueprint:
    """Exempt a blueprint that takes credentials from headers/body only from CSRF and Origin."""
    csrf.exempt(bp)
    allow_cross_site(bp)

    @bp.after_request
    def _log_and_private(response):
        _log_use(response.status_code)
        return no_store(response)

    return bp


def _log_use(status: int) -> None:
    partner = g.get("api_partner_key")
    token = g.get("api_staff_token")
    if partner is None and token is None:
        return
    # The route, not the path: "/open311/v2/requests/{reference}.{fmt}".
    rule = request.url_rule.rule if request.url_rule is not None else request.path
    rule = re.sub(r"<(?:[^<>]*:)?(\w+)>", r"{\1}", rule)
    try:
        db.session.rollback()  # whatever the view left unfinished is not kept by the log
        keys.log_use(
            partner_key=partner,
            staff_token=token,
            method=request.method,
            endpoint=rule,
            status=status,
            tip_reference=g.get("api_tip_reference"),
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        from flask import current_app

        current_app.logger.exception("could not write the API use log")
