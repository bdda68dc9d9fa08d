"""`make run` seeds a demo customer allowed every action, and prints a fresh key each time."""

from __future__ import annotations

import pytest

from shared.policy import ACTIONS, authenticate, decide_all, registry
from tests.policy.helpers import make_context, unique_id
from tools.dev.seed import DEMO_ID, DEMO_PURPOSE, seed_customer, seed_demo_customer

pytestmark = pytest.mark.usefixtures("azurite")


def test_the_demo_customer_is_created_once_and_rekeyed_on_every_run():
    first = seed_demo_customer()
    second = seed_demo_customer()
    assert second["new"] is False
    assert first["customerId"] == second["customerId"] == DEMO_ID
    assert first["key"] != second["key"]
    customer = authenticate(second["key"])
    assert authenticate(first["key"]) == customer
    assert (customer.sector, customer.country, customer.status) == ("commercial", "US", "active")
    assert customer.actions == ACTIONS and customer.purposes == (DEMO_PURPOSE,)
    decision = decide_all(customer, ACTIONS, make_context("photo", DEMO_PURPOSE))
    assert decision.allowed, decision.policy_ids
    assert len(registry.list_keys(DEMO_ID)) >= 2


def test_any_customer_can_be_seeded_for_other_tests():
    seeded = seed_customer(
        unique_id("pd"), sector="law_enforcement", actions="detect,identify", purposes=""
    )
    customer = authenticate(seeded["key"])
    assert (customer.country, customer.status) == ("US", "active")
    decision = decide_all(customer, ["detect", "identify"], make_context("photo"))
    assert decision.denied_actions == ("identify",)
    assert decision.policy_ids == ("us-law-enforcement-moratorium",)
