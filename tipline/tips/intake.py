"""Intake: what a new tip takes from its category (priority, due dates) and its search text.

Called by the submission service for every new tip, however it was recorded (the form,
on behalf of a resident, a partner system); nothing here reads or writes anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, has_app_context

from tipline.core.text import fold
from tipline.core.timeutil import utcnow
from tipline.extensions import db
from tipline.tips.models import Category, Priority, Tip

# Used when the configuration says nothing about a category: (priority, days to a first
# response, days to settle).
FALLBACK_DEFAULTS = ("normal", 3, 30)


@dataclass(frozen=True)
class CategoryDefaults:
    priority: Priority
    response_days: int
    settle_days: int


def category_defaults(category_code: str | None) -> CategoryDefaults:
    """The configured priority and handling periods of a category (TIPLINE_TRIAGE_DEFAULTS)."""
    table = {}
    fallback = FALLBACK_DEFAULTS
    if has_app_context():
        table = current_app.config.get("TIPLINE_TRIAGE_DEFAULTS") or {}
        fallback = current_app.config.get("TIPLINE_TRIAGE_FALLBACK") or FALLBACK_DEFAULTS
    priority, response_days, settle_days = table.get(category_code or "", fallback)
    return CategoryDefaults(Priority(priority), int(response_days), int(settle_days))


def apply_intake_defaults(tip: Tip) -> None:
    """Fill what a new tip takes from its category, and its search text (before INSERT)."""
    category = tip.category
    if category is None and tip.category_id is not None:
        with db.session.no_autoflush:
            category = db.session.get(Category, tip.category_id)
    defaults = category_defaults(category.code if category else None)
    if category is not None:  # what an administrator set on the category comes first
        defaults = CategoryDefaults(
            category.default_priority or defaults.priority,
            category.response_days or defaults.response_days,
            category.settle_days or defaults.settle_days,
        )
    submitted = tip.submitted_at or utcnow()
    if tip.priority is None:
        tip.priority = defaults.priority
    if tip.response_due_at is None:
        tip.response_due_at = submitted + timedelta(days=defaults.response_days)
    if tip.settle_due_at is None:
        tip.settle_due_at = submitted + timedelta(days=defaults.settle_days)
    if tip.activity_at is None:
        tip.activity_at = submitted
    tip.search_text = search_text_of(tip)


def search_text_of(tip: Tip) -> str:
    return fold(" ".join(part for part in (tip.description, tip.place) if part))
