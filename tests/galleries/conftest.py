"""The gallery store contract runs once per store: ``table`` (Azurite) and ``postgres`` (a
real local PostgreSQL with pgvector). Each test gets a fresh customer whose registry record
names the store, so every call goes through the facade exactly as in production."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from shared.policy import model, registry
from shared.storage import provision

STORES = ("table", "postgres")


@pytest.fixture(scope="session")
def registry_tables(azurite) -> None:
    provision.ensure_storage()


@pytest.fixture
def new_customer(registry_tables, request) -> Callable[..., str]:
    """Register a customer whose galleries live in ``store`` (a fresh id each call)."""

    def make(store: str, **fields: object) -> str:
        if store == "postgres":
            request.getfixturevalue("postgres")
        customer_id = f"c{uuid.uuid4().hex[:12]}"
        registry.add_customer(
            model.Customer.create(
                id=customer_id, name=customer_id, sector="commercial", country="US",
                status="active", gallery_store=store, **fields,
            )
        )  # fmt: skip
        return customer_id

    return make


@pytest.fixture(params=STORES)
def store_name(request) -> str:
    return request.param


@pytest.fixture
def customer(new_customer, store_name) -> str:
    return new_customer(store_name)


@pytest.fixture
def other_customer(new_customer, store_name) -> str:
    return new_customer(store_name)
