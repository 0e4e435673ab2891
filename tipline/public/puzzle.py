"""A proof of work that grows with the load (hashcash), instead of a CAPTCHA.

While a commune gets its usual trickle of tips (about one a day), nobody is asked
anything. When submissions to a commune, or from one client (the limiter's keyed hash
of its address: never the address), rise above a threshold within an hour, the form's
script asks for a puzzle before sending: find a number `n` such that
SHA-256("<puzzle>:<n>") starts with `bits` zero bits. The browser solves it in a Web
Worker (tipline/static/puzzle-worker.js, loaded only when a puzzle is asked for); each
further doubling of the load over the threshold adds one bit, i.e. doubles the work.

A puzzle is signed (the app's secret key), names its commune and difficulty, lives
PUZZLE_SECONDS and is spent by its first use (a short-lived record in the limiter's
store: Redis in production). A post without a solved puzzle is never refused for that
alone: the per-client limit still applies, and during a flood such a post is accepted
but held for staff to review as possible spam (`Verdict.held`), so a browser without
JavaScript is never locked out. No third-party service is involved.
"""

from __future__ import annotations

import enum
import hashlib
import math
import secrets
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from tipline.core import throttle

__all__ = [
    "Admission",
    "Check",
    "Verdict",
    "admit",
    "bits_for",
    "check",
    "issue",
    "leading_zero_bits",
    "record",
]

_SALT = "tipline-puzzle"
# Answers are decimal counters; a solver gives up long before this many digits.
_MAX_ANSWER_DIGITS = 15
_HOUR = 3600


class Check(enum.Enum):
    NOT_ASKED = "not_asked"  # no puzzle needed at this load
    SOLVED = "solved"
    MISSING = "missing"  # asked for, none sent (no JavaScript, an old page, a bot)
    WRONG = "wrong"  # malformed, forged, expired, spent, another commune, or not solved


@dataclass(frozen=True)
class Verdict:
    check: Check
    # Accept the post but hold it for review as possible spam.
    held: bool


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def _settings() -> dict:
    config = current_app.config
    return {
        "commune": config["TIPLINE_PUZZLE_COMMUNE_PER_HOUR"],
        "client": config["TIPLINE_PUZZLE_CLIENT_PER_HOUR"],
        "base": config["TIPLINE_PUZZLE_BASE_BITS"],
        "max": config["TIPLINE_PUZZLE_MAX_BITS"],
        "seconds": config["TIPLINE_PUZZLE_SECONDS"],
    }


def _bits(commune: int, client: int) -> int:
    """The difficulty at these counts of the last hour; 0 means no puzzle."""
    settings = _settings()
    # The load as a multiple of its threshold (≥ 1: a puzzle is asked for).
    load = max(commune / max(settings["commune"], 1), client / max(settings["client"], 1))
    if load < 1:
        return 0
    return min(settings["base"] + int(math.log2(load)), settings["max"])


def bits_for(commune_code: str, client_key: str) -> int:
    """The puzzle's difficulty for this commune and client now; 0 means no puzzle."""
    return _bits(
        throttle.seen("puzzle-commune", commune_code, _HOUR),
        throttle.seen("puzzle-client", client_key, _HOUR),
    )


def record(commune_code: str, client_key: str) -> None:
    """Count one accepted submission toward the load of the commune and of the client."""
    throttle.count("puzzle-commune", commune_code, _HOUR)
    throttle.count("puzzle-client", client_key, _HOUR)


def issue(commune_code: str, bits: int) -> str:
    """A signed puzzle for this commune at this difficulty."""
    return _serializer().dumps({"c": commune_code, "b": bits, "n": secrets.token_urlsafe(12)})


def leading_zero_bits(digest: bytes) -> int:
    bits = 0
    for byte in digest:
        if byte == 0:
            bits += 8
            continue
        return bits + 8 - byte.bit_length()
    return bits


def _solved(puzzle: str, answer: str, commune_code: str, required: int) -> bool:
    if not answer.isascii() or not answer.isdigit() or len(answer) > _MAX_ANSWER_DIGITS:
        return False
    try:
        claims = _serializer().loads(puzzle, max_age=_settings()["seconds"])
    except (SignatureExpired, BadSignature):
        return False
    if not isinstance(claims, dict) or claims.get("c") != commune_code:
        return False
    bits = claims.get("b")
    # One bit of slack: the load may have doubled while its resident typed. More would let
    # a flood stock up easy puzzles early and spend them once the difficulty has risen.
    if not isinstance(bits, int) or bits < max(required - 1, _settings()["base"]):
        return False
    digest = hashlib.sha256(f"{puzzle}:{answer}".encode()).digest()
    if leading_zero_bits(digest) < bits:
        return False
    # Single use: the first post with this puzzle spends it.
    return throttle.once("puzzle-spent", str(claims.get("n")), _settings()["seconds"])


def check(puzzle: str | None, answer: str | None, commune_code: str, client_key: str) -> Verdict:
    """What a post's puzzle fields say, at the load of its commune and client now."""
    return _judge(puzzle, answer, commune_code, bits_for(commune_code, client_key))


@dataclass(frozen=True)
class Admission:
    verdict: Verdict
    # Submissions to the commune in this hour's window, this one included.
    commune_count: int

    @property
    def flood_begins(self) -> bool:
        """This submission is the one past TIPLINE_FLOOD_PER_HOUR in its commune's window:
        the flood alarm goes once per window."""
        return self.commune_count == current_app.config["TIPLINE_FLOOD_PER_HOUR"] + 1


def admit(puzzle: str | None, answer: str | None, commune_code: str, client_key: str) -> Admission:
    """Count a submission toward the load of its commune and client, and judge its puzzle
    fields at the load before it: two increments in the store, nothing read twice."""
    commune = throttle.count("puzzle-commune", commune_code, _HOUR)
    client = throttle.count("puzzle-client", client_key, _HOUR)
    required = _bits(commune - 1, client - 1)
    return Admission(_judge(puzzle, answer, commune_code, required), commune)


def _judge(puzzle: str | None, answer: str | None, commune_code: str, required: int) -> Verdict:
    if puzzle and answer is not None:
        if _solved(puzzle, answer, commune_code, required or _settings()["base"]):
            return Verdict(Check.SOLVED, held=False)
        return Verdict(Check.WRONG, held=required > 0)
    if required == 0:
        return Verdict(Check.NOT_ASKED, held=False)
    return Verdict(Check.MISSING, held=True)
