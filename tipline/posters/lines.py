"""The SMS line a poster shows: the number of the gateway that serves a commune."""

from __future__ import annotations

from dataclasses import dataclass

from tipline.places.models import Unit


@dataclass(frozen=True)
class SmsLine:
    display: str  # the number as printed, e.g. "0912 345 678"
    hint: str  # what to text there


def sms_line(commune: Unit) -> SmsLine | None:
    """The commune's SMS line, or its province's; None where no gateway is registered
    (the SMS gateways' registry fills this in)."""
    return None
