"""What the tipster's status page shows of the conversation with staff.

Recording messages and status changes stays in `workflow`; the tipster's session is
`tipline.public.tipster_session`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from tipline.extensions import db
from tipline.tips.models import MessageKind, Tip, TipMessage


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
