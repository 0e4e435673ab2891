"""The proof of work that grows with the load (tipline/public/puzzle.py)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from tipline.core import throttle
from tipline.public import puzzle
from tipline.public.puzzle import Check

WORKER = Path(__file__).resolve().parents[1] / "tipline" / "static" / "puzzle-worker.js"


def _solve(token: str, bits: int) -> str:
    for n in range(1 << 26):
        digest = hashlib.sha256(f"{token}:{n}".encode()).digest()
        if puzzle.leading_zero_bits(digest) >= bits:
            return str(n)
    raise AssertionError("unsolved")


@pytest.fixture
def quiet(app, monkeypatch):
    """A request context with small thresholds and fresh counters."""
    for name, value in {
        "TIPLINE_PUZZLE_COMMUNE_PER_HOUR": 4,
        "TIPLINE_PUZZLE_CLIENT_PER_HOUR": 2,
        "TIPLINE_PUZZLE_BASE_BITS": 8,
        "TIPLINE_PUZZLE_MAX_BITS": 12,
    }.items():
        monkeypatch.setitem(app.config, name, value)
    with app.test_request_context():
        app.extensions["tipline_throttle"].pop("local", None)
        yield
        app.extensions["tipline_throttle"].pop("local", None)


def test_leading_zero_bits():
    assert puzzle.leading_zero_bits(b"\x00\x00\x01") == 23
    assert puzzle.leading_zero_bits(b"\x80") == 0
    assert puzzle.leading_zero_bits(b"\x0f\xff") == 4
    assert puzzle.leading_zero_bits(b"\x00\x00") == 16


def test_no_puzzle_at_the_usual_load(quiet):
    assert puzzle.bits_for("A", "client-1") == 0
    assert puzzle.check(None, None, "A", "client-1") == puzzle.Verdict(Check.NOT_ASKED, held=False)


def test_difficulty_grows_with_the_load_of_a_commune(quiet):
    for _ in range(3):
        puzzle.record("A", "someone")
    assert puzzle.bits_for("A", "client-9") == 0  # 3 of 4: still quiet
    puzzle.record("A", "someone-else")
    assert puzzle.bits_for("A", "client-9") == 8  # at the threshold: the base
    for _ in range(4):
        puzzle.record("A", "more")
    assert puzzle.bits_for("A", "client-9") == 9  # twice the threshold: one more bit
    for _ in range(100):
        puzzle.record("A", "flood")
    assert puzzle.bits_for("A", "client-9") == 12  # capped
    assert puzzle.bits_for("B", "client-9") == 0  # another commune is not concerned


def test_one_busy_client_is_asked_even_in_a_quiet_commune(quiet):
    puzzle.record("A", "busy")
    puzzle.record("B", "busy")
    assert puzzle.bits_for("C", "busy") == 8
    assert puzzle.bits_for("C", "calm") == 0


def test_a_solved_puzzle_passes_once(quiet):
    for _ in range(4):
        puzzle.record("A", "x")
    token = puzzle.issue("A", 8)
    answer = _solve(token, 8)
    assert puzzle.check(token, answer, "A", "c").check is Check.SOLVED
    again = puzzle.check(token, answer, "A", "c")  # spent
    assert again == puzzle.Verdict(Check.WRONG, held=True)


def test_forged_wrong_and_foreign_puzzles_do_not_pass(quiet):
    for _ in range(4):
        puzzle.record("A", "x")
    token = puzzle.issue("A", 8)
    answer = _solve(token, 8)
    other_commune = puzzle.issue("B", 8)
    easy = puzzle.issue("A", 1)  # easier than the base: only a forger would have it
    cases = [
        (token + "x", answer),
        (token, "not-a-number"),
        (token, "1" * 40),
        (other_commune, _solve(other_commune, 8)),
        (easy, _solve(easy, 1)),
    ]
    # an answer that does not reach the bits
    for n in range(1000):
        if puzzle.leading_zero_bits(hashlib.sha256(f"{token}:{n}".encode()).digest()) < 8:
            cases.append((token, str(n)))
            break
    for bad_token, bad_answer in cases:
        assert puzzle.check(bad_token, bad_answer, "A", "c").check is Check.WRONG


def test_a_puzzle_stocked_before_a_flood_does_not_pass_once_the_difficulty_rose(quiet):
    for _ in range(4):
        puzzle.record("A", "x")
    early, late = puzzle.issue("A", 8), puzzle.issue("A", 8)
    early_answer, late_answer = _solve(early, 8), _solve(late, 8)
    for _ in range(4):
        puzzle.record("A", "flood")
    assert puzzle.bits_for("A", "c") == 9  # one doubling while typing: still good
    assert puzzle.check(early, early_answer, "A", "c").check is Check.SOLVED
    for _ in range(8):
        puzzle.record("A", "flood")
    assert puzzle.bits_for("A", "c") == 10  # two doublings: too easy now
    assert puzzle.check(late, late_answer, "A", "c") == puzzle.Verdict(Check.WRONG, held=True)


def test_an_expired_puzzle_does_not_pass(quiet, app, monkeypatch):
    for _ in range(4):
        puzzle.record("A", "x")
    token = puzzle.issue("A", 8)
    answer = _solve(token, 8)
    monkeypatch.setitem(app.config, "TIPLINE_PUZZLE_SECONDS", -1)
    assert puzzle.check(token, answer, "A", "c").check is Check.WRONG


def test_without_a_puzzle_a_post_is_held_under_load_never_refused(quiet):
    for _ in range(4):
        puzzle.record("A", "x")
    verdict = puzzle.check(None, None, "A", "c")
    assert verdict == puzzle.Verdict(Check.MISSING, held=True)


def test_single_use_holds_with_limits_turned_off(quiet, app):
    assert app.config["RATELIMIT_ENABLED"] is False
    assert throttle.once("puzzle-spent", "n1", 60) is True
    assert throttle.once("puzzle-spent", "n1", 60) is False
    assert throttle.count("load", "k", 60) == 1
    assert throttle.count("load", "k", 60) == 2
    assert throttle.seen("load", "k", 60) == 2


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the worker's code")
def test_the_browsers_solver_finds_answers_the_server_accepts(quiet):
    for _ in range(4):
        puzzle.record("A", "x")
    tokens = [puzzle.issue("A", 8) for _ in range(3)] + ["a" * 59, "b" * 55, "c" * 120]
    script = (
        WORKER.read_text()
        + "\nvar out = [];"
        + "".join(f"out.push(solve({t!r}, 10));" for t in tokens)
        + "console.log(JSON.stringify(out));"
    )
    result = subprocess.run(
        ["node", "-e", script], capture_output=True, text=True, timeout=60, check=True
    )
    answers = __import__("json").loads(result.stdout)
    for token, answer in zip(tokens, answers, strict=True):
        digest = hashlib.sha256(f"{token}:{answer}".encode()).digest()
        assert puzzle.leading_zero_bits(digest) >= 10
        assert answer == _solve(token, 10)  # the first such number, as the server counts
    assert puzzle.check(tokens[0], answers[0], "A", "c").check is Check.SOLVED
