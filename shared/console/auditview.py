"""The audit browser: decisions filtered by customer, day, action, outcome and policy id,
one decision's full record with the policies that decided it, and CSV export.

Reads the ``audit`` table the gate writes (one row per decision and action,
partition ``{customerId}:{day}``). Without a customer filter, each registered
customer's partition for that day is read, so a query never scans the table.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from azure.core.exceptions import AzureError

from shared.console import changes, policies
from shared.errors import BadArgument, NotFound, ServiceUnavailable
from shared.policy import audit, model, registry
from shared.settings import SettingsError
from shared.storage import clients, names

MAX_ROWS = 2000
OUTCOMES = ("allow", "deny")
CSV_COLUMNS = (
    "time", "customer", "action", "decision", "policyIds", "decisionId", "requestId",
    "channel", "capture", "purpose",
)  # fmt: skip


@dataclass(frozen=True)
class Filters:
    day: date
    customer: str | None = None
    action: str | None = None
    outcome: str | None = None
    policy_id: str | None = None

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> Filters:
        """Filters from a query string; blanks mean "any", day defaults to today (UTC)."""

        def given(name: str) -> str | None:
            value = (query.get(name) or "").strip()
            return value or None

        day_text = given("day")
        try:
            day = date.fromisoformat(day_text) if day_text else datetime.now(UTC).date()
        except ValueError:
            raise BadArgument(f"day must be YYYY-MM-DD (got {day_text[:20]!r}).") from None
        customer = given("customer")
        action = given("action")
        outcome = given("outcome")
        if outcome is not None and outcome not in OUTCOMES:
            raise BadArgument("outcome must be allow or deny.")
        policy_id = given("policy")
        if policy_id is not None and len(policy_id) > 128:
            raise BadArgument("a policy id is at most 128 characters.")
        return cls(
            day=day,
            customer=model.customer_id(customer) if customer else None,
            action=model.action(action) if action else None,
            outcome=outcome,
            policy_id=policy_id,
        )

    def keeps(self, row: Mapping[str, Any]) -> bool:
        return (
            (self.action is None or self.action in str(row["action"]).split(","))
            and (self.outcome is None or row["decision"] == self.outcome)
            and (self.policy_id is None or self.policy_id in row["policyIds"])
        )


def _read(pk: str, extra: str = "", parameters: dict[str, str] | None = None) -> list[dict]:
    try:
        table = clients.table_service().get_table_client(names.AUDIT)
        query = "PartitionKey eq @pk" + (f" and {extra}" if extra else "")
        return list(table.query_entities(query, parameters={"pk": pk, **(parameters or {})}))
    except (AzureError, SettingsError, OSError) as exc:
        raise ServiceUnavailable("The audit trail cannot be read.") from exc


def search(filters: Filters) -> dict[str, Any]:
    """Matching rows, oldest first, at most MAX_ROWS (``truncated`` says when more matched)."""
    if filters.customer:
        customers = [filters.customer]
    else:
        customers = [c.id for c in registry.list_customers()]
    rows: list[tuple[str, dict[str, Any]]] = []
    for customer_id in customers:
        for entity in _read(audit.partition(customer_id, filters.day)):
            row = audit.plain(entity)
            if filters.keeps(row):
                rows.append((str(entity["RowKey"]), row))
    rows.sort(key=lambda r: r[0])
    return {
        "day": filters.day.isoformat(),
        "rows": [r for _, r in rows[:MAX_ROWS]],
        "truncated": len(rows) > MAX_ROWS,
    }


def decision(customer_id: str, day: str, decision_id: str) -> dict[str, Any]:
    """One decision's full record: its rows, the policies that decided and their text, the
    context it saw, and the customer record as it stood then (as far as the console's
    change history can tell)."""
    filters = Filters.parse({"customer": customer_id, "day": day})
    if not decision_id or len(decision_id) > 64:
        raise BadArgument("a decision id is 1-64 characters.")
    entities = _read(
        audit.partition(filters.customer or "", filters.day),
        "DecisionId eq @d",
        {"d": decision_id},
    )
    if not entities:
        raise NotFound(f"no decision {decision_id!r} for {customer_id!r} on {day}.")
    entities.sort(key=lambda e: e["RowKey"])
    rows = [audit.plain(e) for e in entities]
    first = rows[0]
    deciding = list(dict.fromkeys(pid for r in rows for pid in r["policyIds"]))
    by_id = {p["id"]: p for p in policies.listing()}
    why = [
        by_id.get(pid)
        or {"id": pid, "effect": "forbid", "file": "", "comment": _DEFAULT_DENY, "text": ""}
        for pid in deciding
    ]
    return {
        "decisionId": decision_id,
        "customer": first["customer"],
        "time": first["time"],
        "allowed": all(r["decision"] == "allow" for r in rows),
        "rows": rows,
        "context": {
            "channel": first["channel"],
            "capture": first["capture"],
            "purpose": first["purpose"] or None,
            "requestId": first["requestId"],
        },
        "policies": why,
        "customerAtDecision": _customer_then(first["customer"], first["time"]),
    }


_DEFAULT_DENY = "No policy permitted the action, so Cedar denied it by default."


def _customer_then(customer_id: str, when: str) -> dict[str, Any] | None:
    """The record now, with every console change made after ``when`` undone."""
    try:
        record = registry.load_customer(customer_id).to_dict()
    except NotFound:
        return None
    for change in changes.history(customer_id, limit=10_000):  # newest first
        if change["time"] <= when:
            break
        if change["kind"] in ("revoke-key", "erase-galleries"):
            continue
        if change["kind"] == "create":
            return None
        record.update(change["before"])
    return record


def _cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run: a leading =, +, - or @ is quoted away."""
    text = ";".join(value) if isinstance(value, list) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.get(c, "")) for c in CSV_COLUMNS])
    return out.getvalue()
