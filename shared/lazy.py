"""The one way to hold a process-wide value that is built on first use.

Storage clients, the policy set, the vision analyzer and the like are expensive to build
and safe to share between threads, so each process builds them once, when first needed.
``Lazy`` does it under a lock (one build even when many requests arrive at once), never
remembers a build that raised (a fixed deployment recovers without a restart), and
``reset()`` forgets the value (tests that switch emulators or load broken policies).
With ``key``, the value is rebuilt whenever the key changes, e.g. the storage settings.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")
_UNKEYED = object()


class Lazy(Generic[T]):
    """A value built by ``build()`` (or ``build(key())``) on the first call, then shared."""

    def __init__(
        self, build: Callable[..., T], *, key: Callable[[], Hashable] | None = None
    ) -> None:
        self._build = build
        self._key = key
        self._lock = threading.Lock()
        self._built: tuple[Hashable, T] | None = None

    def __call__(self) -> T:
        key = self._key() if self._key is not None else _UNKEYED
        built = self._built
        if built is not None and built[0] == key:
            return built[1]
        with self._lock:
            built = self._built
            if built is None or built[0] != key:
                value = self._build() if self._key is None else self._build(key)
                built = self._built = (key, value)
            return built[1]

    def reset(self) -> None:
        """Forget the value; the next call builds it again."""
        with self._lock:
            self._built = None
