"""Every decision, allow or deny, is one append-only audit row per action, written first."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.errors import BadArgument, PolicyDenied, ServiceUnavailable
from shared.policy import audit_rows, authenticate, decide, decide_all, guarded, registry
from shared.policy.audit import Outcome, record
from shared.storage import clients, names
from tests.policy.helpers import make_context, make_customer, stored, unique_id

pytestmark = pytest.mark.usefixtures("azurite")


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def test_an_allow_and_a_deny_are_each_audited_with_every_field():
    customer = make_customer(id=unique_id(), sector="workplace")
    context = make_context("photo", "age-verification", channel="blob")
    allowed = decide(customer, "detect", context)
    denied = decide(customer, "emotion", context)
    assert allowed.allowed and not denied.allowed
    rows = audit_rows(customer.id, _today())
    assert [(r["action"], r["decision"], r["overall"], r["policyIds"]) for r in rows] == [
        ("detect", "allow", "allow", ["approved-action"]),
        ("emotion", "deny", "deny", ["no-emotion-inference-at-work-or-school"]),
    ]
    assert [r["decisionId"] for r in rows] == [allowed.decision_id, denied.decision_id]
    for row in rows:
        assert row["customer"] == customer.id
        assert row["requestId"] == context.request_id
        assert (row["channel"], row["capture"], row["purpose"]) == (
            "blob",
            "photo",
            "age-verification",
        )
        assert row["time"].startswith(_today())


def test_a_combined_decision_writes_one_row_per_action_in_order():
    customer = make_customer(id=unique_id(), sector="education")
    decision = decide_all(
        customer, ["detect", "gender", "emotion"], make_context(purpose="age-verification")
    )
    assert not decision.allowed and decision.denied_actions == ("emotion",)
    rows = audit_rows(customer.id, datetime.now(UTC).date())
    assert [(r["action"], r["decision"]) for r in rows] == [
        ("detect", "allow"),
        ("gender", "allow"),
        ("emotion", "deny"),
    ]
    assert {r["decisionId"] for r in rows} == {decision.decision_id}
    assert {r["overall"] for r in rows} == {"deny"}  # the group says the request was refused
    assert all(r["capture"] == "unknown" for r in rows)


def test_no_key_material_reaches_the_audit_trail():
    customer = stored(make_customer(id=unique_id()))
    key, _ = registry.issue_key(customer.id)
    decide_all(authenticate(key), ["detect", "verify"], make_context("photo"))
    decide(authenticate(key), "age", make_context(purpose="marketing"))
    table = clients.table_service().get_table_client(names.AUDIT)
    entities = list(table.query_entities("Customer eq @c", parameters={"c": customer.id}))
    assert len(entities) == 3
    digest = registry.key_hash(key)
    for entity in entities:
        text = repr(dict(entity))
        assert key not in text and key[3:20] not in text and digest not in text


def test_guarded_runs_the_work_only_after_an_allow():
    customer = make_customer(id=unique_id(), purposes="")
    calls: list[str] = []

    def work() -> str:
        calls.append("analysed")
        return "faces"

    decision, result = guarded(customer, ["detect"], make_context(), work)
    assert (decision.allowed, result, calls) == (True, "faces", ["analysed"])

    with pytest.raises(PolicyDenied) as raised:
        guarded(customer, ["detect", "age"], make_context(), work)
    assert calls == ["analysed"]  # not called again
    denial = raised.value
    assert denial.code == "PolicyDenied"
    assert list(denial.policy_ids) == ["attribute-inference-needs-purpose"]
    rows = audit_rows(customer.id, _today())
    assert [r["decision"] for r in rows if r["decisionId"] == denial.decision_id] == [
        "allow",
        "deny",
    ]


def test_rows_are_only_appended_never_overwritten():
    customer = make_customer(id=unique_id())
    when = datetime.now(UTC)
    outcome = [Outcome("detect", True, ("approved-action",))]
    record(customer.id, "fixed-decision-id", when, make_context(), outcome)
    with pytest.raises(ServiceUnavailable):
        record(customer.id, "fixed-decision-id", when, make_context(), outcome)
    assert len(audit_rows(customer.id, when.date())) == 1


def test_audit_rows_validates_its_arguments():
    with pytest.raises(BadArgument):
        audit_rows("acme", "yesterday")
    with pytest.raises(BadArgument):
        audit_rows("Not/AnId", _today())
    assert audit_rows(unique_id(), _today()) == []
