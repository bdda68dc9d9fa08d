"""The one place the use cases ask the policy gate, so none can forget to."""

from __future__ import annotations

from collections.abc import Sequence

from shared.policy import Context, Customer, Decision, decide_all


def require(customer: Customer, actions: Sequence[str], context: Context) -> Decision:
    """One decision for every action the request needs: allowed (audited) or PolicyDenied.

    Cedar decides the actions together; the decision has one id and one audit group, and
    a denial names every policy that refused any of them.
    """
    decision = decide_all(customer, list(actions), context)
    if not decision.allowed:
        raise decision.denial()
    return decision
