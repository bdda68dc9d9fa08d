"""Fail closed: when the registry, the audit trail or the policies are unavailable, the gate
raises ServiceUnavailable (HTTP 503) and the vision work is never called."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.errors import ServiceUnavailable
from shared.policy import Customer, authenticate, engine, get_customer, guarded, registry
from shared.storage import clients, provision
from tests.policy.helpers import make_context, make_customer, stored, unique_id
from tools.dev.azurite import Azurite, free_ports


class Sentinel:
    """Stands in for a vision function: records whether anything was analysed."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return "analysed"


def _use_storage(connection: str | None) -> None:
    if connection is None:
        os.environ.pop("FACEGATE_STORAGE", None)
    else:
        os.environ["FACEGATE_STORAGE"] = connection
    clients.reset()
    provision.reset()
    registry.reset_caches()


@pytest.fixture
def own_azurite(tmp_path: Path) -> Iterator[Azurite]:
    """A private emulator this test may stop (the session one must keep running)."""
    saved = os.environ.get("FACEGATE_STORAGE")
    emulator = Azurite.on_free_ports()
    emulator.log_path = tmp_path / "azurite.log"
    emulator.start()
    _use_storage(emulator.connection_string)
    provision.ensure_storage()
    try:
        yield emulator
    finally:
        emulator.stop()
        _use_storage(saved)


def test_a_registry_outage_refuses_everything_and_recovers_without_a_restart(own_azurite):
    customer = stored(make_customer(id=unique_id()))
    key, _ = registry.issue_key(customer.id)
    work = Sentinel()
    assert guarded(authenticate(key), "detect", make_context(), work)[1] == "analysed"

    own_azurite.stop()
    registry.reset_caches()  # past the TTL: nothing cached any more
    with pytest.raises(ServiceUnavailable) as raised:
        authenticate(key)
    assert raised.value.code == "ServiceUnavailable"
    with pytest.raises(ServiceUnavailable):
        get_customer(customer.id)
    with pytest.raises(ServiceUnavailable):  # the audit row cannot be written
        guarded(customer, "detect", make_context(), work)
    assert work.calls == 1

    own_azurite.start()  # in-memory: back, but empty
    provision.reset()
    provision.ensure_storage()
    stored(customer)
    key, _ = registry.issue_key(customer.id)
    assert guarded(authenticate(key), "detect", make_context(), work)[1] == "analysed"
    assert work.calls == 2


def test_a_closed_port_is_service_unavailable(own_azurite):
    closed = Azurite(*free_ports(3))
    _use_storage(closed.connection_string)
    work = Sentinel()
    with pytest.raises(ServiceUnavailable):
        authenticate("fg_" + "a" * 43)
    with pytest.raises(ServiceUnavailable):
        get_customer("somebody")
    with pytest.raises(ServiceUnavailable):
        guarded(make_customer(), ["detect", "age"], make_context(), work)
    assert work.calls == 0


def test_a_missing_registry_or_audit_table_fails_closed(own_azurite):
    customer = stored(make_customer(id=unique_id()))
    key, _ = registry.issue_key(customer.id)
    tables = clients.table_service()
    tables.delete_table("audit")
    work = Sentinel()
    with pytest.raises(ServiceUnavailable):
        guarded(authenticate(key), "detect", make_context(), work)
    tables.delete_table("apikeys")
    registry.reset_caches()
    with pytest.raises(ServiceUnavailable):
        authenticate(key)
    assert work.calls == 0


def test_invalid_policies_refuse_everything(tmp_path: Path, monkeypatch):
    broken = tmp_path / "policies"
    broken.mkdir()
    (broken / "10-approved-action.cedar").write_text(
        '@id("approved-action")\npermit (principal, action, resource) when { principal.nope };'
    )
    monkeypatch.setattr(engine, "POLICY_DIR", broken)
    engine.bundle.reset()
    work = Sentinel()
    try:
        with pytest.raises(ServiceUnavailable):
            guarded(make_customer(), "detect", make_context(), work)
    finally:
        monkeypatch.undo()
        engine.bundle.reset()
    assert work.calls == 0


def test_an_evaluation_error_is_never_an_allow():
    """A record that escaped validation must not let a skipped forbid turn into an allow."""
    unchecked = Customer("raw", "Raw", "commercial", "FR", "active", actions=("detect", "fly"))
    work = Sentinel()
    with pytest.raises(ServiceUnavailable):
        guarded(unchecked, "detect", make_context(), work)
    assert work.calls == 0
