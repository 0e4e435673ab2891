"""Checking a receipt (reference + follow-up code) without helping anyone guess one."""

from __future__ import annotations

from tipline.core.errors import TiplineError
from tipline.tips.models import Tip
from tipline.tips.services import find_by_receipt


class TooManyAttempts(TiplineError):
    """Wrong codes came too fast: the message says when to try again."""

    status_code = 429

    def __init__(self, message, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def receipt_lookup(reference: str, code: str) -> Tip | None:
    """The tip for a receipt, or None; raises TooManyAttempts when slowed down."""
    return find_by_receipt(reference, code)
