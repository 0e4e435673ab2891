"""Ready-made replies (response templates): kept per commune, offered on a tip's page.

Who may use or manage them is `permissions.template_communes`; this module only reads
and writes them for the communes it is given.
"""

from __future__ import annotations

from sqlalchemy import select

from tipline.extensions import db
from tipline.places.models import Unit
from tipline.tips.models import ResponseTemplate, Tip


def templates_for(tip: Tip) -> list[ResponseTemplate]:
    """The ready-made replies of the tip's commune."""
    commune = tip.unit.commune
    if commune is None:
        return []
    return templates_of([commune])


def templates_of(communes: list[Unit]) -> list[ResponseTemplate]:
    """The ready-made replies of these communes, by title."""
    return list(
        db.session.scalars(
            select(ResponseTemplate)
            .where(ResponseTemplate.unit_id.in_([c.id for c in communes]))
            .order_by(ResponseTemplate.title)
        )
    )


def add_template(commune: Unit, title: str, body: str) -> ResponseTemplate:
    template = ResponseTemplate(unit_id=commune.id, title=title, body=body)
    db.session.add(template)
    return template


def template_in(communes: list[Unit], template_id: int | None) -> ResponseTemplate | None:
    """One ready-made reply of these communes; None if missing or another commune's."""
    template = db.session.get(ResponseTemplate, template_id) if template_id else None
    if template is None or template.unit_id not in {c.id for c in communes}:
        return None
    return template


def delete_template(template: ResponseTemplate) -> None:
    db.session.delete(template)
