"""Cedar policies: loaded and validated once per process, evaluated per action.

The policy text is every ``policies/*.cedar`` file in name order. All the actions of one
request are evaluated together, in one Cedar batch (``evaluate_many``). At load the
set is parsed, validated against ``schema.cedarschema.json``, and each
parser-assigned id (``policy0``, ...) is mapped to its ``@id`` annotation, so
decisions name rules the way the files do. Anything wrong (a missing file, a
policy without ``@id``, a schema violation, an evaluation error) is a
ServiceUnavailable: the gate fails closed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cedarpy

from shared.errors import ServiceUnavailable
from shared.lazy import Lazy
from shared.policy import model
from shared.policy.context import Context
from shared.policy.model import Customer

HERE = Path(__file__).resolve().parent
POLICY_DIR = HERE / "policies"
SCHEMA_PATH = HERE / "schema.cedarschema.json"
NAMESPACE = "FaceGate"
RESOURCE = {"type": f"{NAMESPACE}::Service", "id": "facegate"}
DEFAULT_DENY = "default-deny"  # named when Cedar denies because no policy permitted

log = logging.getLogger(__name__)


class PolicyError(ValueError):
    """The policy files or the schema are missing or invalid."""


@dataclass(frozen=True)
class PolicyBundle:
    """A parsed, validated policy set and what is needed to explain its decisions."""

    policy_set: Any  # cedarpy.PolicySet
    schema: Any  # cedarpy.Schema
    ids: dict[str, str]  # parser id (policyN) -> @id
    order: tuple[str, ...]  # @ids in file order
    effects: dict[str, str]  # @id -> "permit" | "forbid"
    comments: dict[str, str]  # @id -> the why-comment above it


def _read(directory: Path, schema_path: Path) -> tuple[list[tuple[Path, str]], str]:
    try:
        files = sorted(directory.glob("*.cedar"))
        texts = [(p, p.read_text(encoding="utf-8")) for p in files]
        schema_text = schema_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot read policies: {exc}") from exc
    if not texts:
        raise PolicyError(f"no .cedar files in {directory}")
    return texts, schema_text


def _why(text: str) -> str:
    lines = [ln.strip()[2:].strip() for ln in text.splitlines() if ln.strip().startswith("//")]
    return " ".join(lines)


def problems(directory: Path | None = None, schema_path: Path | None = None) -> list[str]:
    """Everything wrong with the policies and schema; empty when they are fit to load."""
    try:
        load(directory or POLICY_DIR, schema_path or SCHEMA_PATH)
    except PolicyError as exc:
        return str(exc).split("\n")
    return []


def load(directory: Path = POLICY_DIR, schema_path: Path = SCHEMA_PATH) -> PolicyBundle:
    """Parse and validate the policies; PolicyError (all problems, one a line) otherwise."""
    texts, schema_text = _read(directory, schema_path)
    errors: list[str] = []
    comments: dict[str, str] = {}
    for path, text in texts:
        try:
            static = json.loads(cedarpy.policies_to_json_str(text))["staticPolicies"]
        except (ValueError, KeyError) as exc:
            errors.append(f"{path.name}: does not parse: {exc}")
            continue
        if len(static) != 1:
            errors.append(f"{path.name}: holds {len(static)} policies; one rule per file")
            continue
        pid = next(iter(static.values())).get("annotations", {}).get("id")
        if pid and not _why(text):
            errors.append(f"{path.name}: say why in a // comment above the rule")
        if pid:
            comments[pid] = _why(text)
    if errors:
        raise PolicyError("\n".join(errors))

    text = "\n".join(t for _, t in texts)
    static = json.loads(cedarpy.policies_to_json_str(text))["staticPolicies"]
    ids: dict[str, str] = {}
    effects: dict[str, str] = {}
    for parser_id, body in static.items():
        pid = body.get("annotations", {}).get("id")
        where = texts[int(parser_id.removeprefix("policy"))][0].name  # one policy per file
        if not pid:
            errors.append(f"{where}: every policy needs an @id annotation")
        elif pid in effects:
            errors.append(f"{where}: @id {pid!r} is used twice")
        elif pid == DEFAULT_DENY:
            errors.append(f"{where}: @id {DEFAULT_DENY!r} is reserved for Cedar's implicit deny")
        else:
            ids[parser_id] = pid
            effects[pid] = body["effect"]
    try:
        schema = cedarpy.Schema.from_json_str(schema_text)
        result = cedarpy.validate_policies(text, schema)
    except ValueError as exc:
        raise PolicyError(f"schema does not parse: {exc}") from exc
    for err in result.errors:
        named = ids.get(err.policy_id, err.policy_id)
        errors.append(f"{named}: {err.error}")
    if not result.validation_passed and not result.errors:
        errors.append("policies do not validate against the schema")
    if errors:
        raise PolicyError("\n".join(errors))
    order = tuple(ids[k] for k in sorted(ids, key=lambda k: int(k.removeprefix("policy"))))
    return PolicyBundle(
        policy_set=cedarpy.PolicySet.from_str(text),
        schema=schema,
        ids=ids,
        order=order,
        effects=effects,
        comments=comments,
    )


def _load_or_unavailable() -> PolicyBundle:
    try:
        return load(POLICY_DIR, SCHEMA_PATH)
    except PolicyError as exc:
        log.error("policy set invalid; refusing every request: %s", exc)
        raise ServiceUnavailable(
            "The policy set is unavailable or invalid; nothing is analysed."
        ) from exc


# The process-wide policy set, loaded on first use; ServiceUnavailable if it is invalid.
# A failed load is not remembered, so a fixed deployment recovers without a restart;
# ``bundle.reset()`` drops it (tests that load broken policies).
bundle: Lazy[PolicyBundle] = Lazy(_load_or_unavailable)


def customer_entity(customer: Customer) -> dict[str, Any]:
    return {
        "uid": {"type": f"{NAMESPACE}::Customer", "id": customer.id},
        "attrs": {
            "sector": customer.sector,
            "country": customer.country,
            "status": customer.status,
            "reviewState": customer.review_state,
            "sensitiveUse": customer.sensitive_use,
            "approvedActions": [
                {"__entity": {"type": f"{NAMESPACE}::Action", "id": a}} for a in customer.actions
            ],
            "purposes": list(customer.purposes),
        },
        "parents": [],
    }


def _resource(customer: Customer, action: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The resource an action is on: the service, or for ``erase`` the caller's own biometric
    data (its owner is the caller: the service only ever erases the caller's partitions)."""
    if action != model.ERASE:
        return RESOURCE, []
    uid = {"type": f"{NAMESPACE}::BiometricData", "id": customer.id}
    owner = {"__entity": {"type": f"{NAMESPACE}::Customer", "id": customer.id}}
    return uid, [{"uid": uid, "attrs": {"owner": owner}, "parents": []}]


def evaluate_many(
    customer: Customer,
    actions: Sequence[str],
    context: Context,
    policies: PolicyBundle | None = None,
) -> dict[str, tuple[bool, tuple[str, ...]]]:
    """Action -> (allowed, deciding @ids), for every action of one request. Writes nothing.

    One Cedar batch: each action is a request with the same principal, entities, resource
    and context. On allow the ids are the permits that matched; on deny the forbids that
    matched, or ``default-deny`` when nothing permitted. An evaluation error raises
    ServiceUnavailable instead of deciding: Cedar skips a policy that errors, and a
    skipped forbid must never turn into an allow.
    """
    policies = policies or bundle()
    requests = []
    entities = [customer_entity(customer)]
    for action in actions:
        resource, data = _resource(customer, action)
        entities += [d for d in data if d not in entities]
        requests.append(
            {
                "principal": {"type": f"{NAMESPACE}::Customer", "id": customer.id},
                "action": {"type": f"{NAMESPACE}::Action", "id": action},
                "resource": resource,
                "context": context.cedar(),
            }
        )
    results = cedarpy.is_authorized_batch(
        requests, policies.policy_set, entities, schema=policies.schema
    )
    if len(results) != len(requests):
        raise ServiceUnavailable("The policy decision could not be evaluated; nothing is analysed.")
    return {
        action: _outcome(action, result, policies)
        for action, result in zip(actions, results, strict=True)
    }


def _outcome(action: str, result: Any, policies: PolicyBundle) -> tuple[bool, tuple[str, ...]]:
    errors = result.diagnostics.errors
    if errors or result.decision not in (cedarpy.Decision.Allow, cedarpy.Decision.Deny):
        log.error("policy evaluation failed for action %s: %s", action, "; ".join(errors))
        raise ServiceUnavailable("The policy decision could not be evaluated; nothing is analysed.")
    reasons = {policies.ids.get(r, r) for r in result.diagnostics.reasons}
    named = tuple(pid for pid in policies.order if pid in reasons)
    allowed = result.decision == cedarpy.Decision.Allow
    if not allowed and not named:
        named = (DEFAULT_DENY,)
    return allowed, named


def evaluate(
    customer: Customer, action: str, context: Context, policies: PolicyBundle | None = None
) -> tuple[bool, tuple[str, ...]]:
    """(allowed, deciding @ids) for one action (see ``evaluate_many``)."""
    return evaluate_many(customer, [action], context, policies)[action]
