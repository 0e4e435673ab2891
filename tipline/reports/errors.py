"""The reports' two errors: bad input (400) and a unit out of scope (404)."""

from __future__ import annotations

from tipline.core.errors import TiplineError


class ReportError(TiplineError):
    """Bad report input (period, unit, filter), explained to the person."""


class OutOfScope(TiplineError):
    """A unit that does not exist or lies outside one's scope: the same 404 for both."""

    status_code = 404
