"""A small in-memory cache whose entries are trusted for a bounded time.

The web integrations remember what Strongroom said about a token
(introspection, permissions) so they need not ask on every request; how long
an answer may be reused is the application's staleness bound, and how many
are kept is bounded too, so a flood of distinct tokens cannot grow memory.
Framework-neutral and thread-safe (Flask serves from threads; in asyncio the
lock is held only across dictionary operations, never across an ``await``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from time import monotonic
from typing import Generic, TypeVar

__all__ = ["StaleCache"]

V = TypeVar("V")


class StaleCache(Generic[V]):
    """Entries live ``max_age`` seconds; past ``max_entries`` the least
    recently stored is dropped. ``max_age == 0`` caches nothing."""

    def __init__(self, max_age: float, max_entries: int, clock: Callable[[], float] = monotonic) -> None:
        if max_age < 0 or max_entries < 1:
            raise ValueError("max_age must be >= 0 and max_entries >= 1")
        self.max_age = max_age
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> V | None:
        """The value stored under ``key`` if it is younger than ``max_age``."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            stored_at, value = entry
            if self._clock() - stored_at >= self.max_age:
                del self._entries[key]
                return None
            return value

    def put(self, key: str, value: V, stored_at: float | None = None) -> None:
        """Stores ``value``, as of ``stored_at`` (default now). Pass the time
        the question was *asked*, so the bound holds from when the answer
        could last have been true, not from when it arrived."""
        if self.max_age == 0:
            return
        with self._lock:
            self._entries[key] = (self._clock() if stored_at is None else stored_at, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def forget(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)
