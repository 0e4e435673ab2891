"""Domain errors that views turn into a 4xx with a message a person understands."""

from __future__ import annotations


class TiplineError(Exception):
    """Base for errors whose `message` is safe to show to the user."""

    status_code = 400

    def __init__(self, message) -> None:
        super().__init__(str(message))
        self.message = message


class NotAllowed(TiplineError):
    status_code = 403


class StaleObject(TiplineError):
    status_code = 409
