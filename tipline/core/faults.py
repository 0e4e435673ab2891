"""Named crash points: places in the code where a test can make a fault happen on purpose.

``crash_point("name")`` does nothing unless that name is armed, by a test (:func:`arm`)
or, for a server process started by a test, by the environment:

    TIPLINE_CRASH_POINT=storage.after_tmp_write    the point to fire
    TIPLINE_CRASH_ACTION=kill                       kill (SIGKILL this process, the
                                                     default from the environment),
                                                     enospc (raise a full-disk OSError)
                                                     or raise (raise CrashPointReached)
    TIPLINE_CRASH_SKIP=1                            let that many passes go first (an
                                                     upload writes two files: 1 hits
                                                     the second)

The environment is read once, at import: an armed point in production would need the
variable set on purpose. Unarmed, a crash point costs one dictionary lookup.
"""

from __future__ import annotations

import errno
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["POINTS", "CrashPointReached", "arm", "armed", "crash_point", "disarm"]

# Every point the code declares, so tests can walk them all and a typo cannot arm nothing.
POINTS = (
    "storage.before_tmp_write",  # nothing written yet
    "storage.after_tmp_write",  # the temporary file holds the data, not yet in place
    "storage.after_rename",  # the file is in place, its folder not yet synced
    "submit.after_photos",  # the photo files are stored, no row written yet
    "submit.after_flush",  # the rows are flushed, not committed
)

ACTIONS = ("kill", "enospc", "raise")


class CrashPointReached(Exception):
    """Raised at an armed point whose action is "raise"."""


_lock = threading.Lock()
_armed: dict[str, list] = {}  # name -> [action, passes still to let through]


def _from_environment() -> None:
    name = os.environ.get("TIPLINE_CRASH_POINT")
    if name:
        skip = int(os.environ.get("TIPLINE_CRASH_SKIP") or 0)
        arm(name, os.environ.get("TIPLINE_CRASH_ACTION", "kill"), skip=skip)


def arm(name: str, action: str = "raise", *, skip: int = 0) -> None:
    if name not in POINTS:
        raise ValueError(f"unknown crash point {name!r}")
    if action not in ACTIONS:
        raise ValueError(f"unknown crash action {action!r}")
    with _lock:
        _armed[name] = [action, skip]


def disarm(name: str | None = None) -> None:
    with _lock:
        if name is None:
            _armed.clear()
        else:
            _armed.pop(name, None)


@contextmanager
def armed(name: str, action: str = "raise", *, skip: int = 0) -> Iterator[None]:
    arm(name, action, skip=skip)
    try:
        yield
    finally:
        disarm(name)


def crash_point(name: str) -> None:
    """Fire the fault armed at name, if any."""
    if name not in _armed:
        return
    with _lock:
        state = _armed.get(name)
        if state is None:
            return
        if state[1] > 0:
            state[1] -= 1
            return
        action = state[0]
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if action == "enospc":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    raise CrashPointReached(name)


_from_environment()
