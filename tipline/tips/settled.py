""" "Was it settled?": the tipster's answer after a tip is closed as resolved or unfounded.

Within TIPLINE_TIPSTER_REPLY_DAYS of the closing, the status page asks "Việc này đã được
giải quyết chưa?" (Đã xong / Chưa / Không biết, and an optional line). One answer per
tip, which may be changed inside the window; "Chưa" reopens the tip once (the workflow
does it: `workflow.record_tipster_answer`). The answers feed the satisfaction figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l

from tipline.core.errors import TiplineError
from tipline.core.text import clean_text
from tipline.core.timeutil import utcnow
from tipline.tips import workflow
from tipline.tips.models import SETTLED_STATUSES, Tip, TipsterAnswer

MAX_LINE = 300


class AnswerRefused(TiplineError):
    """An answer that cannot be taken now (window, reopened once, not closed): nothing changes."""

    status_code = 409


class BadAnswer(AnswerRefused):
    """An answer that is not one of the choices, or a line too long."""

    status_code = 422


@dataclass(frozen=True)
class Question:
    """What the status page shows of the question for one tip, now."""

    asked: bool  # the window is open: the form is shown
    answer: TipsterAnswer | None
    answered_at: datetime | None
    until: datetime | None  # end of the window
    may_reopen: bool  # "Chưa" would still reopen the tip

    @property
    def choices(self) -> list[TipsterAnswer]:
        return list(TipsterAnswer)


def window_end(tip: Tip) -> datetime | None:
    if tip.status not in SETTLED_STATUSES or tip.closed_at is None:
        return None
    return tip.closed_at + timedelta(days=current_app.config["TIPLINE_TIPSTER_REPLY_DAYS"])


def question(tip: Tip, now: datetime | None = None) -> Question:
    until = window_end(tip)
    asked = until is not None and (now or utcnow()) < until
    return Question(
        asked=asked,
        answer=tip.tipster_answer,
        answered_at=tip.tipster_answer_at,
        until=until,
        may_reopen=tip.reopened_at is None,
    )


def parse_answer(value: str | None) -> TipsterAnswer:
    try:
        return TipsterAnswer(value or "")
    except ValueError:
        raise BadAnswer(_l("Hãy chọn “Đã xong”, “Chưa” hoặc “Không biết”.")) from None


def answer(
    tip: Tip, value: str | None, line: str | None = None, *, at: datetime | None = None
) -> TipsterAnswer:
    """Take the tipster's answer, or raise AnswerRefused saying why (nothing changes)."""
    at = at or utcnow()
    chosen = parse_answer(value)
    text = clean_text(line) or None
    if text is not None and len(text) > MAX_LINE:
        raise BadAnswer(_l("Lời nhắn tối đa %(n)d ký tự.", n=MAX_LINE))
    until = window_end(tip)
    if until is None:
        raise AnswerRefused(workflow.NOT_CLOSED)
    if at >= until:
        raise AnswerRefused(
            _l(
                "Đã quá %(n)d ngày kể từ khi tin được đóng nên không trả lời được nữa. "
                "Nếu việc vẫn chưa xong, hãy gửi một tin báo mới.",
                n=current_app.config["TIPLINE_TIPSTER_REPLY_DAYS"],
            )
        )
    if chosen == TipsterAnswer.NOT_DONE and tip.reopened_at is not None:
        raise AnswerRefused(workflow.REOPENED_ONCE)
    workflow.record_tipster_answer(tip, chosen, text, at=at)
    return chosen
