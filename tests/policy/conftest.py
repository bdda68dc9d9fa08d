"""Fixtures for the policy tests."""

from __future__ import annotations

import pytest

from shared.policy import registry


@pytest.fixture
def short_cache(monkeypatch: pytest.MonkeyPatch):
    """A one-second registry cache, so freshness can be shown without waiting 30 s."""
    monkeypatch.setenv("FACEGATE_REGISTRY_CACHE_SECONDS", "1")
    registry.reset_caches()
    yield 1.0
    registry.reset_caches()


@pytest.fixture(autouse=True)
def fresh_registry_cache():
    """Each test starts with an empty registry cache (customers persist across tests)."""
    registry.reset_caches()
    yield
    registry.reset_caches()
