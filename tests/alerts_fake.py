"""A local fake alert channel for the alerts tests and the worker bench."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from tipline.alerts.channels import CHANNELS
from tipline.alerts.channels.base import Alert, DeliveryError


@dataclass
class FakeChannel:
    """Records every send; `fail` decides per call (None: take it)."""

    name: str = "fake"
    idempotent: bool = False
    sent: list[tuple[str, Alert]] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)
    fail: object = None  # a DeliveryError to raise, or a callable(target, alert) -> error|None
    resident: dict[int, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    on: bool = True

    def available(self) -> bool:
        return self.on

    def staff_targets(self, user_id: int) -> list[str]:
        return [f"user-{user_id}"]

    def resident_targets(self, tip_id: int) -> list[str]:
        return list(self.resident.get(tip_id, []))

    def send(self, target: str, alert: Alert, *, timeout: float) -> None:
        error = self.fail(target, alert) if callable(self.fail) else self.fail
        if error is not None:
            raise error
        with self.lock:
            self.sent.append((target, alert))

    def forget(self, target: str) -> None:
        self.forgotten.append(target)


def install(channel: FakeChannel) -> FakeChannel:
    CHANNELS[channel.name] = channel
    return channel


def remove(channel: FakeChannel) -> None:
    CHANNELS.pop(channel.name, None)


__all__ = ["DeliveryError", "FakeChannel", "install", "remove"]
