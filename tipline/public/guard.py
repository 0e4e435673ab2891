"""Checking a receipt (reference + follow-up code) without helping anyone guess one.

Only wrong codes count, in the limiter's store (Redis in production), in fixed windows of
TIPLINE_FOLLOWUP_WRONG_WINDOW_MINUTES (an hour at most), under three keyed hashes that
also name the window, so no key links one window to the next or names anybody:

- the client (from `client_bucket`, the hourly keyed hash of its address): past its
  allowance it is refused (429) before anything is checked, the right code included;
- the reference (an HMAC of the normalized reference, known or not): past its allowance
  the reference is under attack, and then only clients with fewer than a few wrong codes
  on it *themselves* (the pair client + reference) still get their code checked.

A guesser slows only himself: the real tipster's phone has made no wrong try on that
reference (or one typo), so its right code still opens the tip during an attack.
A known reference with a wrong code and an unknown reference touch the same counters and
do the same work (see `find_by_receipt`). If the store fails, this process counts on its
own for RETRY_STORE_SECONDS and logs one warning without any address (the fallback of
tipline.core.throttle): a dead store never locks a resident out, and never stops the counting.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from limits.storage import Storage

from tipline.core import throttle
from tipline.core.errors import TiplineError
from tipline.core.privacy import client_bucket
from tipline.extensions import limiter
from tipline.tips.models import Tip
from tipline.tips.services import find_by_receipt, normalize_code, normalize_reference


class TooManyAttempts(TiplineError):
    """Wrong codes came too fast: the message says when to try again."""

    status_code = 429

    def __init__(self, message, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limits:
    per_client: int
    per_reference: int
    per_client_reference: int
    window: int  # seconds

    @classmethod
    def from_config(cls, config) -> Limits:
        return cls(
            per_client=max(1, int(config["TIPLINE_FOLLOWUP_WRONG_PER_CLIENT"])),
            per_reference=max(1, int(config["TIPLINE_FOLLOWUP_WRONG_PER_REFERENCE"])),
            per_client_reference=max(1, int(config["TIPLINE_FOLLOWUP_WRONG_PER_CLIENT_REFERENCE"])),
            # At most an hour: no key in the store may outlive it (the client's hash
            # changes every hour anyway).
            window=min(60, max(1, int(config["TIPLINE_FOLLOWUP_WRONG_WINDOW_MINUTES"]))) * 60,
        )


def receipt_lookup(reference: str, code: str, client: str | None = None) -> Tip | None:
    """The tip for a receipt, or None; raises TooManyAttempts when slowed down.

    `client`: who asks, when it is not the request's address (an SMS: its number's hash)."""
    if not limiter.enabled:
        return find_by_receipt(reference, code)
    limits = Limits.from_config(current_app.config)
    now = time.time()
    window = int(now // limits.window)
    retry_after = max(1, math.ceil((window + 1) * limits.window - now))
    keys = _keys(reference, window, client)
    counter = _Counter(limits)

    if counter.over("client", keys.client, limits.per_client):
        raise _refused(retry_after)
    if counter.over("reference", keys.reference, limits.per_reference) and counter.over(
        "pair", keys.pair, limits.per_client_reference
    ):
        raise _refused(retry_after)

    tip = find_by_receipt(reference, code)
    if tip is None:
        counter.hit("client", keys.client)
        counter.hit("reference", keys.reference)
        counter.hit("pair", keys.pair)
    return tip


def _refused(retry_after: int) -> TooManyAttempts:
    minutes = max(1, math.ceil(retry_after / 60))
    message = _l(
        "Mã tra cứu đã bị nhập sai quá nhiều lần. Hãy đợi %(minutes)s phút rồi thử lại. "
        "Tin báo của bạn vẫn an toàn: không ai xem được tin khi không có đúng mã tra cứu.",
        minutes=minutes,
    )
    return TooManyAttempts(message, retry_after)


# --- keys ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Keys:
    client: str
    reference: str
    pair: str


def _guard_key(window: int) -> bytes:
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, f"followup-guard:{window}".encode(), hashlib.sha256).digest()


def _keys(reference: str, window: int, who: str | None = None) -> _Keys:
    """Counter names for this window: keyed hashes, the same work for any reference."""
    key = _guard_key(window)
    # A typed reference that is not well formed still gets its own counter.
    canonical = normalize_reference(reference) or normalize_code(reference)[:40]
    who = who or client_bucket()
    client = hmac.new(key, f"client:{who}".encode(), hashlib.sha256).hexdigest()[:32]
    ref = hmac.new(key, f"reference:{canonical}".encode(), hashlib.sha256).hexdigest()[:32]
    pair = hmac.new(key, f"pair:{client}:{ref}".encode(), hashlib.sha256).hexdigest()[:32]
    return _Keys(client=client, reference=ref, pair=pair)


# --- counting ------------------------------------------------------------------------------

# The store and its per-process fallback are tipline.core.throttle's (one warning per
# outage, no address); kept here under the name the guard's tests know.
RETRY_STORE_SECONDS = throttle.RETRY_STORE_SECONDS
_LABEL = "follow-up guard"


class _Counter:
    """Wrong codes per key in the limiter's store; per process while the store fails."""

    def __init__(self, limits: Limits) -> None:
        self.window = limits.window
        self.prefix = current_app.config["RATELIMIT_KEY_PREFIX"]

    def _name(self, kind: str, key: str) -> str:
        return f"{self.prefix}/followup/{kind}/{key}"

    def over(self, kind: str, key: str, allowance: int) -> bool:
        name = self._name(kind, key)
        count = throttle.call(lambda store: store.get(name), shared=_store, label=_LABEL)
        return count >= allowance

    def hit(self, kind: str, key: str) -> None:
        name = self._name(kind, key)
        throttle.call(lambda store: store.incr(name, self.window), shared=_store, label=_LABEL)


def _store() -> Storage:
    return _shared()  # looked up at each call: tests put a failing store in its place


def _shared() -> Storage:
    return limiter.storage
