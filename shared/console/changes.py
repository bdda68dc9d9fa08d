"""Every change an operator makes, applied to the registry and recorded: who, what, why.

A change record is a row beside the customer's own row in ``customers`` (same partition,
RowKey ``change-{UTC time to the microsecond}-{changeId}``), only ever created. A change to
the customer record and its change record are one transaction: both happen or neither, and
a concurrent change makes one of them fail with Conflict (optimistic concurrency), so two
operators deciding the same review at once leave exactly one decision and one record.
Key revocations and erasures touch other tables: their record is written first, then the
action (which is idempotent). A registry change reaches the gate within
FACEGATE_REGISTRY_CACHE_SECONDS.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.console.operators import Operator
from shared.errors import BadArgument, Conflict, NotFound
from shared.policy import model, registry

MAX_REASON = 1000
KINDS = (
    "create",
    "change",
    "suspend",
    "reactivate",
    "approve-review",
    "deny-review",
    "revoke-key",
    "erase-galleries",
)


@dataclass(frozen=True)
class Change:
    """One applied change, as the customer's history shows it."""

    change_id: str
    customer_id: str
    kind: str
    operator: str
    via: str
    reason: str
    before: dict[str, Any]
    after: dict[str, Any]
    time: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "changeId": self.change_id,
            "customerId": self.customer_id,
            "kind": self.kind,
            "operator": self.operator,
            "via": self.via,
            "reason": self.reason,
            "before": self.before,
            "after": self.after,
            "time": self.time,
        }


def reason_of(value: object) -> str:
    """A written reason is required for every change."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise BadArgument("give a reason for this change (it is kept in the audit).")
    if len(text) > MAX_REASON or any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise BadArgument(f"a reason is at most {MAX_REASON} printable characters.")
    return text


def _record(
    customer_id: str,
    kind: str,
    operator: Operator,
    reason: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
) -> tuple[Change, dict[str, Any]]:
    """The change and its journal row (not written here)."""
    now = datetime.now(UTC)
    change = Change(
        change_id=str(uuid.uuid4()),
        customer_id=customer_id,
        kind=kind,
        operator=operator.name,
        via=operator.via,
        reason=reason,
        before=dict(before),
        after=dict(after),
        time=f"{now:%Y-%m-%dT%H:%M:%S.%fZ}",
    )
    row = {
        "RowKey": f"{registry.JOURNAL_PREFIX}{now:%Y%m%dT%H%M%S.%fZ}-{change.change_id}",
        "ChangeId": change.change_id,
        "Kind": kind,
        "Operator": operator.name,
        "Via": operator.via,
        "Subject": operator.subject,
        "Reason": reason,
        "Before": json.dumps(change.before, sort_keys=True),
        "After": json.dumps(change.after, sort_keys=True),
        "Time": change.time,
    }
    return change, row


def history(customer_id: str, limit: int = 200) -> list[dict[str, Any]]:
    """A customer's changes, newest first."""
    rows = sorted(registry.journal_rows(customer_id), key=lambda r: r["RowKey"], reverse=True)
    return [
        {
            "changeId": r.get("ChangeId", ""),
            "kind": r.get("Kind", ""),
            "operator": r.get("Operator", ""),
            "via": r.get("Via", ""),
            "reason": r.get("Reason", ""),
            "before": json.loads(r.get("Before") or "{}"),
            "after": json.loads(r.get("After") or "{}"),
            "time": r.get("Time", ""),
        }
        for r in rows[:limit]
    ]


def _diff(before: model.Customer, after: model.Customer) -> tuple[dict, dict]:
    old, new = before.to_dict(), after.to_dict()
    keys = [k for k in model.EDITABLE if old.get(k) != new.get(k)]
    return {k: old[k] for k in keys}, {k: new[k] for k in keys}


def create_customer(fields: Mapping[str, Any], operator: Operator, reason: object) -> Change:
    """Register a new customer (no key: keys are issued by the admin CLI, shown once)."""
    why = reason_of(reason)
    unknown = set(fields) - {"id", *model.EDITABLE}
    if unknown:
        raise BadArgument(f"unknown customer fields: {', '.join(sorted(unknown))}.")
    customer = model.Customer.create(**fields)
    change, row = _record(customer.id, "create", operator, why, {}, customer.to_dict())
    registry.add_customer(customer, journal=row)
    return change


def change_customer(
    customer_id: str,
    fields: Mapping[str, Any],
    operator: Operator,
    reason: object,
    kind: str = "change",
    check: registry.Check | None = None,
) -> Change:
    """Apply field changes to a customer (validated as the registry does), with their record
    in the same transaction."""
    why = reason_of(reason)
    if kind not in KINDS:
        raise BadArgument(f"unknown change kind {kind!r}.")
    made: list[Change] = []

    def journal(current: model.Customer, updated: model.Customer) -> dict[str, Any]:
        before, after = _diff(current, updated)
        if not after:
            raise BadArgument("nothing to change: the record already says that.")
        change, row = _record(current.id, kind, operator, why, before, after)
        made.append(change)
        return row

    registry.update_customer(customer_id, check=check, journal=journal, **fields)
    return made[0]


def suspend(customer_id: str, operator: Operator, reason: object) -> Change:
    return change_customer(customer_id, {"status": "suspended"}, operator, reason, "suspend")


def reactivate(customer_id: str, operator: Operator, reason: object) -> Change:
    return change_customer(customer_id, {"status": "active"}, operator, reason, "reactivate")


def decide_review(customer_id: str, approve: bool, operator: Operator, reason: object) -> Change:
    """Approve or deny a customer's sensitive use; only a pending review can be decided, once."""

    def pending(current: model.Customer) -> None:
        if current.review_state != "pending":
            raise Conflict(
                f"customer {current.id!r} has no pending review (review state "
                f"{current.review_state!r})."
            )

    state, kind = ("approved", "approve-review") if approve else ("denied", "deny-review")
    return change_customer(customer_id, {"review_state": state}, operator, reason, kind, pending)


def revoke_key(customer_id: str, key_id: str, operator: Operator, reason: object) -> Change:
    why = reason_of(reason)
    customer = registry.load_customer(customer_id)
    keys = {k.key_id: k for k in registry.list_keys(customer.id)}
    if key_id not in keys:
        raise NotFound(f"customer {customer.id!r} has no key {key_id!r}.")
    if keys[key_id].revoked:
        raise Conflict(f"key {key_id!r} is revoked already.")
    change, row = _record(
        customer.id, "revoke-key", operator, why, {"keyId": key_id, "revoked": False},
        {"keyId": key_id, "revoked": True},
    )  # fmt: skip
    registry.add_journal_row(customer.id, row)
    registry.revoke_key(customer.id, key_id)
    return change


def record_erasure(
    customer_id: str, operator: Operator, reason: str, erased: Mapping[str, Any]
) -> Change:
    """Record an erasure before it runs."""
    change, row = _record(customer_id, "erase-galleries", operator, reason, {}, erased)
    registry.add_journal_row(customer_id, row)
    return change
