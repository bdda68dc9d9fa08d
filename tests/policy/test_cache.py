"""The registry cache: entries expire after their TTL, size is bounded, TTL is capped at 30 s."""

from __future__ import annotations

from shared.policy.cache import TTLCache
from shared.policy.registry import cache_seconds


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_their_ttl():
    clock = Clock()
    cache: TTLCache[str] = TTLCache(clock=clock)
    cache.put("k", "v", ttl=15)
    clock.now = 14.9
    assert cache.get("k") == "v"
    clock.now = 15.0
    assert TTLCache.missing(cache.get("k"))
    assert len(cache) == 0


def test_none_is_a_cached_value_distinct_from_a_miss():
    cache: TTLCache[str | None] = TTLCache(clock=Clock())
    cache.put("unknown-key", None, ttl=5)
    assert cache.get("unknown-key") is None
    assert TTLCache.missing(cache.get("other"))


def test_size_is_bounded_least_recently_used_first():
    cache: TTLCache[int] = TTLCache(maxsize=3, clock=Clock())
    for i in range(3):
        cache.put(i, i, ttl=10)
    assert cache.get(0) == 0  # 0 is now the most recently used
    cache.put(3, 3, ttl=10)
    assert len(cache) == 3
    assert TTLCache.missing(cache.get(1))
    assert [cache.get(k) for k in (0, 2, 3)] == [0, 2, 3]


def test_a_zero_ttl_caches_nothing_and_discard_forgets():
    cache: TTLCache[int] = TTLCache(clock=Clock())
    cache.put("a", 1, ttl=0)
    assert TTLCache.missing(cache.get("a"))
    cache.put("b", 2, ttl=5)
    cache.discard("b")
    assert TTLCache.missing(cache.get("b"))


def test_the_registry_ttl_defaults_to_15_and_never_exceeds_30():
    assert cache_seconds({}) == 15
    assert cache_seconds({"FACEGATE_REGISTRY_CACHE_SECONDS": "5"}) == 5
    assert cache_seconds({"FACEGATE_REGISTRY_CACHE_SECONDS": "300"}) == 30
    assert cache_seconds({"FACEGATE_REGISTRY_CACHE_SECONDS": "-4"}) == 0
    assert cache_seconds({"FACEGATE_REGISTRY_CACHE_SECONDS": "soon"}) == 15
