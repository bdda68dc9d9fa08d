"""The registry in Azurite: customers, keys as hashes, and freshness within the cache TTL."""

from __future__ import annotations

import base64
import hashlib
import time

import pytest

from shared.errors import Conflict, NotFound, ServiceUnavailable, Unauthorized
from shared.policy import authenticate, decide, get_customer, registry
from shared.storage import clients, names
from tests.policy.helpers import make_context, make_customer, stored, unique_id

pytestmark = pytest.mark.usefixtures("azurite")


def _table(name: str):
    return clients.table_service().get_table_client(name)


def test_customers_round_trip_and_conflict():
    customer = stored(make_customer(id=unique_id(), sector="research", retention="keep"))
    assert registry.load_customer(customer.id) == customer
    assert get_customer(customer.id) == customer
    assert customer.id in {c.id for c in registry.list_customers()}
    with pytest.raises(Conflict):
        registry.add_customer(customer)
    updated = registry.update_customer(customer.id, review_state="approved", sensitive_use=True)
    assert registry.load_customer(customer.id) == updated
    assert (updated.review_state, updated.sensitive_use) == ("approved", True)


def test_unknown_customers_are_not_found():
    with pytest.raises(NotFound):
        get_customer(unique_id())
    with pytest.raises(NotFound):
        get_customer("../etc")
    with pytest.raises(NotFound):
        registry.update_customer(unique_id(), status="active")


def test_a_key_authenticates_its_customer_and_is_stored_only_as_a_hash():
    customer = stored(make_customer(id=unique_id()))
    key, record = registry.issue_key(customer.id)
    other_key, other = registry.issue_key(customer.id)
    assert key.startswith(registry.KEY_PREFIX)
    secret = key.removeprefix(registry.KEY_PREFIX)
    assert len(base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))) == 32
    assert key != other_key and record.key_id != other.key_id
    assert authenticate(key) == customer
    assert authenticate(f"  {other_key} ") == customer

    query = "CustomerId eq @c"
    rows = list(_table(names.APIKEYS).query_entities(query, parameters={"c": customer.id}))
    assert {r["PartitionKey"] for r in rows} == {
        hashlib.sha256(k.encode()).hexdigest() for k in (key, other_key)
    }
    for row in rows:
        text = repr(dict(row))
        assert key not in text and secret not in text and other_key not in text
    assert {k.key_id for k in registry.list_keys(customer.id)} == {record.key_id, other.key_id}


@pytest.mark.parametrize("presented", [None, "", "   ", "fg_not-a-real-key", "x" * 5000])
def test_missing_or_unknown_keys_are_unauthorized(presented):
    with pytest.raises(Unauthorized):
        authenticate(presented)


def test_revocation_in_this_process_is_immediate():
    customer = stored(make_customer(id=unique_id()))
    key, record = registry.issue_key(customer.id)
    assert authenticate(key) == customer
    revoked = registry.revoke_key(customer.id, record.key_id)
    assert revoked.revoked and revoked.revoked_at
    with pytest.raises(Unauthorized):
        authenticate(key)
    with pytest.raises(NotFound):
        registry.revoke_key(customer.id, "00000000")


def _revoke_elsewhere(key: str) -> None:
    """What another instance (or the admin CLI) does: the row changes, our cache does not know."""
    entity = _table(names.APIKEYS).get_entity(registry.key_hash(key), registry.KEY_ROW)
    entity["Revoked"] = True
    _table(names.APIKEYS).update_entity(entity)


def test_a_revocation_elsewhere_takes_effect_within_the_cache_ttl(short_cache):
    customer = stored(make_customer(id=unique_id()))
    key, _ = registry.issue_key(customer.id)
    assert authenticate(key) == customer  # now cached
    _revoke_elsewhere(key)
    time.sleep(short_cache + 0.2)
    with pytest.raises(Unauthorized):
        authenticate(key)


def test_within_the_ttl_the_cache_answers(monkeypatch):
    monkeypatch.setenv("FACEGATE_REGISTRY_CACHE_SECONDS", "30")
    customer = stored(make_customer(id=unique_id()))
    key, _ = registry.issue_key(customer.id)
    assert authenticate(key) == customer
    _revoke_elsewhere(key)
    assert authenticate(key) == customer  # served from the cache, bounded by the TTL
    registry.reset_caches()
    with pytest.raises(Unauthorized):
        authenticate(key)


def test_a_suspended_customer_is_refused_within_the_cache_ttl(short_cache):
    customer = stored(make_customer(id=unique_id()))
    key, _ = registry.issue_key(customer.id)
    assert decide(authenticate(key), "detect", make_context()).allowed
    entity = _table(names.CUSTOMERS).get_entity(customer.id, registry.CUSTOMER_ROW)
    entity["Status"] = "suspended"
    _table(names.CUSTOMERS).update_entity(entity)  # as the admin CLI in another process would
    time.sleep(short_cache + 0.2)
    decision = decide(authenticate(key), "detect", make_context())
    assert not decision.allowed
    assert decision.policy_ids == ("customer-not-active",)


def test_a_key_of_a_deleted_customer_is_unauthorized():
    customer = stored(make_customer(id=unique_id()))
    key, _ = registry.issue_key(customer.id)
    _table(names.CUSTOMERS).delete_entity(customer.id, registry.CUSTOMER_ROW)
    with pytest.raises(Unauthorized):
        authenticate(key)


def test_a_corrupt_record_fails_closed():
    customer = stored(make_customer(id=unique_id()))
    entity = _table(names.CUSTOMERS).get_entity(customer.id, registry.CUSTOMER_ROW)
    entity["Sector"] = "anything-goes"
    _table(names.CUSTOMERS).update_entity(entity)
    with pytest.raises(ServiceUnavailable):
        get_customer(customer.id)
