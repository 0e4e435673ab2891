"""A TOTP code is good once, on every path; wrong second-factor codes count per account."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import time_machine
from sqlalchemy import func, select

from tipline.accounts import twofactor
from tipline.accounts.models import User
from tipline.api.models import StaffToken
from tipline.extensions import db

from .conftest import ALLOWANCE, PASSWORD, at_once

# 10:01:00 UTC: the start of a 30-second time step.
START = datetime(2026, 3, 12, 10, 1, tzinfo=UTC)
SECOND_FACTOR = "/staff/tai-khoan/xac-thuc"


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def code_at(secret: str, offset: int = 0) -> str:
    """The code of the current time step, or of one `offset` steps away."""
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(totp.timecode(datetime.now(UTC)) + offset)


def wrong_code(secret: str) -> str:
    """Six digits that are no code of the steps around now."""
    near = {code_at(secret, k) for k in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in near)


@pytest.fixture
def enrolled(world):
    """enrolled(name) -> (secret, recovery codes): two-factor on since ten minutes ago."""

    def enrol(name: str) -> tuple[str, list[str]]:
        user = db.session.scalar(select(User).where(User.username == name))
        secret = pyotp.random_base32()
        with time_machine.travel(START - timedelta(minutes=10), tick=False):
            codes = twofactor.enable(user, secret, pyotp.TOTP(secret).now())
        assert codes is not None
        db.session.commit()
        return secret, codes

    return enrol


def pending(app, name: str = "police_a", address: str = "198.51.100.1"):
    """A client that gave the right password and owes the second factor."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    response = client.post("/staff/login", data={"username": name, "password": PASSWORD})
    assert response.status_code == 302 and response.location.endswith(SECOND_FACTOR)
    return client


def second_factor(client, code: str):
    return client.post(SECOND_FACTOR, data={"code": code})


def signed_in(client) -> bool:
    return client.get("/staff/").status_code == 200


def token(app, code: str | None, name: str = "police_a", address: str = "198.51.100.1"):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    body = {"username": name, "password": PASSWORD}
    if code is not None:
        body["code"] = code
    return client.post("/api/v1/tokens", json=body)


def last_step(name: str = "police_a") -> int | None:
    db.session.expire_all()
    return db.session.scalar(select(User.totp_last_step).where(User.username == name))


# ------------------------------------------------------------------ a code is good once


def test_a_code_opens_one_session_only(app, enrolled, clock):
    secret, _ = enrolled("police_a")
    code = code_at(secret)
    first = pending(app)
    assert second_factor(first, code).status_code == 302 and signed_in(first)
    thief = pending(app, address="203.0.113.9")
    replay = second_factor(thief, code)
    assert replay.status_code == 401
    assert "đã dùng" in replay.get_data(as_text=True)
    assert not signed_in(thief)
    clock.shift(30)  # the next code works
    assert second_factor(thief, code_at(secret)).status_code == 302 and signed_in(thief)


def test_a_code_used_on_the_web_earns_no_api_token(app, enrolled, clock):
    secret, _ = enrolled("police_a")
    code = code_at(secret)
    assert second_factor(pending(app), code).status_code == 302
    replay = token(app, code)
    assert replay.status_code == 401
    assert db.session.scalar(select(func.count(StaffToken.id))) == 0


def test_a_code_that_earned_a_token_opens_no_session(app, enrolled, clock):
    secret, _ = enrolled("police_a")
    code = code_at(secret)
    assert token(app, code).status_code == 201
    assert token(app, code).status_code == 401
    client = pending(app)
    assert second_factor(client, code).status_code == 401 and not signed_in(client)


def test_the_code_that_turned_two_factor_on_cannot_sign_in(app, world, login, clock):
    import re

    client = login("police_a")
    page = client.get("/staff/tai-khoan/hai-buoc").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    code = code_at(secret)
    enabled = client.post("/staff/tai-khoan/hai-buoc", data={"secret": secret, "code": code})
    assert enabled.status_code == 200
    assert last_step() == pyotp.TOTP(secret).timecode(START)
    assert second_factor(pending(app), code).status_code == 401
    assert token(app, code).status_code == 401


def test_an_earlier_code_is_refused_once_a_later_one_was_used(app, enrolled, clock):
    secret, _ = enrolled("police_a")
    ahead = code_at(secret, +1)  # a phone whose clock runs half a minute fast
    assert token(app, ahead).status_code == 201
    assert token(app, code_at(secret)).status_code == 401  # the current step, now behind
    assert token(app, code_at(secret, -1)).status_code == 401
    clock.shift(60)
    assert token(app, code_at(secret)).status_code == 201


def test_codes_one_step_either_side_still_work(app, enrolled, clock):
    secret, _ = enrolled("police_a")
    assert token(app, code_at(secret, -1)).status_code == 201  # a phone half a minute slow
    assert token(app, code_at(secret, 0)).status_code == 201
    assert token(app, code_at(secret, +1)).status_code == 201
    assert token(app, code_at(secret, +2)).status_code == 401  # too far ahead
    assert last_step() == pyotp.TOTP(secret).timecode(START) + 1


@pytest.mark.commits  # parallel requests in threads
def test_parallel_requests_with_one_code_earn_one_token(app, enrolled, clock):
    secret, _ = enrolled("police_a")
    code = code_at(secret)
    results = at_once(10, lambda i: token(app, code, address=f"198.51.100.{i + 1}"))
    db.session.rollback()
    assert sorted(r.status_code for r in results) == [201] + [401] * 9
    assert db.session.scalar(select(func.count(StaffToken.id))) == 1


@pytest.mark.commits  # parallel requests in threads
def test_parallel_pending_sign_ins_with_one_code_open_one_session(app, enrolled, clock):
    secret, _ = enrolled("police_a")
    clients = [pending(app, address=f"198.51.100.{i + 1}") for i in range(8)]
    code = code_at(secret)
    results = at_once(8, lambda i: second_factor(clients[i], code))
    assert sorted(r.status_code for r in results) == [302] + [401] * 7
    assert sum(signed_in(c) for c in clients) == 1


# ------------------------------------------------------------------ recovery codes


def test_recovery_codes_work_once_each(app, enrolled, clock):
    _, recovery = enrolled("police_a")
    assert second_factor(pending(app), recovery[0]).status_code == 302
    assert second_factor(pending(app), recovery[0]).status_code == 401
    assert token(app, recovery[0]).status_code == 401
    assert token(app, recovery[1]).status_code == 201
    client = pending(app)
    assert second_factor(client, recovery[2].upper().replace("-", " ")).status_code == 302


@pytest.mark.commits  # parallel requests in threads
def test_parallel_requests_with_one_recovery_code_earn_one_token(app, enrolled, clock):
    _, recovery = enrolled("police_a")
    results = at_once(8, lambda i: token(app, recovery[3], address=f"198.51.100.{i + 1}"))
    db.session.rollback()
    assert sorted(r.status_code for r in results) == [201] + [401] * 7


# ------------------------------------------------------------------ wrong codes per account


@pytest.fixture
def checks(monkeypatch):
    """How many TOTP codes were compared with the secret."""
    lock = threading.Lock()
    seen = {"count": 0}
    real = twofactor.totp_step

    def counting(*args, **kwargs):
        with lock:
            seen["count"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(twofactor, "totp_step", counting)
    return seen


def test_wrong_codes_count_per_account_whichever_sign_in_or_client_sends_them(
    limited, enrolled, clock, checks
):
    app = limited()
    secret, recovery = enrolled("police_a")
    wrong = wrong_code(secret)
    guessers = [pending(app, address=f"198.51.100.{n + 1}") for n in range(3)]
    statuses = [second_factor(guessers[n % 3], wrong).status_code for n in range(ALLOWANCE)]
    assert statuses == [401] * ALLOWANCE

    checks["count"] = 0
    refused = second_factor(guessers[0], code_at(secret))  # not even the right code is checked
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 15 * 60
    assert "quá nhiều lần" in refused.get_data(as_text=True)
    assert checks["count"] == 0
    # That pending sign-in is over: it cannot keep guessing, it has to start again.
    again = second_factor(guessers[0], wrong)
    assert again.status_code == 302 and again.location.endswith("/staff/login")
    # A fresh sign-in, another client, the API or a recovery code: all refused unchecked.
    assert second_factor(pending(app, address="203.0.113.5"), recovery[0]).status_code == 429
    api = token(app, code_at(secret), address="203.0.113.6")
    assert api.status_code == 429 and "quá nhiều lần" in api.get_json()["error"]
    assert "Retry-After" in api.headers
    assert checks["count"] == 0


def test_the_second_factor_opens_again_when_the_window_ends(limited, enrolled, clock):
    # In memory: the store's clock is the test's (Redis expires keys by its own clock).
    app = limited(RATELIMIT_STORAGE_URI="memory://")
    secret, recovery = enrolled("police_a")
    for _ in range(ALLOWANCE):
        assert second_factor(pending(app), wrong_code(secret)).status_code == 401
    assert second_factor(pending(app), code_at(secret)).status_code == 429
    clock.shift(15 * 60)
    client = pending(app)
    assert second_factor(client, code_at(secret)).status_code == 302 and signed_in(client)
    assert second_factor(pending(app), recovery[0]).status_code == 302  # still unused


def test_the_web_and_the_api_share_the_second_factor_allowance(limited, enrolled, clock):
    app = limited()
    secret, _ = enrolled("police_a")
    wrong = wrong_code(secret)
    for _ in range(3):
        assert second_factor(pending(app), wrong).status_code == 401
    for _ in range(2):
        assert token(app, wrong).status_code == 401
    assert token(app, code_at(secret)).status_code == 429
    assert second_factor(pending(app), code_at(secret)).status_code == 429
    # Another account is not affected.
    other_secret, _ = enrolled("police_b")
    assert token(app, code_at(other_secret), name="police_b").status_code == 201


def test_a_right_code_gives_the_allowance_back(limited, enrolled, clock):
    app = limited()
    secret, _ = enrolled("police_a")
    wrong = wrong_code(secret)
    for _ in range(ALLOWANCE - 1):
        assert token(app, wrong).status_code == 401
    assert token(app, code_at(secret)).status_code == 201
    clock.shift(30)
    statuses = [token(app, wrong_code(secret)).status_code for _ in range(ALLOWANCE + 1)]
    assert statuses == [401] * ALLOWANCE + [429]


@pytest.mark.commits  # parallel requests in threads
def test_parallel_wrong_codes_check_at_most_the_allowance(limited, enrolled, clock, checks):
    app = limited()
    secret, _ = enrolled("police_a")
    wrong = wrong_code(secret)
    clients = [pending(app, address=f"198.51.100.{i + 1}") for i in range(20)]
    checks["count"] = 0
    results = at_once(20, lambda i: second_factor(clients[i], wrong))
    statuses = [r.status_code for r in results]
    assert checks["count"] <= ALLOWANCE
    assert statuses.count(401) == checks["count"]
    assert statuses.count(429) == 20 - checks["count"]


def test_a_missing_api_code_is_refused_without_spending_the_allowance(limited, enrolled, clock):
    app = limited()
    secret, _ = enrolled("police_a")
    for _ in range(ALLOWANCE + 2):
        assert token(app, None).status_code == 401
    assert token(app, code_at(secret)).status_code == 201
