"""The customer registry and API keys, in Azure Tables, behind a short TTL cache.

Tables (names from shared/storage/names.py):

- ``customers``: PartitionKey = customer id, RowKey = ``"customer"``; one row per customer.
  Beside it, in the same partition, the console's change records (RowKey ``change-...``),
  written in the same transaction as the change they describe.
- ``apikeys``: PartitionKey = SHA-256 (hex) of the key, RowKey = ``"key"``; the key itself is
  never stored. A key is 32 random bytes (``secrets.token_urlsafe``), so a plain hash is
  enough: there is nothing to brute-force. ``KeyId`` is a separate short random id, safe to
  show, log and use for revocation.

Reads used by the gate (``get_customer``, ``authenticate``) are cached for
FACEGATE_REGISTRY_CACHE_SECONDS (default 15, clamped to 0..30), so a suspension or
revocation is seen within that time. Admin reads and writes bypass the cache.
Unreachable storage or an unreadable record is ServiceUnavailable (fail closed).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

from shared import settings
from shared.errors import BadArgument, Conflict, NotFound, ServiceUnavailable, Unauthorized
from shared.policy import model
from shared.policy.cache import TTLCache
from shared.policy.model import Customer
from shared.storage import clients, names
from shared.storage.faults import is_missing_store, storage_unavailable_as_503

CACHE_SETTING = "FACEGATE_REGISTRY_CACHE_SECONDS"
MAX_CACHE_SECONDS = 30
CUSTOMER_ROW = "customer"
JOURNAL_PREFIX = "change-"  # RowKeys of the console's change records, beside the customer row
KEY_ROW = "key"
KEY_BYTES = 32
KEY_PREFIX = "fg_"  # lets secret scanners recognise a FaceGate key
MAX_KEY_LENGTH = 200

log = logging.getLogger(__name__)

_customers: TTLCache[Customer | None] = TTLCache(maxsize=10_000)
_keys: TTLCache[KeyRecord | None] = TTLCache(maxsize=20_000)


@dataclass(frozen=True)
class KeyRecord:
    """What is stored about a key: never the key."""

    key_id: str
    customer_id: str
    created_at: str
    revoked: bool = False
    revoked_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- plumbing ------------------------------------------------------------------------------


def cache_seconds(env: Mapping[str, str] | None = None) -> int:
    """The registry cache TTL in seconds, clamped to 0..30 so revocation is always timely."""
    return max(0, min(settings.get_int(CACHE_SETTING, env), MAX_CACHE_SECONDS))


def reset_caches() -> None:
    """Forget cached customers and keys (tests; admin tools in the same process)."""
    _customers.clear()
    _keys.clear()


def _table(name: str) -> TableClient:
    return clients.table_service().get_table_client(name)


def _storage(what: str) -> AbstractContextManager[None]:
    """An unreachable or failing registry is ServiceUnavailable (fail closed)."""
    return storage_unavailable_as_503(
        f"registry {what}",
        message=f"The customer registry is unavailable ({what}); nothing is analysed.",
    )


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


# --- customers -----------------------------------------------------------------------------


def _to_entity(customer: Customer) -> dict[str, Any]:
    return {
        "PartitionKey": customer.id,
        "RowKey": CUSTOMER_ROW,
        "Name": customer.name,
        "Sector": customer.sector,
        "Country": customer.country,
        "Status": customer.status,
        "ReviewState": customer.review_state,
        "SensitiveUse": customer.sensitive_use,
        "Actions": ",".join(customer.actions),
        "Purposes": ",".join(customer.purposes),
        "Retention": customer.retention,
        "DefaultFeatures": ",".join(customer.default_features),
        "RateLimit": customer.rate_limit,
        "VerifyLimit": customer.verify_limit,
        "GalleryStore": customer.gallery_store,
        "GalleryStoreMoving": customer.gallery_store_moving,
        "CreatedAt": customer.created_at,
        "UpdatedAt": customer.updated_at,
    }


def _from_entity(entity: Mapping[str, Any]) -> Customer:
    """Re-validate what was read: a corrupt record must not reach the policies."""
    try:
        return model.validated(
            {
                "id": entity["PartitionKey"],
                "name": entity.get("Name"),
                "sector": entity.get("Sector"),
                "country": entity.get("Country"),
                "status": entity.get("Status"),
                "review_state": entity.get("ReviewState"),
                "sensitive_use": entity.get("SensitiveUse"),
                "actions": entity.get("Actions") or "",
                "purposes": entity.get("Purposes") or "",
                "retention": entity.get("Retention"),
                "default_features": entity.get("DefaultFeatures") or "",
                "rate_limit": entity.get("RateLimit") or "",
                "verify_limit": entity.get("VerifyLimit") or "",
                "gallery_store": entity.get("GalleryStore") or "",
                "gallery_store_moving": entity.get("GalleryStoreMoving") or False,
                "created_at": entity.get("CreatedAt", ""),
                "updated_at": entity.get("UpdatedAt", ""),
            }
        )
    except BadArgument as exc:
        log.error("invalid customer record %r: %s", entity.get("PartitionKey"), exc.message)
        raise ServiceUnavailable(
            "A customer record in the registry is invalid; nothing is analysed."
        ) from exc


def _read_customer(customer_id: str) -> tuple[Customer, str] | None:
    with _storage("customer lookup"):
        try:
            entity = _table(names.CUSTOMERS).get_entity(customer_id, CUSTOMER_ROW)
        except ResourceNotFoundError as exc:
            if is_missing_store(exc):
                raise
            return None
    return _from_entity(entity), entity.metadata["etag"]


def load_customer(customer_id: str) -> Customer:
    """An uncached read (admin tools); NotFound if there is no such customer."""
    found = _read_customer(model.customer_id(customer_id))
    if found is None:
        raise NotFound(f"no customer {customer_id!r}.")
    return found[0]


def get_customer(customer_id: str) -> Customer:
    """The customer record, cached; NotFound if unknown (e.g. a blob path naming nobody)."""
    if not isinstance(customer_id, str) or not model.CUSTOMER_ID.fullmatch(customer_id):
        raise NotFound("no such customer.")
    cached = _customers.get(customer_id)
    if TTLCache.missing(cached):
        found = _read_customer(customer_id)
        cached = found[0] if found else None
        _customers.put(customer_id, cached, cache_seconds())
    if cached is None:
        raise NotFound(f"no customer {customer_id!r}.")
    return cached  # type: ignore[return-value]


def list_customers() -> list[Customer]:
    with _storage("customer list"):
        entities = list(
            _table(names.CUSTOMERS).query_entities(
                "RowKey eq @row", parameters={"row": CUSTOMER_ROW}
            )
        )
    return sorted((_from_entity(e) for e in entities), key=lambda c: c.id)


def add_customer(customer: Customer, journal: Mapping[str, Any] | None = None) -> Customer:
    """Store a new customer; Conflict if the id is taken.

    ``journal``: another row of the customer's partition (the console's change record),
    written in the same transaction, so the customer and its record exist together or not.
    """
    operations: list[tuple[Any, ...]] = [("create", _to_entity(customer))]
    if journal is not None:
        operations.append(("create", _journal_row(customer.id, journal)))
    with _storage("customer create"):
        try:
            _write(operations)
        except ResourceExistsError:
            raise Conflict(f"customer {customer.id!r} already exists.") from None
        except TableTransactionError as exc:
            if exc.error_code != "EntityAlreadyExists":
                raise
            raise Conflict(f"customer {customer.id!r} already exists.") from None
    _customers.discard(customer.id)
    return customer


Journal = Callable[[Customer, Customer], Mapping[str, Any]]
Check = Callable[[Customer], None]


def update_customer(
    customer_id: str, *, check: Check | None = None, journal: Journal | None = None, **changes: Any
) -> Customer:
    """Apply validated changes with optimistic concurrency; Conflict on a concurrent write.

    ``check(current)`` may refuse the change (by raising) on the very version that is
    replaced; ``journal(current, updated)`` returns a row of the customer's partition that is
    written in the same transaction as the change (both or neither).
    """
    found = _read_customer(model.customer_id(customer_id))
    if found is None:
        raise NotFound(f"no customer {customer_id!r}.")
    current, etag = found
    if check is not None:
        check(current)
    updated = current.changed(**changes)
    condition = {"etag": etag, "match_condition": MatchConditions.IfNotModified}
    operations: list[tuple[Any, ...]] = [
        ("update", _to_entity(updated), {"mode": UpdateMode.REPLACE, **condition})
    ]
    if journal is not None:
        operations.append(("create", _journal_row(current.id, journal(current, updated))))
    with _storage("customer update"):
        try:
            _write(operations)
        except ResourceModifiedError:
            raise Conflict(f"customer {customer_id!r} changed meanwhile; try again.") from None
        except TableTransactionError as exc:
            if exc.error_code != "UpdateConditionNotSatisfied":
                raise
            raise Conflict(f"customer {customer_id!r} changed meanwhile; try again.") from None
    _customers.discard(customer_id)
    return updated


def _journal_row(customer_id: str, row: Mapping[str, Any]) -> dict[str, Any]:
    entity = {**row, "PartitionKey": customer_id}
    if not str(entity.get("RowKey", "")).startswith(JOURNAL_PREFIX):
        raise ValueError(f"a journal row's RowKey starts with {JOURNAL_PREFIX!r}")
    return entity


def _write(operations: list[tuple[Any, ...]]) -> None:
    """One entity operation, or a transaction of several (one partition of ``customers``)."""
    table = _table(names.CUSTOMERS)
    if len(operations) > 1:
        table.submit_transaction(operations)
        return
    kind, entity, *options = operations[0]
    if kind == "create":
        table.create_entity(entity)
    else:
        table.update_entity(entity, **(options[0] if options else {}))


def journal_rows(customer_id: str) -> list[dict[str, Any]]:
    """The journal rows kept beside a customer (unordered)."""
    with _storage("customer journal"):
        return list(
            _table(names.CUSTOMERS).query_entities(
                "PartitionKey eq @pk and RowKey gt @lo and RowKey lt @hi",
                parameters={
                    "pk": model.customer_id(customer_id),
                    "lo": JOURNAL_PREFIX,
                    "hi": JOURNAL_PREFIX[:-1] + chr(ord(JOURNAL_PREFIX[-1]) + 1),
                },
            )
        )


def add_journal_row(customer_id: str, row: Mapping[str, Any]) -> None:
    """A journal row on its own (for changes outside the customer record, e.g. keys)."""
    with _storage("customer journal"):
        _table(names.CUSTOMERS).create_entity(_journal_row(model.customer_id(customer_id), row))


# --- keys ----------------------------------------------------------------------------------


def _key_record(entity: Mapping[str, Any]) -> KeyRecord:
    return KeyRecord(
        key_id=str(entity.get("KeyId", "")),
        customer_id=str(entity.get("CustomerId", "")),
        created_at=str(entity.get("CreatedAt", "")),
        revoked=bool(entity.get("Revoked", False)),
        revoked_at=str(entity.get("RevokedAt", "")),
    )


def list_keys(customer_id: str) -> list[KeyRecord]:
    """Every key of a customer (ids and state only), oldest first."""
    with _storage("key list"):
        entities = list(
            _table(names.APIKEYS).query_entities(
                "CustomerId eq @c", parameters={"c": model.customer_id(customer_id)}
            )
        )
    return sorted((_key_record(e) for e in entities), key=lambda k: (k.created_at, k.key_id))


def issue_key(customer_id: str) -> tuple[str, KeyRecord]:
    """A new key for an existing customer: (the key, shown once; its stored record)."""
    customer = load_customer(customer_id)
    taken = {k.key_id for k in list_keys(customer.id)}
    key_id = secrets.token_hex(4)
    while key_id in taken:
        key_id = secrets.token_hex(4)
    api_key = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
    created = model.iso(model.utc_now())
    record = KeyRecord(key_id=key_id, customer_id=customer.id, created_at=created)
    with _storage("key issue"):
        _table(names.APIKEYS).create_entity(
            {
                "PartitionKey": key_hash(api_key),
                "RowKey": KEY_ROW,
                "KeyId": record.key_id,
                "CustomerId": record.customer_id,
                "CreatedAt": record.created_at,
                "Revoked": False,
                "RevokedAt": "",
            }
        )
    return api_key, record


def revoke_key(customer_id: str, key_id: str) -> KeyRecord:
    """Mark a key revoked (kept for the record); NotFound if the customer has no such key."""
    with _storage("key revoke"):
        table = _table(names.APIKEYS)
        rows = list(
            table.query_entities(
                "CustomerId eq @c and KeyId eq @k",
                parameters={"c": model.customer_id(customer_id), "k": str(key_id)},
            )
        )
        if not rows:
            raise NotFound(f"customer {customer_id!r} has no key {key_id!r}.")
        entity = rows[0]
        if not entity.get("Revoked"):
            entity["Revoked"] = True
            entity["RevokedAt"] = model.iso(model.utc_now())
            table.update_entity(entity, mode=UpdateMode.MERGE)
    _keys.discard(entity["PartitionKey"])
    return _key_record(entity)


def _lookup_key(digest: str) -> KeyRecord | None:
    cached = _keys.get(digest)
    if not TTLCache.missing(cached):
        return cached  # type: ignore[return-value]
    with _storage("key lookup"):
        try:
            entity = _table(names.APIKEYS).get_entity(digest, KEY_ROW)
        except ResourceNotFoundError as exc:
            if is_missing_store(exc):
                raise
            entity = None
    record = None
    if entity is not None and hmac.compare_digest(str(entity["PartitionKey"]), digest):
        record = _key_record(entity)
    _keys.put(digest, record, cache_seconds())
    return record


def authenticate(api_key: str | None) -> Customer:
    """The customer a key belongs to.

    Unauthorized for a missing, unknown or revoked key (one message for all, so
    nothing is learnt by guessing); ServiceUnavailable when the registry cannot be
    read. The customer may be inactive: the gate denies it, and audits the denial.
    """
    if not api_key or not api_key.strip():
        raise Unauthorized("Missing API key (header Ocp-Apim-Subscription-Key).")
    key = api_key.strip()
    if len(key) > MAX_KEY_LENGTH:
        raise Unauthorized("Invalid or revoked API key.")
    record = _lookup_key(key_hash(key))
    if record is None or record.revoked:
        raise Unauthorized("Invalid or revoked API key.")
    try:
        return get_customer(record.customer_id)
    except NotFound:
        raise Unauthorized("Invalid or revoked API key.") from None


# The same fail-closed storage translation, for the console's operator tables (shared/console).
registry_storage = _storage
