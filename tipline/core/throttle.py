"""One rate-limit helper: count in the limiter's store, atomically, before anything is checked.

`take` increments a counter and compares it with its allowance in one step (the store's
`incr`, atomic in Redis), so twenty parallel requests can never all be let through an
allowance of five: count first, then verify. `peek` looks without counting, `clear`
gives a counter back (a right password), `retry_after` says when the window ends.

Keys are whatever the caller passes: callers pass keyed hashes, never an address or a
username. When the limiter's store fails (Redis down), this process counts on its own
for RETRY_STORE_SECONDS and logs one warning without any key or address, then tries the
store again: a dead store never locks everybody out, and never stops the counting.
The follow-up guard (tipline/public/guard.py) uses the same fallback through `call`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TypeVar

from flask import current_app
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage
from limits.strategies import FixedWindowRateLimiter, RateLimiter

T = TypeVar("T")

# After the store fails, count in this process for this long before trying the store
# again: a dead Redis costs one socket timeout per half minute, not one per request.
RETRY_STORE_SECONDS = 30
# `count` keeps its tally as a limit no one reaches.
_COUNT_CEILING = 1_000_000_000


def init_app(app, limiter) -> None:
    """Count in `limiter`'s store (given by the factory: core knows no extension)."""
    app.extensions.setdefault("tipline_throttle", {})["limiter"] = limiter


def _state() -> dict:
    return current_app.extensions.setdefault("tipline_throttle", {})


def _limiter():
    return _state()["limiter"]


def _local() -> MemoryStorage:
    state = _state()
    if "local" not in state:
        state["local"] = MemoryStorage()
    return state["local"]


def _shared() -> Storage:
    return _limiter().storage


def call(
    action: Callable[[Storage], T],
    *,
    shared: Callable[[], Storage] | None = None,
    label: str = "rate limits",
) -> T:
    """Run `action` on the limiter's store, or on this process's own while the store fails.

    `shared` gives the store (the limiter's by default); `label` names the caller in the
    one warning logged per outage (and half minute).
    """
    state = _state()
    if time.time() < state.get("store_failed_until", 0.0):
        return action(_local())
    try:
        return action((shared or _shared)())
    except Exception:
        if time.time() >= state.get("store_failed_until", 0.0):
            # No key, address or exception text: only that the store failed.
            current_app.logger.warning(
                "%s: the limiter store failed; counting in this process", label
            )
        state["store_failed_until"] = time.time() + RETRY_STORE_SECONDS
        return action(_local())


def _strategy(storage: Storage) -> RateLimiter:
    """The app's limiting strategy (fixed window by default) over `storage`."""
    return type(_limiter().limiter)(storage)


def _item(limit: str | RateLimitItem) -> RateLimitItem:
    return parse(limit) if isinstance(limit, str) else limit


def _identifiers(name: str, key: str) -> tuple[str, str, str]:
    return current_app.config["RATELIMIT_KEY_PREFIX"], name, key


def take(name: str, key: str, limit: str | RateLimitItem) -> bool:
    """Count one unit of `key`'s allowance under `name`; False when none was left.

    The count and the comparison are one step in the store: call it *before* the
    expensive or secret check it protects, and at most the allowance is ever checked.
    Always True while the limiter is turned off.
    """
    if not _limiter().enabled:
        return True
    item, ids = _item(limit), _identifiers(name, key)
    return call(lambda storage: _strategy(storage).hit(item, *ids))


def peek(name: str, key: str, limit: str | RateLimitItem) -> bool:
    """True while `key` has allowance left under `name` (nothing is counted)."""
    if not _limiter().enabled:
        return True
    item, ids = _item(limit), _identifiers(name, key)
    return call(lambda storage: _strategy(storage).test(item, *ids))


def clear(name: str, key: str, limit: str | RateLimitItem) -> None:
    """Give `key` its whole allowance back (e.g. after a right password)."""
    if not _limiter().enabled:
        return
    item, ids = _item(limit), _identifiers(name, key)
    call(lambda storage: _strategy(storage).clear(item, *ids))


def _rules_store() -> Storage:
    """The limiter's store, or this process's while limits are off: what `once` and
    `count` keep are rules of the app (single use, load), not limits one may turn off."""
    limiter = _limiter()
    return limiter.storage if limiter.enabled else _local()


def once(name: str, key: str, seconds: int) -> bool:
    """True the first time `key` is seen under `name` within `seconds`, False after."""
    item, ids = parse(f"1 per {seconds} second"), _identifiers(name, key)
    return call(
        lambda storage: FixedWindowRateLimiter(storage).hit(item, *ids), shared=_rules_store
    )


def count(name: str, key: str, seconds: int) -> int:
    """Count one event of `key` under `name`; how many there were in this window of
    `seconds` (fixed windows), this one included."""
    item, ids = parse(f"{_COUNT_CEILING} per {seconds} second"), _identifiers(name, key)
    # The fixed window's own key and expiry (what FixedWindowRateLimiter.hit increments):
    # one INCR in the store, whose answer is the count.
    return call(
        lambda storage: storage.incr(item.key_for(*ids), item.get_expiry()), shared=_rules_store
    )


def seen(name: str, key: str, seconds: int) -> int:
    """How many events `count` counted for `key` in this window (nothing is counted)."""
    item, ids = parse(f"{_COUNT_CEILING} per {seconds} second"), _identifiers(name, key)
    return call(lambda storage: storage.get(item.key_for(*ids)), shared=_rules_store)


def retry_after(name: str, key: str, limit: str | RateLimitItem) -> int:
    """Whole seconds until `key`'s window under `name` ends (at least 1)."""
    if not _limiter().enabled:
        return 1
    item, ids = _item(limit), _identifiers(name, key)
    stats = call(lambda storage: _strategy(storage).get_window_stats(item, *ids))
    return max(1, math.ceil(stats.reset_time - time.time()))
