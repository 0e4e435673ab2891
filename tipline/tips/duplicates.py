"""Possible duplicates of a tip: same commune, close in time, similar words."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app

from tipline.accounts.models import User
from tipline.extensions import db
from tipline.tips.intake import search_text_of
from tipline.tips.models import Tip, TipStatus
from tipline.tips.queries import TipUnit, visible_tips


@dataclass(frozen=True)
class DuplicateCandidate:
    tip: Tip
    score: float
    same_village: bool
    same_category: bool
    hours_apart: float


def duplicate_candidates(tip: Tip, user: User, *, limit: int = 5) -> list[DuplicateCandidate]:
    """Tips of the same commune, close in time, with similar text, that `user` may read."""
    window = timedelta(days=current_app.config["TIPLINE_DUPLICATE_WINDOW_DAYS"])
    area = tip.unit.commune or tip.unit
    query = (
        visible_tips(user)
        .where(
            TipUnit.path.startswith(area.path, autoescape=True),
            Tip.id != tip.id,
            Tip.status.notin_([TipStatus.DUPLICATE, TipStatus.REJECTED]),
            # A flood's copies held as possible spam are not what a tip is merged into.
            Tip.held.is_(False),
            Tip.submitted_at.between(tip.submitted_at - window, tip.submitted_at + window),
        )
        .limit(300)
    )
    mine = tip.search_text or search_text_of(tip)
    found = []
    for other in db.session.scalars(query).unique():
        text = similarity(mine, other.search_text or search_text_of(other))
        hours = abs((other.submitted_at - tip.submitted_at).total_seconds()) / 3600
        closeness = 1 - min(hours / (window.total_seconds() / 3600), 1)
        same_village = other.unit_id == tip.unit_id
        same_category = other.category_id == tip.category_id
        score = 0.6 * text + 0.15 * closeness + 0.15 * same_category + 0.1 * same_village
        if text >= 0.3 and score >= 0.45:
            found.append(DuplicateCandidate(other, score, same_village, same_category, hours))
    found.sort(key=lambda c: (-c.score, c.tip.submitted_at))
    return found[:limit]


def similarity(a: str, b: str) -> float:
    """Between 0 and 1: shared words and shared word order of two folded texts."""
    words_a, words_b = set(a.split()), set(b.split())
    if not words_a or not words_b:
        return 0.0
    overlap = len(words_a & words_b) / len(words_a | words_b)
    sequence = difflib.SequenceMatcher(None, a.split(), b.split(), autojunk=False).ratio()
    return max(overlap, sequence)
