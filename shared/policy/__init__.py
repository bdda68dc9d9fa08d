"""The policy gate: who the caller is, whether it may do this here, and a record that we asked.

Public API (everything else in this package is internal and may change)::

    authenticate(api_key: str | None) -> Customer
        The customer owning a key. Unauthorized (missing, unknown or revoked key),
        ServiceUnavailable (registry unreachable). May return an inactive customer:
        the decision then denies it, and the denial is audited.

    get_customer(customer_id: str) -> Customer
        For blob uploads, where the path names the customer. NotFound if unknown.

    context_from(capture=None, channel="http", purpose=None, request_id=None) -> Context
        Validates the caller's capture context (photo, realtime, body-camera,
        vehicle-camera; absent -> "unknown"; anything else -> BadArgument) and
        optional purpose, and reads configuration flags (the US federal-law flag).

    decide(customer, action, context) -> Decision
    decide_all(customer, actions, context) -> Decision
        One decision for every action of a request (one Cedar batch, one decision
        id): allowed only if every action is, a denial naming every deny policy id.
        Writes its audit group (a row per action) BEFORE returning; raises
        ServiceUnavailable if the policies cannot be evaluated or the audit rows
        cannot be written (fail closed: no decision, nothing analysed).

    guarded(customer, actions, context, work: Callable[[], T]) -> tuple[Decision, T]
        Calls ``work()`` only after an audited allow; raises PolicyDenied
        (``decision.denial()``) or ServiceUnavailable otherwise. Prefer it.

    Caller(customer, context): who asks and in which context; every use case's first argument.

    Decision: allowed, actions, action, policy_ids, decision_id, denied_actions,
        to_dict(), denial() -> PolicyDenied
    Customer: id, name, sector, country, status, review_state, sensitive_use,
        actions, purposes, retention, keeps_uploads, default_features, active
    audit_rows(customer_id, day: date | "YYYY-MM-DD") -> list[dict]

    ACTIONS (approved one by one in the registry), GATE_ACTIONS (ACTIONS and
    createTemplate: everything a decision can be asked about), CAPTURES, CHANNELS,
    FEATURES, UNKNOWN_CAPTURE

Errors come from shared/errors.py with stable codes: Unauthorized, NotFound,
BadArgument, PolicyDenied (403) and ServiceUnavailable (503).
See docs/policy.md for the policies, the registry, keys and the audit schema.
"""

from shared.policy.audit import audit_rows
from shared.policy.context import Caller, Context, context_from
from shared.policy.decisions import Decision, decide, decide_all, guarded
from shared.policy.model import (
    ACTIONS,
    CAPTURES,
    CHANNELS,
    FEATURES,
    GATE_ACTIONS,
    UNKNOWN_CAPTURE,
    Customer,
)
from shared.policy.registry import authenticate, get_customer

__all__ = [
    "ACTIONS",
    "CAPTURES",
    "CHANNELS",
    "FEATURES",
    "GATE_ACTIONS",
    "UNKNOWN_CAPTURE",
    "Caller",
    "Context",
    "Customer",
    "Decision",
    "audit_rows",
    "authenticate",
    "context_from",
    "decide",
    "decide_all",
    "get_customer",
    "guarded",
]
