"""The one place the use cases ask the policy gate, so none can forget to."""

from __future__ import annotations

from collections.abc import Sequence

from shared.errors import PolicyDenied
from shared.policy import Context, Customer, Decision, decide, decide_all

RECOGNITION_ACTIONS = ("identify", "verify")


def require(customer: Customer, actions: Sequence[str], context: Context) -> Decision:
    """Allow (audited), or raise PolicyDenied naming the deciding policies and the decision id."""
    decision = decide_all(customer, list(actions), context)
    if not decision.allowed:
        raise decision.denial()
    return decision


def require_any_recognition(customer: Customer, context: Context) -> Decision:
    """A faceId is a biometric template: make one only for a customer who may verify or identify."""
    denied: Decision | None = None
    for action in RECOGNITION_ACTIONS:
        decision = decide(customer, action, context)
        if decision.allowed:
            return decision
        denied = denied or decision
    assert denied is not None
    raise PolicyDenied(
        "returnFaceId makes a biometric template; it needs a customer allowed to verify or "
        f"identify in this context (policies: {', '.join(denied.policy_ids)}).",
        policy_ids=list(denied.policy_ids),
        decision_id=denied.decision_id,
    )
