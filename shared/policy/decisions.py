"""Decisions: one per request, covering every action it needs, audited before it is returned.

A request names all its actions at once (detect, each sensitive attribute,
createTemplate for a faceId, identify for an upload against a gallery...); Cedar
decides them together, and the decision has one id and one audit group: a row
per action with its own outcome, plus the outcome of the whole decision.

Order of work in ``decide_all``: validate the actions, evaluate them in one Cedar
batch (in memory), write the audit group in one transaction, then return. If
evaluating or auditing fails, ServiceUnavailable is raised and no decision
exists, so nothing can be analysed on its strength.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from shared.errors import BadArgument, PolicyDenied
from shared.policy import audit, engine, model
from shared.policy.context import Context
from shared.policy.model import Customer

T = TypeVar("T")


@dataclass(frozen=True)
class Decision:
    """Allow or deny for one or more actions, with the policy ids that decided.

    ``policy_ids``: on allow, the permits that matched (``approved-action``); on
    deny, the forbids that matched for the denied actions, or ``default-deny``.
    ``action`` is the single action decided, or for a combined decision the denied
    action(s) (comma-separated), or all actions when everything was allowed.
    """

    allowed: bool
    actions: tuple[str, ...]
    policy_ids: tuple[str, ...]
    decision_id: str
    denied_actions: tuple[str, ...] = ()
    per_action: dict[str, tuple[bool, tuple[str, ...]]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def action(self) -> str:
        return ",".join(self.denied_actions or self.actions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "actions": list(self.actions),
            "deniedActions": list(self.denied_actions),
            "policyIds": list(self.policy_ids),
            "decisionId": self.decision_id,
        }

    def denial(self) -> PolicyDenied:
        """The PolicyDenied error for this (denied) decision: each refused action and why."""
        refused = "; ".join(
            f"'{a}' ({', '.join(self.per_action[a][1])})" if a in self.per_action else f"'{a}'"
            for a in self.denied_actions or self.actions
        )
        return PolicyDenied(
            f"The responsible-use policy does not allow {refused} for this customer in this "
            f"context (decision {self.decision_id}).",
            policy_ids=list(self.policy_ids),
            decision_id=self.decision_id,
        )


def _actions(actions: str | Sequence[str]) -> tuple[str, ...]:
    items = [actions] if isinstance(actions, str) else list(actions)
    if not items:
        raise BadArgument("at least one action is needed for a policy decision.")
    return tuple(dict.fromkeys(model.action(a) for a in items))


def evaluate_all(
    customer: Customer, actions: str | Sequence[str], context: Context, decision_id: str = ""
) -> Decision:
    """The decision without writing the audit trail: for dry runs (``policy check``) only."""
    names = _actions(actions)
    policies = engine.bundle()
    per_action = engine.evaluate_many(customer, names, context, policies)
    denied = tuple(a for a in names if not per_action[a][0])
    relevant = denied or names
    reasons = {pid for a in relevant for pid in per_action[a][1]}
    ordered = [pid for pid in (*policies.order, engine.DEFAULT_DENY) if pid in reasons]
    return Decision(
        allowed=not denied,
        actions=names,
        policy_ids=tuple(ordered),
        decision_id=decision_id or str(uuid.uuid4()),
        denied_actions=denied,
        per_action=per_action,
    )


def decide_all(customer: Customer, actions: str | Sequence[str], context: Context) -> Decision:
    """Decide every action; denied if any is. One audit row per action, written first.

    Raises ServiceUnavailable (nothing decided, nothing to analyse) when the
    policies cannot be evaluated or the audit rows cannot be written.
    """
    decision = evaluate_all(customer, actions, context)
    audit.record(
        customer.id,
        decision.decision_id,
        model.utc_now(),
        context,
        [audit.Outcome(a, *decision.per_action[a]) for a in decision.actions],
    )
    return decision


def decide(customer: Customer, action: str, context: Context) -> Decision:
    """Decide one action (see ``decide_all``)."""
    return decide_all(customer, [action], context)


def guarded(
    customer: Customer, actions: str | Sequence[str], context: Context, work: Callable[[], T]
) -> tuple[Decision, T]:
    """Run ``work()`` only after an audited allow; PolicyDenied or ServiceUnavailable otherwise.

    The safest way to call vision code: there is no path to ``work`` that skips
    the decision or its audit row.
    """
    decision = decide_all(customer, actions, context)
    if not decision.allowed:
        raise decision.denial()
    return decision, work()
