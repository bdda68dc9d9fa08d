"""The demo customer `make run` prints a key for.

"demo" is a commercial customer in the US, active, with every action approved
and the declared purpose ``product-demo`` (so age, gender and emotion are allowed
to requests that state it: ``X-Purpose: product-demo``, or blob metadata
``purpose=product-demo``). Keys are
shown only once, so each run issues a fresh key for it; earlier keys stay
valid until revoked (`python -m tools.admin keys revoke`).
"""

from __future__ import annotations

from shared.errors import Conflict
from shared.pipeline import access
from shared.policy import model, registry
from shared.storage import clients, provision
from tools.devhost import blobevents

# Event Grid's subscription in infra/ (BlobCreated in every customer uploads container ->
# the queue the pipeline is triggered by), which the dev host emulates locally.
BLOB_EVENTS = "FACEGATE_STORAGE:up-:uploadevents"
DEMO_ID = "demo"
DEMO_PURPOSE = "product-demo"


def demo_customer() -> model.Customer:
    return model.Customer.create(
        id=DEMO_ID,
        name="FaceGate demo customer",
        sector="commercial",
        country="US",
        status="active",
        review_state="none",
        sensitive_use=False,
        actions=model.ACTIONS,
        purposes=(DEMO_PURPOSE,),
        retention="delete",
        default_features=("detect",),
    )


def ensure_local_storage() -> None:
    """Tables, queues and the emulated Event Grid subscription, as `azd provision` makes them."""
    provision.ensure_storage()
    for subscription in blobevents.parse_all(BLOB_EVENTS):
        blobevents.subscribe(clients.blob_service(), subscription)


def seed_demo_customer() -> dict:
    """Create the demo customer if missing; always issue a fresh key.

    Returns ``{"customerId", "key", "keyId", "new"}``; ``new`` is False when the
    customer existed already (its record is left as the operator last set it).
    """
    ensure_local_storage()
    try:
        registry.add_customer(demo_customer())
        new = True
    except Conflict:
        new = False
    key, record = registry.issue_key(DEMO_ID)
    grant = access.grant(DEMO_ID)
    return {
        "customerId": DEMO_ID,
        "key": key,
        "keyId": record.key_id,
        "new": new,
        "uploads": grant.to_json(),
    }


def seed_customer(customer_id: str, **fields: object) -> dict:
    """Create (or fail with Conflict) any customer and issue it a key: for tests and demos.

    ``fields`` are registry fields (sector, country, status, actions, purposes, ...);
    unspecified ones default to an active commercial US customer with no actions.
    """
    ensure_local_storage()
    defaults = {"name": customer_id, "sector": "commercial", "country": "US", "status": "active"}
    customer = registry.add_customer(
        model.Customer.create(id=customer_id, **{**defaults, **fields})
    )
    key, record = registry.issue_key(customer.id)
    access.ensure_area(customer.id)
    return {"customerId": customer.id, "key": key, "keyId": record.key_id, "new": True}


if __name__ == "__main__":
    import json

    print(json.dumps(seed_demo_customer(), indent=2))
