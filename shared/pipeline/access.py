"""Each customer's upload area: its own two containers, and the credential that reaches only them.

A customer writes images into ``up-<h>`` and reads results from ``rs-<h>``, where ``<h>``
is derived from its id (container names allow fewer characters than customer ids). The
credential is a container-scoped SAS, so storage itself refuses any request outside the
customer's two containers; nothing of another customer is even addressable with it.

- uploads SAS: create + write (no read, list or delete: uploads are input only);
- results SAS: read + list.

Two signing modes, chosen by how FaceGate reaches storage:

- a connection string with a key (Azurite, key-based accounts): a *service* SAS bound
  to a stored access policy on each container. The policy holds the permissions and
  the expiry; deleting it (``revoke``) makes every SAS issued under it fail at once.
- identity only (Azure, shared keys off): a *user delegation* SAS, signed with a key
  obtained by the operator's Entra identity; it cannot name a stored access policy, so
  it lives at most ``MAX_LIFETIME`` and revocation is its expiry (docs/uploads.md says
  what to do when that is too slow).

The containers carry their customer id as metadata; the pipeline reads it (and checks
it against the name) to know whose upload a blob is.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import threading
from dataclasses import dataclass

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import (
    AccessPolicy,
    BlobServiceClient,
    ContainerSasPermissions,
    generate_container_sas,
)

from shared.errors import BadArgument, NotFound
from shared.policy import model
from shared.storage import clients

UPLOADS_PREFIX = "up-"
RESULTS_PREFIX = "rs-"
POLICY_ID = "facegate-customer"
CUSTOMER_METADATA = "customerid"
DEFAULT_LIFETIME = dt.timedelta(hours=24)
MAX_LIFETIME = dt.timedelta(days=7)  # the longest a user delegation SAS may live
UPLOAD_PERMISSIONS = "cw"
RESULT_PERMISSIONS = "rl"

_lock = threading.Lock()
_owners: dict[str, str] = {}  # container -> customer id (immutable once created)


def _suffix(customer_id: str) -> str:
    return hashlib.sha256(customer_id.encode()).hexdigest()[:32]


def uploads_container(customer_id: str) -> str:
    return UPLOADS_PREFIX + _suffix(model.customer_id(customer_id))


def results_container(customer_id: str) -> str:
    return RESULTS_PREFIX + _suffix(model.customer_id(customer_id))


@dataclass(frozen=True)
class Grant:
    """What a customer's app needs: two container URLs with their SAS, and when they end."""

    customer_id: str
    uploads_url: str
    results_url: str
    expires_on: dt.datetime
    mode: str  # "stored-access-policy" or "user-delegation"

    def to_json(self) -> dict[str, str]:
        return {
            "customerId": self.customer_id,
            "uploadsContainerUrl": self.uploads_url,
            "resultsContainerUrl": self.results_url,
            "expiresOn": self.expires_on.isoformat().replace("+00:00", "Z"),
            "mode": self.mode,
        }


def ensure_area(customer_id: str) -> tuple[str, str]:
    """Create the customer's two containers (idempotent); their names."""
    service = clients.blob_service()
    names = (uploads_container(customer_id), results_container(customer_id))
    for name in names:
        with contextlib.suppress(ResourceExistsError):
            service.create_container(name, metadata={CUSTOMER_METADATA: customer_id})
    return names


def owner_of(container: str) -> str | None:
    """The customer whose uploads container this is, or None (not an uploads container)."""
    if not container.startswith(UPLOADS_PREFIX):
        return None
    with _lock:
        if container in _owners:
            return _owners[container]
    try:
        props = clients.blob_service().get_container_client(container).get_container_properties()
    except ResourceNotFoundError:
        return None
    customer_id = (props.metadata or {}).get(CUSTOMER_METADATA, "")
    try:
        if uploads_container(customer_id) != container:
            return None  # metadata that does not hash to the name is not trusted
    except BadArgument:
        return None
    with _lock:
        _owners[container] = customer_id
    return customer_id


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def grant(customer_id: str, lifetime: dt.timedelta = DEFAULT_LIFETIME) -> Grant:
    """Create the area if needed and issue a credential for it, valid for ``lifetime``."""
    if not dt.timedelta(minutes=5) <= lifetime <= MAX_LIFETIME:
        raise BadArgument("the lifetime must be between 5 minutes and 7 days.")
    uploads, results = ensure_area(customer_id)
    service = clients.blob_service()
    start = _utcnow() - dt.timedelta(minutes=5)  # tolerate clock skew
    expiry = _utcnow() + lifetime
    key = getattr(service.credential, "account_key", None)
    if key:
        urls = [
            _policy_sas(service, uploads, UPLOAD_PERMISSIONS, start, expiry),
            _policy_sas(service, results, RESULT_PERMISSIONS, start, expiry),
        ]
        mode = "stored-access-policy"
    else:
        delegation = service.get_user_delegation_key(start, expiry)
        urls = [
            _delegation_sas(service, uploads, UPLOAD_PERMISSIONS, start, expiry, delegation),
            _delegation_sas(service, results, RESULT_PERMISSIONS, start, expiry, delegation),
        ]
        mode = "user-delegation"
    return Grant(customer_id, urls[0], urls[1], expiry, mode)


def _policy_sas(
    service: BlobServiceClient,
    container: str,
    permission: str,
    start: dt.datetime,
    expiry: dt.datetime,
) -> str:
    client = service.get_container_client(container)
    policy = AccessPolicy(ContainerSasPermissions.from_string(permission), expiry, start)
    client.set_container_access_policy({POLICY_ID: policy})
    token = generate_container_sas(
        service.account_name,
        container,
        account_key=service.credential.account_key,
        policy_id=POLICY_ID,
    )
    return f"{client.url}?{token}"


def _delegation_sas(
    service: BlobServiceClient,
    container: str,
    permission: str,
    start: dt.datetime,
    expiry: dt.datetime,
    delegation: object,
) -> str:
    token = generate_container_sas(
        service.account_name,
        container,
        user_delegation_key=delegation,
        permission=ContainerSasPermissions.from_string(permission),
        expiry=expiry,
        start=start,
    )
    return f"{service.get_container_client(container).url}?{token}"


def revoke(customer_id: str) -> dict[str, object]:
    """Remove the stored access policies: every SAS issued under them fails from now on."""
    service = clients.blob_service()
    revoked = []
    for name in (uploads_container(customer_id), results_container(customer_id)):
        try:
            service.get_container_client(name).set_container_access_policy({})
        except ResourceNotFoundError:
            raise NotFound(f"customer {customer_id!r} has no upload area.") from None
        revoked.append(name)
    identity_only = not getattr(service.credential, "account_key", None)
    return {
        "customerId": customer_id,
        "containers": revoked,
        "storedAccessPolicies": "removed",
        **(
            {
                "note": "identity-only storage issues user delegation SAS, which no stored "
                "access policy governs: they end at their expiry (see docs/uploads.md)."
            }
            if identity_only
            else {}
        ),
    }
