"""The window counter and the quotas on real Azurite: exact under races, per window."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid

import pytest
from azure.core.exceptions import HttpResponseError

from shared.errors import BadArgument, RateLimited, ServiceUnavailable
from shared.limits import counter, quota
from shared.policy import audit_rows, model
from shared.storage import clients, names, provision


@pytest.fixture(autouse=True)
def tables(azurite):
    provision.ensure_storage()


def scope() -> str:
    return f"test-{uuid.uuid4().hex[:8]}:requests"


def test_a_window_gives_exactly_its_units_then_says_when_to_retry() -> None:
    key, now = scope(), 1_000_000.25  # window [999960, 1000020) of 60 s
    taken = [counter.take(key, 3, 60, now=now) for _ in range(5)]
    assert [t.allowed for t in taken] == [True, True, True, False, False]
    assert [t.count for t in taken] == [1, 2, 3, 3, 3]
    assert taken[-1].retry_after == 20  # ceil(1000020 - 1000000.25)
    assert counter.take(key, 3, 60, now=now + 20).allowed  # the next window starts afresh
    assert counter.take(f"{key}-other", 3, 60, now=now).allowed  # another scope: its own


@pytest.mark.parametrize("round_", range(4))
def test_racing_takers_never_overshoot(round_) -> None:
    key, limit, takers = scope(), 7, 30
    barrier = threading.Barrier(takers)
    results: list[bool] = []
    lock = threading.Lock()

    def one() -> None:
        barrier.wait()
        allowed = counter.take(key, limit, 3600, now=7200.0).allowed
        with lock:
            results.append(allowed)

    threads = [threading.Thread(target=one) for _ in range(takers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == limit and len(results) == takers


def test_ended_windows_are_purged() -> None:
    key = scope()
    counter.take(key, 5, 1, now=100.0)  # ended long ago
    live = dt.datetime.now(dt.UTC).timestamp()
    counter.take(key, 5, 3600, now=live)
    assert counter.purge_expired() >= 1
    table = counter._table()
    left = {
        row["RowKey"] for row in table.query_entities("PartitionKey eq @pk", parameters={"pk": key})
    }
    assert left == {f"3600:{int(live // 3600)}"}


def test_limits_come_from_the_record_else_the_setting(monkeypatch) -> None:
    own = model.Customer.create(id="q1", name="Q", sector="commercial", country="FR",
                                rate_limit="5/2", verify_limit="7/60")  # fmt: skip
    default = model.Customer.create(id="q2", name="Q", sector="commercial", country="FR")
    monkeypatch.setenv("FACEGATE_RATE_LIMIT", "11/3")
    monkeypatch.setenv("FACEGATE_VERIFY_LIMIT", "not a limit")
    assert quota.request_limit(own) == (5, 2) and quota.verify_limit(own) == (7, 60)
    assert quota.request_limit(default) == (11, 3)
    assert quota.verify_limit(default) == (100, 3600)  # a bad setting falls back to the default


@pytest.mark.parametrize("bad", ["10", "0/1", "1/0", "-1/5", "10/86401", "a/b", "10/1/2", " /1"])
def test_a_malformed_limit_is_refused_in_the_registry(bad) -> None:
    with pytest.raises(BadArgument):
        model.Customer.create(id="q3", name="Q", sector="commercial", country="FR", rate_limit=bad)


def test_a_refusal_is_a_429_error_and_an_audit_row() -> None:
    customer = model.Customer.create(
        id=f"q-{uuid.uuid4().hex[:8]}", name="Q", sector="commercial", country="FR",
        status="active", rate_limit="2/86400",
    )  # fmt: skip
    quota.admit_request(customer, "r1")
    quota.admit_request(customer, "r2")
    with pytest.raises(RateLimited) as refused:
        quota.admit_request(customer, "r3")
    assert 1 <= refused.value.retry_after <= 86400
    rows = audit_rows(customer.id, dt.datetime.now(dt.UTC).date())
    assert [(r["action"], r["decision"], r["policyIds"], r["requestId"]) for r in rows] == [
        ("request", "deny", ["rate-limit"], "r3")
    ]


def test_a_window_seen_full_is_refused_without_reading_storage() -> None:
    key, now = scope(), 5_000_000.0
    assert [counter.take(key, 1, 60, now=now).allowed for _ in range(2)] == [True, False]
    counter._table().delete_entity(key, f"60:{int(now // 60)}")  # storage forgets the window
    assert not counter.take(key, 1, 60, now=now + 1).allowed  # this process remembers it
    assert counter.take(key, 2, 60, now=now + 1).allowed  # a raised limit asks storage again
    assert counter.take(key, 1, 60, now=now + 60).allowed  # and the next window is open


def test_without_its_table_the_limiter_fails_closed() -> None:
    clients.table_service().delete_table(names.RATELIMITS)
    try:
        with pytest.raises(ServiceUnavailable):
            counter.take(scope(), 5, 60)
    finally:
        provision.reset()
        for _ in range(50):  # Azurite may refuse a re-create for a moment after a delete
            try:
                clients.table_service().create_table_if_not_exists(names.RATELIMITS)
                break
            except HttpResponseError:
                time.sleep(0.1)
    assert counter.take(scope(), 5, 60).allowed
