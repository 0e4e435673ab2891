"""The SMS line a poster shows: the number of the gateway that serves a commune."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

from tipline.places.models import Unit, UnitLevel


@dataclass(frozen=True)
class SmsLine:
    display: str  # the number as printed, e.g. "0912 345 678"
    hint: str  # what to text there


def sms_line(commune: Unit) -> SmsLine | None:
    """The commune's SMS line, or its province's; None where no gateway is registered."""
    from tipline.sms.gateways import serving  # the registry imports places, not posters

    gateway = serving(commune)
    if gateway is None:
        return None
    if gateway.unit.level == UnitLevel.COMMUNE:
        hint = _("Nhắn tin kể việc bạn thấy (có dấu hay không dấu đều được).")
    else:
        hint = _("Nhắn tin kể việc bạn thấy, rồi trả lời tên xã khi được hỏi.")
    return SmsLine(gateway.number, hint)
