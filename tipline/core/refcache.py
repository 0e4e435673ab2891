"""A per-app, per-process cache of reference data (units, categories) that rarely changes.

Every resident page needs the same few rows: the root unit, a commune and its villages,
the categories. Read through the ORM on every request they cost several queries and
sorting by Vietnamese collation each time. They are kept here as frozen snapshots (never
ORM instances: those belong to one session and one thread).

Invalidation:
- A write to a watched table through a session of this process (ORM changes to the
  watched models, or an INSERT/UPDATE/DELETE statement naming a watched table) bypasses
  the cache while its transaction is open and empties every cache of the process when the
  transaction ends, committed or not. A reader that started loading before such a write
  does not store what it read (a generation number says so).
- Other processes (other workers, the CLI, other machines) cannot tell this one: entries
  expire after TIPLINE_REFERENCE_CACHE_SECONDS (0 turns the cache off).
"""

from __future__ import annotations

import re
import threading
import time
import weakref
from collections.abc import Callable, Hashable
from typing import TypeVar

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

T = TypeVar("T")

_EXTENSION = "tipline.refcache"
_DIRTY = "tipline_refcache_dirty"
_WATCHED: dict[str, set[type]] = {}  # table name -> mapped classes
_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|ALTER|DROP|TRUNCATE)\b", re.IGNORECASE)


class _State:
    """What every cache of the process shares: writes in flight and a generation."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.generation = 0
        self.pending = 0  # open transactions that wrote reference data
        self.caches: weakref.WeakSet[ReferenceCache] = weakref.WeakSet()

    def bump(self, pending: int = 0) -> None:
        with self.lock:
            self.generation += 1
            self.pending += pending
            caches = list(self.caches)
        for cache in caches:
            cache.clear()


_state = _State()


class ReferenceCache:
    """One app's cached values, each kept for `ttl` seconds at most."""

    def __init__(self) -> None:
        self._entries: dict[Hashable, tuple[float, object]] = {}
        self.loads = 0  # how many times a loader ran (for tests and the bench)
        with _state.lock:
            _state.caches.add(self)

    def get(
        self, key: Hashable, loader: Callable[[], T], *, ttl: float, keep_none: bool = True
    ) -> T:
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]  # type: ignore[return-value]
        generation = _state.generation
        value = loader()
        self.loads += 1
        with _state.lock:
            if (
                ttl > 0
                and (keep_none or value is not None)
                and not _state.pending
                and generation == _state.generation
            ):
                self._entries[key] = (now + ttl, value)
        return value

    def clear(self) -> None:
        self._entries.clear()


def cache_for(app: Flask) -> ReferenceCache:
    cache = app.extensions.get(_EXTENSION)
    if cache is None:
        cache = app.extensions[_EXTENSION] = ReferenceCache()
    return cache


def cached(key: Hashable, loader: Callable[[], T], keep_none: bool = True) -> T:
    """`loader()`'s value, kept per app; `key` must name everything the value depends on.

    With keep_none=False a None is not kept (keys made from user input must not fill the
    cache with misses).
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    ttl = float(app.config.get("TIPLINE_REFERENCE_CACHE_SECONDS", 60))
    return cache_for(app).get(key, loader, ttl=ttl, keep_none=keep_none)


def clear(app: Flask | None = None) -> None:
    """Forget the cached values of one app, or of every app of the process."""
    if app is not None:
        cache_for(app).clear()
    else:
        _state.bump()


def watch(*models: type) -> None:
    """Writes to these models' tables invalidate the cache."""
    for model in models:
        _WATCHED.setdefault(model.__table__.name, set()).add(model)


def _mark(session: Session) -> None:
    if not session.info.get(_DIRTY):
        session.info[_DIRTY] = True
        _state.bump(pending=1)


def _names_watched_table(sql: str) -> bool:
    return bool(_WRITE.match(sql)) and any(
        re.search(rf"\b{re.escape(name)}\b", sql) for name in _WATCHED
    )


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context) -> None:
    if session.info.get(_DIRTY) or not _WATCHED:
        return
    classes = tuple({cls for group in _WATCHED.values() for cls in group})
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, classes):
            _mark(session)
            return


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state) -> None:
    if state.session.info.get(_DIRTY) or not _WATCHED:
        return
    if state.is_select:
        return
    statement = state.statement
    table = getattr(statement, "table", None)
    name = getattr(table, "name", None)
    if name is not None:
        if name in _WATCHED:
            _mark(state.session)
        return
    if _names_watched_table(str(statement)):
        _mark(state.session)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction) -> None:
    if transaction.parent is None and session.info.pop(_DIRTY, False):
        _state.bump(pending=-1)
