"""The one rate-limit helper: atomic counts in the limiter's store, per process while it fails."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import time_machine
from limits.storage import MemoryStorage

from tipline.api import keys
from tipline.core import throttle
from tipline.extensions import limiter

from .conftest import settings_like

START = datetime(2026, 3, 12, 10, 1, tzinfo=UTC)


def redis_url() -> str | None:
    return os.environ.get("TIPLINE_TEST_REDIS_URL")


@pytest.fixture
def limited(other_app, app):
    """An app context with the limiter on: in Redis when the run has one, else in memory."""
    prefix = f"tipline-throttle-{uuid.uuid4().hex}"
    made = other_app(
        settings_like(
            app,
            RATELIMIT_ENABLED=True,
            RATELIMIT_STORAGE_URI=redis_url() or "memory://",
            RATELIMIT_KEY_PREFIX=prefix,
        )
    )
    with made.app_context():
        yield made
    url = redis_url()
    if url:
        import redis

        server = redis.Redis.from_url(url)
        try:
            found = list(server.scan_iter(match=f"*{prefix}*"))
            if found:
                server.delete(*found)
        finally:
            server.close()


def test_take_counts_up_to_the_allowance_then_refuses(limited):
    assert [throttle.take("t", "k", "3 per hour") for _ in range(5)] == [True] * 3 + [False] * 2
    assert throttle.take("t", "other", "3 per hour")  # keys count apart
    assert throttle.take("u", "k", "3 per hour")  # and names too


def test_peek_does_not_count_and_clear_gives_the_allowance_back(limited):
    assert [throttle.peek("t", "k", "2 per hour") for _ in range(4)] == [True] * 4
    assert throttle.take("t", "k", "2 per hour") and throttle.take("t", "k", "2 per hour")
    assert not throttle.peek("t", "k", "2 per hour")
    throttle.clear("t", "k", "2 per hour")
    assert throttle.peek("t", "k", "2 per hour")
    assert throttle.take("t", "k", "2 per hour")


def test_parallel_takes_never_exceed_the_allowance(limited):
    barrier = threading.Barrier(20)

    def one(_):
        with limited.app_context():
            barrier.wait()
            return throttle.take("t", "parallel", "5 per hour")

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(one, range(20)))
    assert results.count(True) == 5


def test_retry_after_counts_to_the_end_of_the_window(limited):
    with time_machine.travel(START, tick=False):
        throttle.take("t", "k", "1 per 15 minutes")
        assert 1 <= throttle.retry_after("t", "k", "1 per 15 minutes") <= 15 * 60


def test_everything_is_allowed_while_the_limiter_is_off(app, ctx):
    assert not limiter.enabled
    assert all(throttle.take("t", "k", "1 per hour") for _ in range(5))
    assert throttle.peek("t", "k", "1 per hour")


def test_api_limits_keep_their_keys_in_the_shared_store(limited):
    """keys.over_limit counts under the same store keys as before it used the helper."""
    from limits import parse

    prefix = limited.config["RATELIMIT_KEY_PREFIX"]
    with limited.test_request_context("/api/v1/tips"):
        limited.config["TIPLINE_API_TOKEN_LIMIT"] = "2 per hour"
        assert not keys.over_limit("TIPLINE_API_TOKEN_LIMIT", "token", "7")
        item = parse("2 per hour")
        stats = limiter.limiter.get_window_stats(item, prefix, "api", "token", "7")
        assert stats.remaining == 1
        assert not keys.over_limit("TIPLINE_API_TOKEN_LIMIT", "token", "7")
        assert keys.over_limit("TIPLINE_API_TOKEN_LIMIT", "token", "7")


# ------------------------------------------------------------------ a failing store


class DeadStore(MemoryStorage):
    """A store whose every call fails, as Redis does when it is gone."""

    calls = 0

    def _fail(self, *_args, **_kwargs):
        DeadStore.calls += 1
        raise ConnectionError("redis at 198.51.100.7 is gone")

    incr = get = clear = get_expiry = _fail


def test_a_failing_store_counts_in_the_process_with_one_warning(limited, monkeypatch, caplog):
    DeadStore.calls = 0
    monkeypatch.setattr(throttle, "_shared", DeadStore)
    caplog.set_level(logging.DEBUG)
    with time_machine.travel(START, tick=False) as clock:
        answers = [throttle.take("t", "k", "3 per hour") for _ in range(5)]
        assert answers == [True] * 3 + [False] * 2  # still counted, never all let through
        assert DeadStore.calls == 1  # one try, then this process counts for half a minute
        warnings = [r for r in caplog.records if "limiter store failed" in r.getMessage()]
        assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
        assert "198.51.100" not in caplog.text and "/k" not in caplog.text

        clock.shift(throttle.RETRY_STORE_SECONDS)
        assert not throttle.take("t", "k", "3 per hour")
        assert DeadStore.calls == 2  # the store was tried again
        monkeypatch.undo()
        clock.shift(throttle.RETRY_STORE_SECONDS)
        assert throttle.take("t", "k", "3 per hour")  # back in the store, which counted none
