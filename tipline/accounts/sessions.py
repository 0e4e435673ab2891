"""Staff sign-in sessions: second factor, idle end, and sign-in attempts per account.

The session cookie is signed, not stored, so ending a session for real goes through the
user's session version (see User.get_id): logout, a password reset or a deactivation
raises it, and every older cookie stops working at its next request.

Every sign-in attempt takes one unit of the account's allowance (TIPLINE_LOGIN_ACCOUNT_LIMIT)
*before* its password is checked, in one atomic step of the limiter's store
(tipline.core.throttle): twenty parallel guesses get at most the allowance checked. A right
password gives the allowance back.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from flask import current_app, session
from flask_login import login_user, logout_user

from tipline.accounts.models import User
from tipline.accounts.services import load_session_user, normalize_username
from tipline.core import throttle
from tipline.core.http import safe_path

PENDING = "_second_factor"
NEXT = "_next"
SEEN = "_seen"
PENDING_SECONDS = 300


def _now() -> int:
    return int(time.time())


def sign_in(user: User, next_url: str | None = None) -> bool:
    """Start a session after the password; False when a second factor must follow first."""
    session.clear()  # no fixation: a fresh session at every sign-in
    clear_login_attempts(user.username)
    if user.totp_secret:
        session[PENDING] = [user.get_id(), _now()]
        session[NEXT] = safe_path(next_url, "") or None
        return False
    _start(user)
    return True


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


def abandon_pending() -> None:
    """End a sign-in that still owes its second factor: the password comes first again."""
    session.pop(PENDING, None)
    session.pop(NEXT, None)


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


# --- sign-in attempts per account -------------------------------------------------------------

_ATTEMPTS = "login-account"


def _account_key(username: str) -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    name = normalize_username(username)
    return hmac.new(secret, f"login:{name}".encode(), hashlib.sha256).hexdigest()[:32]


def _account_limit() -> str:
    return current_app.config["TIPLINE_LOGIN_ACCOUNT_LIMIT"]


def login_attempt_refused(username: str) -> bool:
    """Count this attempt against the account before its password is checked.

    True when the account's allowance was already spent: then check nothing and answer 429.
    Known and unknown usernames count alike.
    """
    return not throttle.take(_ATTEMPTS, _account_key(username), _account_limit())


def clear_login_attempts(username: str) -> None:
    """A right password: the account's attempts so far no longer count."""
    throttle.clear(_ATTEMPTS, _account_key(username), _account_limit())
