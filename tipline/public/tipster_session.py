"""The tipster's short session: a signed cookie that opens one tip's status page.

After a correct reference and code, the browser gets a cookie holding the tip's public id
and its `tipster_session_version`, signed with a timestamp (itsdangerous). It carries no
reference, code, address or user agent, has no Expires (it dies with the browser), goes
only to the follow-up pages, and is never Flask's session (which staff use). The token's
timestamp ends it after TIPLINE_TIPSTER_SESSION_MINUTES; signing out raises the tip's
version on the server, so a copy of the cookie kept elsewhere stops working too (and so
does every other open session of the same tip: one sign-out ends them all).
"""

from __future__ import annotations

from flask import current_app, request
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select, update

from tipline.core.i18n import BASE_SCRIPT_NAME, PREFIXES
from tipline.extensions import db
from tipline.tips.models import Tip

COOKIE = "tipline_tipster"
_SALT = "tipster-session"


class SessionEnded(Exception):
    """No valid tipster session: missing, tampered with, expired, signed out, or tip gone."""

    def __init__(self, expired: bool) -> None:
        super().__init__("expired" if expired else "missing")
        self.expired = expired


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def session_minutes() -> int:
    return int(current_app.config["TIPLINE_TIPSTER_SESSION_MINUTES"])


def session_token(tip: Tip) -> str:
    """A signed token naming the tip by its public id and its session version only."""
    return _serializer().dumps([tip.public_id, tip.tipster_session_version or 0])


def tip_for_session(token: str | None) -> Tip:
    """The tip of a valid session token; raises SessionEnded otherwise."""
    if not token:
        raise SessionEnded(expired=False)
    try:
        claims = _serializer().loads(token, max_age=session_minutes() * 60)
    except SignatureExpired:
        raise SessionEnded(expired=True) from None
    except BadData:
        raise SessionEnded(expired=False) from None
    if (
        not isinstance(claims, list)
        or len(claims) != 2
        or not isinstance(claims[0], str)
        or type(claims[1]) is not int
    ):
        raise SessionEnded(expired=False)
    public_id, version = claims
    tip = db.session.scalar(select(Tip).where(Tip.public_id == public_id))
    if tip is None:
        raise SessionEnded(expired=False)
    if tip.tipster_session_version != version:
        # Signed out since: refused like a session that ran out of time.
        raise SessionEnded(expired=True)
    return tip


def end_sessions(tip: Tip) -> None:
    """Every token issued for this tip so far stops working (flushed, not committed).

    An UPDATE of the one column: the tip's row version (staff's stale-write check) is
    left alone, so a tipster signing out never turns a staff member's save into a 409.
    """
    db.session.execute(
        update(Tip)
        .where(Tip.id == tip.id)
        .values(tipster_session_version=Tip.tipster_session_version + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(tip, ["tipster_session_version"])


# --- the cookie -------------------------------------------------------------------------


def cookie_paths() -> list[str]:
    """The follow-up pages in every language: the cookie goes nowhere else."""
    base = request.environ.get(BASE_SCRIPT_NAME, "")
    return [f"{base}{prefix}/tra-cuu" for prefix in ("", *PREFIXES.values())]


def start_session(response, tip: Tip):
    # No Expires or Max-Age: the cookie ends with the browser; the token's own
    # timestamp ends it after TIPLINE_TIPSTER_SESSION_MINUTES whatever the browser does.
    token = session_token(tip)
    for path in cookie_paths():
        response.set_cookie(
            COOKIE,
            token,
            path=path,
            httponly=True,
            samesite="Strict",
            secure=bool(current_app.config["TIPLINE_PRODUCTION"]),
        )
    return response


def end_session(response):
    """Delete the cookie on this browser (`end_sessions` ends it on the server)."""
    for path in cookie_paths():
        response.delete_cookie(
            COOKIE,
            path=path,
            httponly=True,
            samesite="Strict",
            secure=bool(current_app.config["TIPLINE_PRODUCTION"]),
        )
    return response


def session_tip() -> Tip:
    """The tip of the visitor's session, or raise SessionEnded."""
    return tip_for_session(request.cookies.get(COOKIE))
