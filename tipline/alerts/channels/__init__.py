"""The channels an alert can take; each is one module of this package (see base.py)."""

from __future__ import annotations

import importlib
import pkgutil

from flask_babel import lazy_gettext as _l

from tipline.alerts.channels.base import Channel

# name -> channel object; a channel module adds itself with `register`.
CHANNELS: dict[str, Channel] = {}

# What a person reads for a channel's name; a channel may carry its own `label` instead.
LABELS = {
    "inapp": _l("Trong ứng dụng"),
    "email": _l("Thư điện tử"),
    "webpush": _l("Thông báo trên điện thoại"),
    "sms": _l("Tin nhắn SMS"),
}


def register(channel: Channel) -> Channel:
    CHANNELS[channel.name] = channel
    return channel


def load_channels() -> dict[str, Channel]:
    """Import every channel module of this package (each registers itself); idempotent."""
    for module in pkgutil.iter_modules(__path__):
        if module.name != "base":
            importlib.import_module(f"{__name__}.{module.name}")
    return CHANNELS


def label(name: str) -> str:
    channel = CHANNELS.get(name)
    return str(getattr(channel, "label", None) or LABELS.get(name, name))


def ordered() -> list[Channel]:
    """The channels in the order settings pages show them: in-app, e-mail, the others."""
    first = ["inapp", "email", "webpush", "sms"]
    # A channel with `residents_only` (SMS replies to a tip that came by SMS) has no
    # settings for staff.
    return sorted(
        (c for c in CHANNELS.values() if not getattr(c, "residents_only", False)),
        key=lambda c: (first.index(c.name) if c.name in first else len(first), c.name),
    )
