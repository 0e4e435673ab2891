"""Staff sign-in sessions: second factor, idle end, and wrong-password throttling per account.

The session cookie is signed, not stored, so ending a session for real goes through the
user's session version (see User.get_id): logout, a password reset or a deactivation
raises it, and every older cookie stops working at its next request.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from flask import current_app, session
from flask_login import login_user, logout_user
from limits import parse

from tipline.accounts.models import User
from tipline.accounts.services import load_session_user, normalize_username
from tipline.extensions import limiter

PENDING = "_second_factor"
NEXT = "_next"
SEEN = "_seen"
PENDING_SECONDS = 300


def _now() -> int:
    return int(time.time())


def sign_in(user: User, next_url: str | None = None) -> bool:
    """Start a session after the password; False when a second factor must follow first."""
    session.clear()  # no fixation: a fresh session at every sign-in
    if user.totp_secret:
        session[PENDING] = [user.get_id(), _now()]
        session[NEXT] = safe_target(next_url)
        return False
    _start(user)
    return True


def safe_target(target: str | None) -> str | None:
    """A path on this site to go on to after signing in, or None (no open redirects)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def pending_user() -> User | None:
    """The user who gave the right password and still owes the second factor."""
    pending = session.get(PENDING)
    if not (isinstance(pending, list) and len(pending) == 2):
        return None
    session_id, started = pending
    if not isinstance(started, int) or _now() - started > PENDING_SECONDS:
        session.pop(PENDING, None)
        return None
    return load_session_user(str(session_id))


def complete_sign_in(user: User) -> None:
    session.clear()
    _start(user)


def _start(user: User) -> None:
    login_user(user)
    # Flask-Login stores a hash of the address and user agent as "_id" for its session
    # protection, which is off here (tipline/__init__.py): keep nothing derived from them.
    session.pop("_id", None)
    session[SEEN] = _now()


def sign_out(user: User | None) -> None:
    """End this session and every other copy of its cookie."""
    if user is not None and user.is_authenticated:
        user.end_sessions()
    logout_user()
    session.clear()


def idle_expired() -> bool:
    """True when the signed-in session has been idle too long; refreshes it otherwise."""
    seen = session.get(SEEN)
    now = _now()
    if not isinstance(seen, int):  # a session from before idle ends existed: start its clock
        session[SEEN] = now
        return False
    if now - seen > current_app.config["TIPLINE_STAFF_IDLE_MINUTES"] * 60:
        return True
    if now - seen >= 60:  # rewrite the cookie at most once a minute
        session[SEEN] = now
    return False


# --- wrong passwords per account -------------------------------------------------------------


def _account_key(username: str) -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    name = normalize_username(username)
    return hmac.new(secret, f"login:{name}".encode(), hashlib.sha256).hexdigest()[:32]


def _account_limit():
    return parse(current_app.config["TIPLINE_LOGIN_ACCOUNT_LIMIT"])


def account_locked(username: str) -> bool:
    """Too many wrong passwords for this account lately (from any client)."""
    if not limiter.enabled:
        return False
    try:
        return not limiter.limiter.test(
            _account_limit(), current_app.config["RATELIMIT_KEY_PREFIX"], _account_key(username)
        )
    except Exception:  # a dead store must not lock every account out
        current_app.logger.warning("login throttling unavailable: the limiter store failed")
        return False


def record_wrong_password(username: str) -> None:
    if not limiter.enabled:
        return
    try:
        limiter.limiter.hit(
            _account_limit(), current_app.config["RATELIMIT_KEY_PREFIX"], _account_key(username)
        )
    except Exception:
        current_app.logger.warning("login throttling unavailable: the limiter store failed")
