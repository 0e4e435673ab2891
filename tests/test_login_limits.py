"""Sign-in attempts per account are counted before the password is checked, parallel or not."""

from __future__ import annotations

import threading

import pytest
from argon2 import PasswordHasher

from .conftest import ALLOWANCE, PASSWORD, at_once


@pytest.fixture
def checks(monkeypatch):
    """How many password hashes were verified (known accounts and the dummy hash alike)."""
    lock = threading.Lock()
    seen = {"count": 0}
    real = PasswordHasher.verify

    def counting(self, hash_, password):
        with lock:
            seen["count"] += 1
        return real(self, hash_, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    return seen


def web_login(app, username: str, password: str, address: str = "198.51.100.1"):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client.post("/staff/login", data={"username": username, "password": password})


def api_login(app, username: str, password: str, address: str = "198.51.100.1"):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client.post("/api/v1/tokens", json={"username": username, "password": password})


# ------------------------------------------------------------------ parallel guesses


@pytest.mark.commits  # parallel requests in threads
def test_parallel_wrong_passwords_on_the_web_check_at_most_the_allowance(limited, checks):
    app = limited()

    def guess(index):
        return web_login(app, "leader_a1", f"wrong {index}", f"198.51.100.{index + 1}")

    statuses = [response.status_code for response in at_once(20, guess)]
    assert checks["count"] <= ALLOWANCE
    assert statuses.count(401) == checks["count"]
    assert statuses.count(429) == 20 - checks["count"]
    # The allowance is spent: the right password is not even checked now.
    checks["count"] = 0
    refused = web_login(app, "leader_a1", PASSWORD)
    assert refused.status_code == 429
    assert "sai mật khẩu nhiều lần" in refused.get_data(as_text=True)
    assert checks["count"] == 0


@pytest.mark.commits  # parallel requests in threads
def test_parallel_wrong_passwords_on_the_api_check_at_most_the_allowance(limited, checks):
    app = limited()

    def guess(index):
        return api_login(app, "police_a", f"wrong {index}", f"198.51.100.{index + 1}")

    statuses = [response.status_code for response in at_once(20, guess)]
    assert checks["count"] <= ALLOWANCE
    assert statuses.count(401) == checks["count"]
    assert statuses.count(429) == 20 - checks["count"]


@pytest.mark.commits  # parallel requests in threads
def test_parallel_guesses_on_an_unknown_username_are_counted_alike(limited, checks):
    app = limited()
    statuses = [r.status_code for r in at_once(12, lambda i: web_login(app, "nobody", f"w{i}"))]
    assert checks["count"] <= ALLOWANCE
    assert statuses.count(429) >= 12 - ALLOWANCE


# ------------------------------------------------------------------ one by one


def test_every_attempt_counts_before_the_check_and_a_right_password_gives_it_back(limited, checks):
    app = limited()
    for _ in range(ALLOWANCE - 1):
        assert web_login(app, "leader_a1", "wrong").status_code == 401
    assert web_login(app, "leader_a1", PASSWORD).status_code == 302  # the last unit
    # The right password gave the allowance back: a typo or two later is not a lockout.
    statuses = [web_login(app, "leader_a1", "wrong").status_code for _ in range(ALLOWANCE + 1)]
    assert statuses == [401] * ALLOWANCE + [429]
    checks["count"] = 0
    assert web_login(app, "leader_a1", PASSWORD).status_code == 429
    assert checks["count"] == 0


def test_the_web_and_the_api_share_the_allowance_of_an_account(limited):
    app = limited()
    for _ in range(3):
        assert web_login(app, "Leader_A1 ", "wrong").status_code == 401  # any spelling
    for _ in range(2):
        assert api_login(app, "leader_a1", "wrong").status_code == 401
    refused = api_login(app, "leader_a1", PASSWORD)
    assert refused.status_code == 429
    assert "sai mật khẩu nhiều lần" in refused.get_json()["error"]
    # Other accounts are not affected.
    assert web_login(app, "leader_a2", PASSWORD).status_code == 302
    assert api_login(app, "police_a", PASSWORD).status_code == 201


def test_nothing_is_counted_while_the_limiter_is_off(app, world, checks):
    statuses = [web_login(app, "leader_a1", "wrong").status_code for _ in range(8)]
    assert statuses == [401] * 8 and checks["count"] == 8
    assert web_login(app, "leader_a1", PASSWORD).status_code == 302


# ------------------------------------------------------------------ a signed-in account


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/staff/tai-khoan/mat-khau", "current"),
        ("/staff/tai-khoan/hai-buoc/tat", "password"),
    ],
)
def test_password_checks_behind_a_session_count_against_the_account(limited, checks, url, field):
    """A stolen session cannot guess the password behind it: changing the password and
    turning two-factor off check it, and those checks take the account's allowance too."""
    app = limited()
    client = app.test_client()
    assert (
        client.post("/staff/login", data={"username": "leader_a1", "password": PASSWORD})
    ).status_code == 302
    data = {
        field: "sai mật khẩu",
        "new": "ba con mèo trèo cây cau",
        "confirm": "ba con mèo trèo cây cau",
    }
    answers = [client.post(url, data=data).status_code for _ in range(ALLOWANCE + 2)]
    assert 429 in answers
    assert answers.count(429) >= 2 and answers[-1] == 429
    before = checks["count"]
    data[field] = PASSWORD
    assert client.post(url, data=data).status_code == 429  # not even the right one is checked
    assert checks["count"] == before
