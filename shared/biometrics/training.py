"""Training of a gallery, as Azure's long-running operation, and the operation records.

FaceGate needs no training step (a new face counts for identify at once), but Azure
clients call ``begin_train`` and poll the operation it returns. So a train request
records a training row for the gallery and an operation that has already succeeded;
the client's poller reads that operation and completes.

Table ``operations``: PartitionKey = customerId (an operation is only ever found by its
owner), RowKey = ``op:{operationId}`` for operations and ``training:{galleryId}`` for a
gallery's last training. The training row carries the gallery's ``generation``, so a
re-created gallery of the same id never inherits an old training time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared.biometrics import store
from shared.errors import NotFound
from shared.identifiers import new_id
from shared.storage import clients, names
from shared.storage.faults import storage_unavailable_as_503


def _table():
    return clients.table_service().get_table_client(names.OPERATIONS)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Operation:
    operation_id: str
    status: str
    created: str
    finished: str

    def to_json(self) -> dict[str, Any]:
        """Azure's OperationResult."""
        return {
            "operationId": self.operation_id,
            "status": self.status,
            "createdTime": self.created,
            "lastActionTime": self.finished,
            "finishedTime": self.finished,
            "message": None,
        }


def train(customer_id: str, gallery_id: str, now: dt.datetime | None = None) -> Operation:
    """Record a (finished) training of the caller's gallery; NotFound if it has none such."""
    gallery = store.get_gallery(customer_id, gallery_id)
    stamp = _iso(now or dt.datetime.now(dt.UTC))
    operation = Operation(new_id(), "succeeded", stamp, stamp)
    with storage_unavailable_as_503():
        table = _table()
        table.upsert_entity(
            {
                "PartitionKey": customer_id,
                "RowKey": f"training:{gallery_id}",
                "generation": gallery.generation,
                "trainedAt": stamp,
            },
            mode=UpdateMode.REPLACE,
        )
        table.create_entity(
            {
                "PartitionKey": customer_id,
                "RowKey": f"op:{operation.operation_id}",
                "kind": "train",
                "galleryId": gallery_id,
                "status": operation.status,
                "createdTime": operation.created,
                "finishedTime": operation.finished,
            }
        )
    return operation


def operation(customer_id: str, operation_id: str) -> Operation:
    with storage_unavailable_as_503():
        try:
            row = _table().get_entity(customer_id, f"op:{operation_id}")
        except ResourceNotFoundError:
            raise NotFound(f"Operation '{operation_id}' is not found.") from None
    return Operation(operation_id, row["status"], row["createdTime"], row["finishedTime"])


def training_status(customer_id: str, gallery_id: str) -> dict[str, Any]:
    """Azure's TrainingResult: always succeeded (nothing to train); times of the last train
    call, or of the gallery's creation when it was never trained."""
    gallery = store.get_gallery(customer_id, gallery_id)
    trained = gallery.created
    with storage_unavailable_as_503():
        try:
            row = _table().get_entity(customer_id, f"training:{gallery_id}")
            if row.get("generation") == gallery.generation:
                trained = row["trainedAt"]
        except ResourceNotFoundError:
            pass
    return {
        "status": "succeeded",
        "createdDateTime": trained,
        "lastActionDateTime": trained,
        "lastSuccessfulTrainingDateTime": trained,
        "message": None,
    }
