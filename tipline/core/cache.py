"""The app's one cache: values kept per app and process, dropped when their tables change.

Every cached value names the tables it is read from, and lives `ttl` seconds at most.

- Writes in this process: a session that changes one of those tables (ORM objects, or an
  INSERT/UPDATE/DELETE naming it) makes reads that depend on it bypass the cache while
  its transaction is open, and drops their entries when the transaction ends, committed
  or not. A reader that started before such a write does not keep what it read: each
  entry remembers the tables' generations it was loaded under.
- Writes by other processes (other workers and machines, the CLI) cannot be seen here:
  the `ttl` bounds how stale a value may be, and a caller that must follow them sooner
  puts a cheap version in its key (the newest event id, the time of a user's last read).

Values are plain data (frozen snapshots, numbers, ids), never ORM instances: those belong
to one session and one thread.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from typing import TypeVar

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

T = TypeVar("T")

_EXTENSION = "tipline.cache"
_DIRTY = "tipline_cache_dirty"  # session.info: the tables this transaction wrote
_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|ALTER|DROP|TRUNCATE)\b", re.IGNORECASE)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_ENTRIES = 4096  # per app: keys made from users and filters must not grow without end


class _Tables:
    """Process-wide: a generation per table, and the transactions writing it now."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.generation: Counter[str] = Counter()
        self.pending: Counter[str] = Counter()

    def snapshot(self, tables: Iterable[str]) -> tuple[int, ...]:
        return tuple(self.generation[name] for name in tables)

    def busy(self, tables: Iterable[str]) -> bool:
        return any(self.pending[name] for name in tables)

    def begin(self, tables: Iterable[str]) -> None:
        with self.lock:
            for name in tables:
                self.generation[name] += 1
                self.pending[name] += 1

    def end(self, tables: Iterable[str]) -> None:
        with self.lock:
            for name in tables:
                self.generation[name] += 1
                self.pending[name] -= 1
                if self.pending[name] <= 0:
                    del self.pending[name]

    def bump_all(self) -> None:
        with self.lock:
            for name in list(self.generation):
                self.generation[name] += 1
            self.generation["*"] += 1


_tables = _Tables()


class Cache:
    """One app's entries: key -> (expiry, tables, generations, value)."""

    def __init__(self) -> None:
        self._entries: dict[Hashable, tuple[float, tuple[str, ...], tuple[int, ...], object]] = {}
        self._lock = threading.Lock()
        self.loads = 0  # how many times a loader ran (tests and the benches read it)

    def get(
        self,
        key: Hashable,
        loader: Callable[[], T],
        *,
        tables: tuple[str, ...],
        ttl: float,
        keep_none: bool = True,
    ) -> T:
        tables = (*tables, "*")
        now = time.monotonic()
        entry = self._entries.get(key)
        if (
            entry is not None
            and entry[0] > now
            and entry[1] == tables
            and entry[2] == _tables.snapshot(tables)
            and not _tables.busy(tables)
        ):
            return entry[3]  # type: ignore[return-value]
        generations = _tables.snapshot(tables)
        value = loader()
        self.loads += 1
        if ttl > 0 and (keep_none or value is not None) and not _tables.busy(tables):
            with self._lock:
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
                self._entries[key] = (now + ttl, tables, generations, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def cache_for(app: Flask) -> Cache:
    cache = app.extensions.get(_EXTENSION)
    if cache is None:
        cache = app.extensions[_EXTENSION] = Cache()
    return cache


def cached(
    key: Hashable,
    loader: Callable[[], T],
    *,
    tables: Iterable[str],
    ttl: float,
    keep_none: bool = True,
) -> T:
    """`loader()`'s value, kept per app for `ttl` seconds (0: not kept) until one of `tables`
    changes. `key` must name everything else the value depends on; with keep_none=False a
    None is not kept (keys made from user input must not fill the cache with misses)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return cache_for(app).get(key, loader, tables=tuple(tables), ttl=ttl, keep_none=keep_none)


def setting(name: str, default: float = 60) -> float:
    """A cache's lifetime in seconds from the configuration (0 turns it off)."""
    return float(current_app.config.get(name, default) or 0)


def clear(app: Flask | None = None) -> None:
    """Forget one app's entries, or (None) every entry of every app in the process."""
    if app is not None:
        cache_for(app).clear()
    else:
        _tables.bump_all()


# --- seeing this process's writes -------------------------------------------------------


def _mark(session: Session, names: Iterable[str]) -> None:
    dirty: set[str] = session.info.setdefault(_DIRTY, set())
    new = set(names) - dirty
    if new:
        dirty |= new
        _tables.begin(new)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context) -> None:
    names = {
        table.name
        for obj in (*session.new, *session.dirty, *session.deleted)
        for table in getattr(type(obj), "__mapper__", None).tables
    }
    if names:
        _mark(session, names)


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state) -> None:
    if state.is_select:
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    if name is not None:
        _mark(state.session, {name})
        return
    sql = str(state.statement)
    if _WRITE.match(sql):
        # A textual statement: every word that could be a table name counts.
        _mark(state.session, set(_NAME.findall(sql)))


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction) -> None:
    if transaction.parent is None:
        dirty = session.info.pop(_DIRTY, None)
        if dirty:
            _tables.end(dirty)


def reference(
    key: Hashable, loader: Callable[[], T], *, tables: Iterable[str], keep_none: bool = True
) -> T:
    """Reference data every resident page needs (units, categories), kept for
    TIPLINE_REFERENCE_CACHE_SECONDS."""
    return cached(
        ("reference", key),
        loader,
        tables=tables,
        ttl=setting("TIPLINE_REFERENCE_CACHE_SECONDS"),
        keep_none=keep_none,
    )
