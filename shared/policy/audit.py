"""The audit trail: one append-only group of Table rows per decision, allow or deny.

A decision covers every action of one request; its group has one row per action
(that action's outcome and the policies that decided it), every row also carrying
the outcome of the whole decision (``Overall``: deny when any action is denied).

Table ``audit``: PartitionKey = ``{customerId}:{yyyy-mm-dd}`` (UTC day), so one
customer's day is one partition query; RowKey = ``{UTC time to the microsecond}-
{decisionId}-{n}-{action}``, so rows sort by time, then in the order asked.
Rows are only ever created (``create_entity`` or a transaction of creates),
never upserted or updated.
A row holds who, what, the outcome and why; never pixels, embeddings or keys.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from shared.errors import BadArgument
from shared.policy import model
from shared.policy.context import Context
from shared.storage import clients, names
from shared.storage.faults import storage_unavailable_as_503


@dataclass(frozen=True)
class Outcome:
    """The decision on one action."""

    action: str
    allowed: bool
    policy_ids: tuple[str, ...]


def partition(customer_id: str, day: date) -> str:
    return f"{customer_id}:{day.isoformat()}"


def _row(
    customer_id: str,
    decision_id: str,
    when: datetime,
    context: Context,
    index: int,
    outcome: Outcome,
    overall: bool,
) -> dict[str, Any]:
    stamp = when.astimezone(UTC)
    return {
        "PartitionKey": partition(customer_id, stamp.date()),
        "RowKey": f"{stamp:%Y%m%dT%H%M%S.%fZ}-{decision_id}-{index}-{outcome.action}",
        "Customer": customer_id,
        "Action": outcome.action,
        "Decision": "allow" if outcome.allowed else "deny",
        "Overall": "allow" if overall else "deny",
        "PolicyIds": ",".join(outcome.policy_ids),
        "RequestId": context.request_id,
        "DecisionId": decision_id,
        "Channel": context.channel,
        "Capture": context.capture,
        "Purpose": context.purpose or "",
        "Time": f"{stamp:%Y-%m-%dT%H:%M:%S.%fZ}",
    }


def record(
    customer_id: str,
    decision_id: str,
    when: datetime,
    context: Context,
    outcomes: Sequence[Outcome],
) -> None:
    """Write one row per outcome, all or nothing; ServiceUnavailable if it cannot be written.

    The rows of one decision share a partition, so they go in one transaction.
    """
    overall = all(o.allowed for o in outcomes)
    rows = [
        _row(customer_id, decision_id, when, context, i, o, overall) for i, o in enumerate(outcomes)
    ]
    with storage_unavailable_as_503(
        "audit write",
        message="The audit trail cannot be written; nothing is analysed.",
        answers=(),
    ):
        table = clients.table_service().get_table_client(names.AUDIT)
        if len(rows) == 1:
            table.create_entity(rows[0])
        else:  # at most len(GATE_ACTIONS) rows: well under a transaction's 100 operations
            table.submit_transaction([("create", r) for r in rows])


def record_operator(customer_id: str, action: str, actor: str, target: str) -> str:
    """An operator's act on a customer's data (no Cedar decision: operators are not customers):
    one row in the customer's audit partition, written before the act; returns its id."""
    when = model.utc_now()
    operation_id = str(uuid.uuid4())
    context = Context("unknown", "admin", None, operation_id, False)
    outcome = Outcome(action, True, ("operator",))
    row = _row(customer_id, operation_id, when, context, 0, outcome, overall=True)
    row.update(Actor=actor[:200], Target=target[:200])
    with storage_unavailable_as_503(
        "audit write",
        message="The audit trail cannot be written; nothing was done.",
        answers=(),
    ):
        clients.table_service().get_table_client(names.AUDIT).create_entity(row)
    return operation_id


def _day(value: date | str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise BadArgument(f"day must be YYYY-MM-DD (got {value!r}).") from None


def audit_rows(customer_id: str, day: date | str) -> list[dict[str, Any]]:
    """One customer's audit rows for one UTC day, oldest first, as plain dicts."""
    pk = partition(model.customer_id(customer_id), _day(day))
    with storage_unavailable_as_503(
        "audit read", message="The audit trail cannot be read.", answers=()
    ):
        table = clients.table_service().get_table_client(names.AUDIT)
        entities = list(table.query_entities("PartitionKey eq @pk", parameters={"pk": pk}))
    entities.sort(key=lambda e: e["RowKey"])
    return [plain(e) for e in entities]


def plain(e: Mapping[str, Any]) -> dict[str, Any]:
    """One stored audit row as a plain dict (the admin CLI's and the console's shape)."""
    return {
        "time": e.get("Time", ""),
        "customer": e.get("Customer", ""),
        "action": e.get("Action", ""),
        "decision": e.get("Decision", ""),
        "overall": e.get("Overall", ""),
        "policyIds": [p for p in str(e.get("PolicyIds", "")).split(",") if p],
        "decisionId": e.get("DecisionId", ""),
        "requestId": e.get("RequestId", ""),
        "channel": e.get("Channel", ""),
        "capture": e.get("Capture", ""),
        "purpose": e.get("Purpose", ""),
        **({"actor": e["Actor"], "target": e.get("Target", "")} if "Actor" in e else {}),
    }
