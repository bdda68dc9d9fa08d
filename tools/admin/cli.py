"""`python -m tools.admin`: manage customers, keys and console operators, read the audit trail,
check policies, erase a customer's biometric data, move a customer's galleries between stores.

Works against the storage the app uses (FACEGATE_STORAGE, default the local
emulator). Output is JSON on stdout; an error is one line on stderr and exit
code 2. Keys are printed once, when issued, and never again.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.console import operators
from shared.errors import BadArgument, FaceGateError, ServiceUnavailable
from shared.pipeline import access
from shared.policy import audit, context_from, engine, model, registry
from shared.policy.decisions import evaluate_all
from shared.service import erasure
from shared.settings import storage_settings
from shared.storage import provision
from tools.admin import galleries

FIELD_OPTIONS: dict[str, str] = {
    "name": "--name",
    "sector": "--sector",
    "country": "--country",
    "status": "--status",
    "review_state": "--review-state",
    "sensitive_use": "--sensitive-use",
    "actions": "--actions",
    "purposes": "--purposes",
    "retention": "--retention",
    "default_features": "--default-features",
    "rate_limit": "--rate-limit",
    "verify_limit": "--verify-limit",
    "gallery_store": "--gallery-store",
}


def _emit(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=False))


def _prepare_storage() -> None:
    """Locally (a connection string), create missing tables; in Azure, Bicep made them."""
    if storage_settings().connection_string:
        try:
            provision.ensure_storage()
        except Exception as exc:  # any failure here means "storage unreachable"
            raise ServiceUnavailable(f"storage is unreachable ({type(exc).__name__}).") from exc


def _fields(args: argparse.Namespace) -> dict[str, Any]:
    return {f: getattr(args, f) for f in FIELD_OPTIONS if getattr(args, f, None) is not None}


# --- customers -----------------------------------------------------------------------------


def customers_add(args: argparse.Namespace) -> None:
    customer = model.Customer.create(id=args.id, **_fields(args))
    registry.add_customer(customer)
    out: dict[str, Any] = {"customer": customer.to_dict()}
    if not args.no_key:
        key, record = registry.issue_key(customer.id)
        out.update(key=key, keyId=record.key_id)
        out["note"] = "Store the key now: it is shown only once."
    _emit(out)


def customers_show(args: argparse.Namespace) -> None:
    customer = registry.load_customer(args.id)
    keys = [k.to_dict() for k in registry.list_keys(customer.id)]
    _emit({"customer": customer.to_dict(), "keys": keys})


def customers_list(args: argparse.Namespace) -> None:
    _emit([c.to_dict() for c in registry.list_customers()])


def customers_update(args: argparse.Namespace) -> None:
    changes = _fields(args)
    if not changes:
        raise BadArgument("nothing to change: give at least one field option.")
    _emit({"customer": registry.update_customer(args.id, **changes).to_dict()})


def _set_status(status: str) -> Callable[[argparse.Namespace], None]:
    def run(args: argparse.Namespace) -> None:
        _emit({"customer": registry.update_customer(args.id, status=status).to_dict()})

    return run


# --- keys ----------------------------------------------------------------------------------


def keys_issue(args: argparse.Namespace) -> None:
    key, record = registry.issue_key(args.customer)
    _emit(
        {
            "customerId": record.customer_id,
            "keyId": record.key_id,
            "key": key,
            "createdAt": record.created_at,
            "note": "Store the key now: it is shown only once.",
        }
    )


def keys_revoke(args: argparse.Namespace) -> None:
    _emit(registry.revoke_key(args.customer, args.key_id).to_dict())


def keys_list(args: argparse.Namespace) -> None:
    registry.load_customer(args.customer)
    _emit([k.to_dict() for k in registry.list_keys(args.customer)])


# --- console operators ---------------------------------------------------------------------


def operators_issue(args: argparse.Namespace) -> None:
    credential = operators.issue_credential(args.name)
    _emit(
        {
            "operator": args.name,
            "credential": credential,
            "note": "For the console's local sign-in; shown only once, any earlier one is void.",
        }
    )


# --- upload credentials -------------------------------------------------------------------


def uploads_grant(args: argparse.Namespace) -> None:
    """The customer's upload area (created if missing) and a time-limited SAS for it."""
    registry.load_customer(args.customer)  # only registered customers get an area
    out = access.grant(args.customer, timedelta(hours=args.hours)).to_json()
    out["note"] = (
        "Give these URLs to the customer's app only: the uploads URL can create and write "
        "blobs in its own uploads container, the results URL can read and list its results."
    )
    _emit(out)


def uploads_revoke(args: argparse.Namespace) -> None:
    _emit(access.revoke(args.customer))


def uploads_show(args: argparse.Namespace) -> None:
    _emit(
        {
            "customerId": args.customer,
            "uploadsContainer": access.uploads_container(args.customer),
            "resultsContainer": access.results_container(args.customer),
        }
    )


# --- audit and policy ----------------------------------------------------------------------


def audit_list(args: argparse.Namespace) -> None:
    day = args.day or datetime.now(UTC).date().isoformat()
    _emit(audit.audit_rows(args.customer, day))


def policy_check(args: argparse.Namespace) -> None:
    """A dry run: the decision the gate would make now, without an audit row."""
    customer = registry.load_customer(args.customer)
    env = None
    if args.federal_law_in_force is not None:
        env = {"FACEGATE_US_FEDERAL_FACE_LAW_IN_FORCE": args.federal_law_in_force}
    context = context_from(args.capture, args.channel, args.purpose, "policy-check", env=env)
    decision = evaluate_all(customer, args.action.split(","), context)
    out = decision.to_dict()
    out.pop("decisionId")
    out["perAction"] = {
        a: {"allowed": ok, "policyIds": list(ids)} for a, (ok, ids) in decision.per_action.items()
    }
    out["context"] = {
        "capture": context.capture,
        "channel": context.channel,
        "purpose": context.purpose,
        "usFederalFaceLawInForce": context.us_federal_face_law_in_force,
    }
    out["dryRun"] = True
    _emit(out)


def policy_validate(args: argparse.Namespace) -> int:
    found = engine.problems()
    if found:
        for line in found:
            print(f"invalid: {line}", file=sys.stderr)
        return 1
    policies = engine.load()
    _emit(
        {
            "valid": True,
            "policies": [
                {"id": pid, "effect": policies.effects[pid], "why": policies.comments.get(pid, "")}
                for pid in policies.order
            ],
        }
    )
    return 0


# --- erasure ------------------------------------------------------------------------------


def _operator(args: argparse.Namespace) -> str:
    return args.actor or os.environ.get("USER") or "operator"


def erase_gallery(args: argparse.Namespace) -> None:
    _emit(erasure.erase_gallery(args.customer, args.gallery, _operator(args)))


def erase_customer(args: argparse.Namespace) -> None:
    _emit(erasure.erase_customer_galleries(args.customer, _operator(args)))


# --- parser --------------------------------------------------------------------------------


def _customer_fields(parser: argparse.ArgumentParser, adding: bool) -> None:
    parser.add_argument("--name", required=adding, help="display name")
    parser.add_argument("--sector", required=adding, choices=model.SECTORS)
    parser.add_argument("--country", required=adding, help="ISO 3166-1 alpha-2, e.g. US")
    parser.add_argument("--status", choices=model.STATUSES, help="default pending")
    parser.add_argument("--review-state", dest="review_state", choices=model.REVIEW_STATES)
    parser.add_argument(
        "--sensitive-use",
        dest="sensitive_use",
        nargs="?",
        const="true",
        metavar="true|false",
        help="flag for sensitive use (recognition then needs review state approved)",
    )
    parser.add_argument("--actions", help=f"comma-separated, of: {','.join(model.ACTIONS)}")
    parser.add_argument("--purposes", help="comma-separated declared purposes (slugs)")
    parser.add_argument("--retention", choices=model.RETENTIONS, help="uploads: delete|keep")
    parser.add_argument(
        "--default-features",
        dest="default_features",
        help=f"blob upload defaults, of: {','.join(model.FEATURES)}",
    )
    parser.add_argument(
        "--rate-limit",
        dest="rate_limit",
        metavar="N/S",
        help="at most N HTTP requests per S seconds ('' = FACEGATE_RATE_LIMIT)",
    )
    parser.add_argument(
        "--verify-limit",
        dest="verify_limit",
        metavar="N/S",
        help="at most N verify calls against one gallery per S seconds "
        "('' = FACEGATE_VERIFY_LIMIT)",
    )
    if adding:  # an existing customer's galleries change store only by moving them
        parser.add_argument(
            "--gallery-store",
            dest="gallery_store",
            choices=[s for s in model.GALLERY_STORES if s],
            help="where its galleries live (default: FACEGATE_GALLERY_STORE)",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.admin", description=__doc__)
    areas = parser.add_subparsers(dest="area", required=True)

    customers = areas.add_parser("customers", help="the customer registry").add_subparsers(
        dest="command", required=True
    )
    add = customers.add_parser("add", help="add a customer and issue its first key")
    add.add_argument("--id", required=True)
    _customer_fields(add, adding=True)
    add.add_argument("--no-key", action="store_true", help="do not issue a key")
    add.set_defaults(run=customers_add)
    show = customers.add_parser("show", help="one customer and its keys (ids only)")
    show.add_argument("--id", required=True)
    show.set_defaults(run=customers_show)
    customers.add_parser("list", help="every customer").set_defaults(run=customers_list)
    update = customers.add_parser("update", help="change fields of a customer")
    update.add_argument("--id", required=True)
    _customer_fields(update, adding=False)
    update.set_defaults(run=customers_update)
    for name, status in (("suspend", "suspended"), ("activate", "active")):
        sub = customers.add_parser(name, help=f"set status {status}")
        sub.add_argument("--id", required=True)
        sub.set_defaults(run=_set_status(status))

    keys = areas.add_parser("keys", help="API keys").add_subparsers(dest="command", required=True)
    issue = keys.add_parser("issue", help="a new key, printed once")
    issue.add_argument("--customer", required=True)
    issue.set_defaults(run=keys_issue)
    revoke = keys.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("--customer", required=True)
    revoke.add_argument("--key-id", dest="key_id", required=True)
    revoke.set_defaults(run=keys_revoke)
    listing = keys.add_parser("list", help="a customer's keys (ids and state only)")
    listing.add_argument("--customer", required=True)
    listing.set_defaults(run=keys_list)

    ops = areas.add_parser("operators", help="console operators (local sign-in)")
    ops_commands = ops.add_subparsers(dest="command", required=True)
    op_issue = ops_commands.add_parser("issue", help="a new console credential, printed once")
    op_issue.add_argument("--name", required=True, help="operator name, e.g. ada@example.org")
    op_issue.set_defaults(run=operators_issue)

    audits = areas.add_parser("audit", help="the audit trail").add_subparsers(
        dest="command", required=True
    )
    alist = audits.add_parser("list", help="one customer's decisions on one UTC day")
    alist.add_argument("--customer", required=True)
    alist.add_argument("--day", help="YYYY-MM-DD (default: today, UTC)")
    alist.set_defaults(run=audit_list)

    erase = areas.add_parser(
        "erase", help="erase a customer's biometric data (audited; repeat to finish)"
    ).add_subparsers(dest="command", required=True)
    gallery = erase.add_parser("gallery", help="one gallery: every person and template in it")
    gallery.add_argument("--customer", required=True)
    gallery.add_argument("--gallery", required=True)
    gallery.set_defaults(run=erase_gallery)
    everything = erase.add_parser(
        "customer", help="every gallery, person, template and faceId of the customer"
    )
    everything.add_argument("--customer", required=True)
    everything.set_defaults(run=erase_customer)
    for sub in (gallery, everything):
        sub.add_argument("--actor", help="who erases, for the audit row (default: $USER)")

    policy = areas.add_parser("policy", help="the Cedar policies").add_subparsers(
        dest="command", required=True
    )
    check = policy.add_parser("check", help="dry-run a decision (writes no audit row)")
    check.add_argument("--customer", required=True)
    check.add_argument("--action", required=True, help="an action, or several comma-separated")
    check.add_argument("--capture", choices=model.CAPTURES, help="absent = unknown")
    check.add_argument("--channel", choices=model.CHANNELS, default="http")
    check.add_argument("--purpose")
    check.add_argument(
        "--federal-law-in-force",
        dest="federal_law_in_force",
        choices=("true", "false"),
        help="override FACEGATE_US_FEDERAL_FACE_LAW_IN_FORCE for this check",
    )
    check.set_defaults(run=policy_check)
    uploads = areas.add_parser(
        "uploads", help="a customer's upload area and its credential (SAS)"
    ).add_subparsers(dest="command", required=True)
    grant = uploads.add_parser("grant", help="create the area if needed; print a fresh SAS pair")
    grant.add_argument("--customer", required=True)
    grant.add_argument("--hours", type=float, default=24.0, help="lifetime (max 168)")
    grant.set_defaults(run=uploads_grant)
    revoke_sas = uploads.add_parser(
        "revoke", help="every SAS issued for the customer stops working"
    )
    revoke_sas.add_argument("--customer", required=True)
    revoke_sas.set_defaults(run=uploads_revoke)
    show_area = uploads.add_parser("show", help="the customer's container names")
    show_area.add_argument("--customer", required=True)
    show_area.set_defaults(run=uploads_show, offline=True)

    validate = policy.add_parser("validate", help="parse and validate against the schema")
    validate.set_defaults(run=policy_validate, offline=True)
    galleries.add_parser(areas, _operator)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if not getattr(args, "offline", False):
            _prepare_storage()
        result = args.run(args)
    except FaceGateError as exc:
        print(f"error ({exc.code}): {exc.message}", file=sys.stderr)
        return 2
    return result if isinstance(result, int) else 0
