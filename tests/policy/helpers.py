"""Builders for the policy tests: customers built in memory, contexts with explicit flags."""

from __future__ import annotations

from shared.policy import context_from, model

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
