"""The proof of work on the public form (issue 21): asked for under a flood, never required.

The puzzle itself is tested in test_puzzle.py. Here: the form's endpoint that hands one
out, the submission that judges it, what a flood of posts leaves in the database (held
tips, no alert per tip, one flood alarm), and that an honest resident still gets through.
"""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import func, select

from tipline.alerts.channels.base import FLOOD, NEW_TIP
from tipline.alerts.models import Notification
from tipline.extensions import db
from tipline.public import puzzle
from tipline.tips.models import Tip
from tipline.tips.services import new_submission_key

SMALL = {
    "TIPLINE_PUZZLE_COMMUNE_PER_HOUR": 5,
    "TIPLINE_PUZZLE_CLIENT_PER_HOUR": 3,
    "TIPLINE_PUZZLE_BASE_BITS": 8,
    "TIPLINE_PUZZLE_MAX_BITS": 10,
    "TIPLINE_FLOOD_PER_HOUR": 6,
}


@pytest.fixture
def small(app, monkeypatch):
    for name, value in SMALL.items():
        monkeypatch.setitem(app.config, name, value)


def solve(token: str, bits: int) -> str:
    for n in range(1 << 22):
        if puzzle.leading_zero_bits(hashlib.sha256(f"{token}:{n}".encode()).digest()) >= bits:
            return str(n)
    raise AssertionError("unsolved")


def tip_form(world, **extra) -> dict:
    return {
        "submission_key": new_submission_key(),
        "village": world.a1.code,
        "category": world.theft.code,
        "description": "Có người lạ đột nhập kho hợp tác xã lúc nửa đêm.",
        "identity_tier": "anonymous",
        **extra,
    }


def send(client, world, address: str = "10.0.0.1", commune: str | None = None, **extra):
    return client.post(
        f"/gui-tin?xa={commune or world.commune_a.code}",
        data=tip_form(world, **extra),
        content_type="multipart/form-data",
        environ_base={"REMOTE_ADDR": address},
    )


def ask(client, world, address: str = "10.0.0.1", commune: str | None = None):
    return client.get(
        f"/gui-tin/cau-do?xa={commune or world.commune_a.code}",
        environ_base={"REMOTE_ADDR": address},
    )


def newest() -> Tip:
    return db.session.scalars(select(Tip).order_by(Tip.id.desc())).first()


def alerts(kind: str) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Notification).where(Notification.kind == kind)
    )


def test_no_puzzle_at_the_usual_load(client, world, small):
    page = client.get(f"/gui-tin?xa={world.commune_a.code}").get_data(as_text=True)
    assert f'data-puzzle="/gui-tin/cau-do?xa={world.commune_a.code}"' in page
    asked = ask(client, world)
    assert asked.status_code == 200 and asked.get_json() == {"puzzle": None, "bits": 0}
    assert "no-store" in asked.headers["Cache-Control"]
    assert send(client, world).status_code == 200
    tip = newest()
    assert not tip.held
    assert alerts(NEW_TIP) == 1


def test_an_unknown_commune_gets_a_clear_404(client, world):
    asked = client.get("/gui-tin/cau-do?xa=KHONG-CO")
    assert asked.status_code == 404
    assert "Không tìm thấy xã" in asked.get_json()["error"]
    assert client.get("/gui-tin/cau-do").status_code == 404


def test_a_client_past_its_threshold_is_asked_and_held_without_an_answer(client, world, small):
    for _ in range(3):
        assert send(client, world).status_code == 200
        assert not newest().held
    asked = ask(client, world).get_json()
    assert asked["bits"] == 8 and asked["puzzle"]
    # Another phone in the commune is not asked: 3 of the commune's 5.
    assert ask(client, world, "10.0.0.2").get_json() == {"puzzle": None, "bits": 0}
    # Without an answer (no script, an old page, a bot): accepted, held, alerts nobody.
    response = send(client, world)
    assert response.status_code == 200 and 'id="reference"' in response.get_data(as_text=True)
    assert newest().held
    assert alerts(NEW_TIP) == 3


def test_a_solved_puzzle_goes_through_once(client, world, small):
    for _ in range(3):
        send(client, world)
    asked = ask(client, world).get_json()
    answer = solve(asked["puzzle"], asked["bits"])
    assert send(client, world, puzzle=asked["puzzle"], puzzle_answer=answer).status_code == 200
    assert not newest().held
    assert alerts(NEW_TIP) == 4
    # Spent by its first use: the same answer again is held.
    assert send(client, world, puzzle=asked["puzzle"], puzzle_answer=answer).status_code == 200
    assert newest().held


@pytest.mark.parametrize(
    "fields",
    [
        {"puzzle_answer": "12"},  # no puzzle
        {"puzzle": "not-a-puzzle", "puzzle_answer": "1"},  # forged
        {"puzzle": "x" * 5000, "puzzle_answer": "1"},  # overlong
        {"puzzle": "OTHER", "puzzle_answer": "-1"},  # another commune's (below), a bad answer
    ],
)
def test_a_wrong_answer_under_load_is_held_never_refused(client, world, small, fields):
    for _ in range(3):
        send(client, world)
    if fields.get("puzzle") == "OTHER":
        other = ask(client, world, commune=world.commune_b.code)
        assert other.status_code == 200
        with client.application.test_request_context():
            fields = {"puzzle": puzzle.issue(world.commune_b.code, 8), "puzzle_answer": "0"}
    response = send(client, world, **fields)
    assert response.status_code == 200
    assert newest().held


def test_the_difficulty_grows_with_the_flood_up_to_its_cap(client, world, small):
    addresses = iter(f"10.1.0.{n}" for n in range(1, 250))
    bits = []
    for _ in range(24):
        send(client, world, next(addresses))
        bits.append(ask(client, world, "10.9.9.9").get_json()["bits"])
    # Commune threshold 5: the base at 5, one bit more at 10 and at 20, capped at 10.
    assert bits[3] == 0 and bits[4] == 8 and bits[9] == 9 and bits[19] == 10 and bits[23] == 10


def test_the_flood_alarm_goes_once_per_window(client, world, small):
    for n in range(9):
        send(client, world, f"10.2.0.{n}")
    [alarm] = db.session.scalars(select(Notification).where(Notification.kind == FLOOD)).all()
    # The seventh tip (past 6 an hour) raised it, for the staff who can act: the worker
    # finds its commune police.
    seventh = db.session.scalars(select(Tip.id).order_by(Tip.id)).all()[6]
    assert alarm.tip_id == seventh and alarm.for_staff


def test_a_flood_from_many_addresses_is_held_and_an_honest_resident_gets_through(
    client, world, small
):
    """500 posts without a puzzle, each from another address (a botnet): once the
    commune passes its threshold every one is held, so the inbox gets its first five and
    the phones one flood alarm. A resident whose page solves the puzzle is not held."""
    statuses = {send(client, world, f"10.{n // 250}.{n % 250}.7").status_code for n in range(500)}
    assert statuses == {200}
    held = db.session.scalar(select(func.count()).select_from(Tip).where(Tip.held))
    assert held == 495
    assert alerts(NEW_TIP) == 5 and alerts(FLOOD) == 1
    honest = ask(client, world, "192.0.2.10").get_json()
    assert honest["bits"] == SMALL["TIPLINE_PUZZLE_MAX_BITS"]
    answer = solve(honest["puzzle"], honest["bits"])
    sent = send(client, world, "192.0.2.10", puzzle=honest["puzzle"], puzzle_answer=answer)
    assert sent.status_code == 200 and not newest().held
    assert alerts(NEW_TIP) == 6


def test_a_flood_from_one_client_meets_its_limit_and_leaves_the_rest_alone(limited, world, small):
    """500 posts from one phone with the real limiter: 20 an hour are taken (held past
    the client's threshold of 3), the rest refused with a reason; a neighbour still sends."""
    app = limited(TIPLINE_SUBMIT_LIMIT="20 per hour", **SMALL)
    client = app.test_client()
    statuses = [send(client, world, "10.3.0.1").status_code for _ in range(500)]
    assert statuses.count(200) == 20 and statuses.count(429) == 480
    refused = send(client, world, "10.3.0.1")
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    held = db.session.scalars(select(Tip.held).order_by(Tip.id)).all()
    assert held == [False] * 3 + [True] * 17
    # The neighbour: the commune is past its threshold, so its page is asked for a puzzle.
    asked = ask(client, world, "10.3.0.2").get_json()
    answer = solve(asked["puzzle"], asked["bits"])
    sent = send(client, world, "10.3.0.2", puzzle=asked["puzzle"], puzzle_answer=answer)
    assert sent.status_code == 200 and not newest().held
