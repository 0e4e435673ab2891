"""Enums whose members carry a translated label, stored by their value."""

from __future__ import annotations

import enum

from markupsafe import escape
from sqlalchemy import Enum as SAEnum
from wtforms.fields.choices import SelectChoice


class LazyLabel:
    """A member's label read when shown: form choices are built once, at import, and must
    still speak the language of each request."""

    __slots__ = ("member",)

    def __init__(self, member: LabelledEnum) -> None:
        self.member = member

    def __str__(self) -> str:
        return self.member.label

    def __html__(self) -> str:
        return str(escape(self.member.label))

    def __eq__(self, other) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(self.member)

    def __repr__(self) -> str:
        return f"LazyLabel({self.member!r})"


class LabelledEnum(enum.StrEnum):
    """A string enum; subclasses define `_labels` (value -> lazy translated text)."""

    @property
    def label(self) -> str:
        return str(type(self)._labels()[self])

    @classmethod
    def _labels(cls) -> dict:
        raise NotImplementedError

    @classmethod
    def choices(cls, members=None) -> list[SelectChoice]:
        return [SelectChoice(m.value, LazyLabel(m)) for m in (members or cls)]


def enum_column(enum_cls: type[enum.Enum], name: str) -> SAEnum:
    """A portable VARCHAR + CHECK column type storing the enum's values, not its names."""
    return SAEnum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=24,
        values_callable=lambda cls: [m.value for m in cls],
        validate_strings=True,
    )
