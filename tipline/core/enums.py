"""Enums whose members carry a translated label, stored by their value."""

from __future__ import annotations

import enum

from sqlalchemy import Enum as SAEnum
from wtforms.fields.choices import SelectChoice


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
        return [SelectChoice(m.value, m.label) for m in (members or cls)]


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
