"""faceIds: templates of detected faces, kept 24 hours for verify and identify, then gone.

A faceId belongs to the customer whose call made it (PartitionKey = customerId);
another customer's faceId is simply not found. Expired rows are refused on read
and purged by a timer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from azure.core.exceptions import ResourceNotFoundError

from shared.biometrics import templates
from shared.errors import NotFound
from shared.identifiers import new_id
from shared.storage import clients, expiry, names, rows
from shared.storage.faults import storage_unavailable_as_503

TTL = dt.timedelta(hours=24)


@dataclass(frozen=True)
class StoredFace:
    face_id: str
    template: np.ndarray
    model: str
    expires: dt.datetime


def _table():
    return clients.table_service().get_table_client(names.FACEIDS)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def save(customer_id: str, template: np.ndarray, model: str, now: dt.datetime | None = None) -> str:
    """Keep a template for 24 hours; returns the new faceId."""
    face_id = new_id()
    expires = (now or _utcnow()) + TTL
    with storage_unavailable_as_503():
        _table().create_entity(
            {
                "PartitionKey": customer_id,
                "RowKey": face_id,
                "template": templates.encode(template),
                "model": model,
                "expiresAt": expires,
            }
        )
    return face_id


def save_many(
    customer_id: str,
    items: list[tuple[np.ndarray, str]],
    now: dt.datetime | None = None,
    ttl: dt.timedelta = TTL,
) -> list[str]:
    """Keep several templates (one transaction per 100) for ``ttl`` (at most 24 hours);
    returns their faceIds in order."""
    expires = (now or _utcnow()) + min(ttl, TTL)
    ids = [new_id() for _ in items]
    new_rows = [
        {
            "PartitionKey": customer_id,
            "RowKey": face_id,
            "template": templates.encode(template),
            "model": model,
            "expiresAt": expires,
        }
        for face_id, (template, model) in zip(ids, items, strict=True)
    ]
    with storage_unavailable_as_503():
        table = _table()
        for start in range(0, len(new_rows), rows.BATCH):
            batch = new_rows[start : start + rows.BATCH]
            table.submit_transaction([("create", row) for row in batch])
    return ids


def load(customer_id: str, face_id: str, now: dt.datetime | None = None) -> StoredFace:
    """The caller's own, unexpired face, or NotFound (also for other customers' faceIds)."""
    with storage_unavailable_as_503():
        try:
            row = _table().get_entity(customer_id, face_id)
        except ResourceNotFoundError:
            raise NotFound(f"faceId '{face_id}' is not found or has expired.") from None
    expires = row["expiresAt"]
    if expires <= (now or _utcnow()):
        raise NotFound(f"faceId '{face_id}' is not found or has expired.")
    return StoredFace(face_id, templates.decode(row["template"]), row.get("model", ""), expires)


def purge_expired(now: dt.datetime | None = None) -> int:
    """Delete every expired faceId of every customer; returns how many went."""
    with storage_unavailable_as_503():
        return expiry.purge_expired(_table(), now or _utcnow())


def erase_customer(customer_id: str) -> int:
    """Delete every faceId of one customer, expired or not; returns how many went."""
    with storage_unavailable_as_503():
        table = _table()
        mine = table.query_entities(
            "PartitionKey eq @pk", parameters={"pk": customer_id}, select=["PartitionKey", "RowKey"]
        )
        return rows.delete_rows(table, ((r["PartitionKey"], r["RowKey"]) for r in mine))
