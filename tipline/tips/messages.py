"""The tipster's side of the conversation: a short signed session, and what the status page shows.

The session is a cookie holding only the tip's public id, signed with a timestamp
(itsdangerous); nothing about it is stored on the server, and it carries no reference,
code, address or user agent. Status changes and the recording of messages stay in
`workflow`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from tipline.extensions import db
from tipline.tips.models import MessageKind, Tip, TipMessage

_SALT = "tipster-session"


class SessionEnded(Exception):
    """No valid tipster session: missing, tampered with, expired, or its tip is gone."""

    def __init__(self, expired: bool) -> None:
        super().__init__("expired" if expired else "missing")
        self.expired = expired


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def session_minutes() -> int:
    return int(current_app.config["TIPLINE_TIPSTER_SESSION_MINUTES"])


def session_token(tip: Tip) -> str:
    """A signed token naming the tip by its public id only."""
    return _serializer().dumps(tip.public_id)


def tip_for_session(token: str | None) -> Tip:
    """The tip of a valid session token; raises SessionEnded otherwise."""
    if not token:
        raise SessionEnded(expired=False)
    try:
        public_id = _serializer().loads(token, max_age=session_minutes() * 60)
    except SignatureExpired:
        raise SessionEnded(expired=True) from None
    except BadData:
        raise SessionEnded(expired=False) from None
    if not isinstance(public_id, str):
        raise SessionEnded(expired=False)
    tip = db.session.scalar(select(Tip).where(Tip.public_id == public_id))
    if tip is None:
        raise SessionEnded(expired=False)
    return tip


@dataclass(frozen=True)
class PublicMessage:
    at: datetime
    kind: MessageKind
    body: str | None  # None once the retention purge has removed it
    from_tipster: bool


def public_messages(tip: Tip) -> list[PublicMessage]:
    """The conversation as the tipster sees it: no staff names, only this tip's messages.

    A tip merged as a duplicate keeps its own conversation; nothing of the other tip's.
    """
    rows = db.session.scalars(
        select(TipMessage)
        .where(TipMessage.tip_id == tip.id)
        .order_by(TipMessage.created_at, TipMessage.id)
    )
    return [PublicMessage(m.created_at, m.kind, m.body, m.kind.from_tipster) for m in rows]


def has_open_question(messages: list[PublicMessage]) -> bool:
    """Whether staff asked something the tipster has not answered since."""
    waiting = False
    for message in messages:
        if message.kind == MessageKind.QUESTION:
            waiting = True
        elif message.from_tipster:
            waiting = False
    return waiting
