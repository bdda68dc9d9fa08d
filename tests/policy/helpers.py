"""Builders for the policy tests: customers built in memory, contexts with explicit flags."""

from __future__ import annotations

import uuid

from shared.policy import context_from, model, registry

BASE = {
    "id": "acme",
    "name": "Acme Retail",
    "sector": "commercial",
    "country": "FR",
    "status": "active",
    "review_state": "none",
    "sensitive_use": False,
    "actions": model.ACTIONS,
    "purposes": ("age-verification",),
}


def make_customer(**overrides: object) -> model.Customer:
    return model.Customer.create(**{**BASE, **overrides})


def make_context(
    capture: str | None = None,
    purpose: str | None = None,
    federal_law: bool = False,
    channel: str = "http",
):
    env = {"FACEGATE_US_FEDERAL_FACE_LAW_IN_FORCE": "true" if federal_law else "false"}
    return context_from(capture, channel, purpose, env=env)


def unique_id(prefix: str = "t") -> str:
    """A customer id no other test uses (the session's emulator keeps every row)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def stored(customer: model.Customer) -> model.Customer:
    """Add a customer to the registry and return it."""
    return registry.add_customer(customer)
