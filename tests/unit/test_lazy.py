"""Lazy: one build under concurrency, failures not remembered, reset, rebuilt on a new key."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.lazy import Lazy


def _one_round(threads: int) -> tuple[int, list[object]]:
    builds: list[int] = []

    def build() -> object:
        builds.append(1)
        time.sleep(0.01)  # widen the window in which a second build could start
        return object()

    lazy = Lazy(build)
    start = threading.Barrier(threads)

    def first_use(_: int) -> object:
        start.wait()
        return lazy()

    with ThreadPoolExecutor(threads) as pool:
        values = list(pool.map(first_use, range(threads)))
    return len(builds), values


def test_many_threads_at_once_share_one_build():
    for _ in range(20):
        builds, values = _one_round(16)
        assert builds == 1
        assert all(v is values[0] for v in values)


def test_a_failed_build_is_not_remembered_and_reset_forgets():
    attempts: list[int] = []

    def build() -> int:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("not yet")
        return len(attempts)

    lazy = Lazy(build)
    with pytest.raises(RuntimeError):
        lazy()
    assert lazy() == 2 and lazy() == 2
    lazy.reset()
    assert lazy() == 3


def test_a_new_key_builds_a_new_value():
    current = ["a"]
    lazy = Lazy(lambda key: f"built for {key}", key=lambda: current[0])
    assert lazy() == "built for a"
    current[0] = "b"
    assert lazy() == "built for b"
