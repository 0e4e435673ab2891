"""The channels an alert can take; each is one module of this package (see base.py)."""

from __future__ import annotations

from tipline.alerts.channels.base import Channel

# name -> channel object; a channel module adds itself with `register`.
CHANNELS: dict[str, Channel] = {}


def register(channel: Channel) -> Channel:
    CHANNELS[channel.name] = channel
    return channel
