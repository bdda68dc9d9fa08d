"""A small thread-safe, size-bounded cache whose entries expire after a time to live.

Registry lookups go through it so the gate costs microseconds on a warm path,
while a suspension or key revocation is seen within one TTL (at most 30 s).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")
_MISSING = object()


class TTLCache(Generic[V]):
    """Least-recently-used eviction past ``maxsize``; ``ttl`` is given per entry."""

    def __init__(self, maxsize: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.maxsize = maxsize
        self._clock = clock
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()

    def get(self, key: Hashable, default: object = _MISSING) -> V | object:
        """The live value for ``key``, or ``default`` (a sentinel unless given)."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return default
            expires, value = item
            if self._clock() >= expires:
                del self._items[key]
                return default
            self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V, ttl: float) -> None:
        if ttl <= 0:
            return
        with self._lock:
            self._items[key] = (self._clock() + ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def discard(self, key: Hashable) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    @staticmethod
    def missing(value: object) -> bool:
        """True when ``get`` found nothing live."""
        return value is _MISSING
