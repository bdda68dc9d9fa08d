"""Read side of the console's customer pages: the list, one record, the review queue."""

from __future__ import annotations

from typing import Any

from shared.console import changes
from shared.errors import BadArgument
from shared.policy import model, registry

MAX_QUERY = 100


def find(query: str = "", status: str = "") -> list[dict[str, Any]]:
    """Customers whose id or name contains ``query`` (case-insensitive), optionally by status."""
    text = (query or "").strip().lower()[:MAX_QUERY]
    wanted = (status or "").strip().lower()
    if wanted and wanted not in model.STATUSES:
        raise BadArgument(f"status must be one of {', '.join(model.STATUSES)}.")
    return [
        c.to_dict()
        for c in registry.list_customers()
        if (not text or text in c.id or text in c.name.lower())
        and (not wanted or c.status == wanted)
    ]


def record(customer_id: str) -> dict[str, Any]:
    """One customer: the registry record, its keys by id only, and the console's changes."""
    customer = registry.load_customer(customer_id)
    keys = [
        {"keyId": k.key_id, "createdAt": k.created_at, "revoked": k.revoked,
         "revokedAt": k.revoked_at}
        for k in registry.list_keys(customer.id)
    ]  # fmt: skip
    return {
        "customer": customer.to_dict(),
        "keys": keys,
        "changes": changes.history(customer.id),
        "cacheSeconds": registry.cache_seconds(),
    }


def review_queue() -> list[dict[str, Any]]:
    """Customers flagged for sensitive use whose review waits, oldest change first."""
    waiting = [
        c for c in registry.list_customers() if c.sensitive_use and c.review_state == "pending"
    ]
    return [c.to_dict() for c in sorted(waiting, key=lambda c: (c.updated_at, c.id))]


def vocabulary() -> dict[str, Any]:
    """The choices a form offers, so the page never hard-codes the registry's words."""
    return {
        "sectors": list(model.SECTORS),
        "statuses": list(model.STATUSES),
        "reviewStates": list(model.REVIEW_STATES),
        "actions": list(model.ACTIONS),
        "gateActions": list(model.GATE_ACTIONS),
        "features": list(model.FEATURES),
        "retentions": list(model.RETENTIONS),
        "editable": list(model.EDITABLE),
    }


def record_cache_seconds() -> int:
    """How long a registry change may take to reach the gate (FACEGATE_REGISTRY_CACHE_SECONDS)."""
    return registry.cache_seconds()
