"""The one path that deletes biometric rows (and marks them first), and the pause between
optimistic-concurrency tries.

Every erasure (a face, a person, a gallery, a customer) and the faceId purge
delete through ``delete_rows``. It may run at the same time as other erasures of
the same rows, so a row that is already gone is success, never an error: a
transaction of 100 deletes fails as a whole when one row is missing, and then
that batch is deleted row by row (``delete_entity`` ignores a missing row).
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Iterable

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError

BATCH = 100  # the Table service's transaction limit (one partition per transaction)
STATUS_NOT_FOUND = 404
STATUS_PRECONDITION_FAILED = 412


def delete_rows(table: TableClient, keys: Iterable[tuple[str, str]]) -> int:
    """Delete rows given as (PartitionKey, RowKey); returns how many were asked for.

    Rows may belong to several partitions; each transaction holds one partition.
    """
    batches: dict[str, list[str]] = {}
    asked = 0
    for partition, row in keys:
        batch = batches.setdefault(partition, [])
        batch.append(row)
        asked += 1
        if len(batch) == BATCH:
            _delete_batch(table, partition, batch)
            batch.clear()
    for partition, batch in batches.items():
        if batch:
            _delete_batch(table, partition, batch)
    return asked


def _delete_batch(table: TableClient, partition: str, rows: list[str]) -> None:
    operations = [("delete", {"PartitionKey": partition, "RowKey": row}) for row in rows]
    try:
        table.submit_transaction(operations)
    except TableTransactionError as error:
        if error.status_code != STATUS_NOT_FOUND:
            raise
        for row in rows:  # someone else erased part of it: finish the rest one by one
            table.delete_entity(partition, row)


def mark_rows(table: TableClient, partition: str, rows: list[str], changes: dict) -> None:
    """MERGE ``changes`` into existing rows of one partition, 100 per transaction; rows that
    are gone (erased meanwhile) are skipped."""
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        merges = [
            ("update", {"PartitionKey": partition, "RowKey": row, **changes}) for row in batch
        ]
        try:
            table.submit_transaction(merges)
        except TableTransactionError as error:
            if error.status_code != STATUS_NOT_FOUND:
                raise
            for _, entity in merges:  # one of them is gone: the rest one by one
                with contextlib.suppress(ResourceNotFoundError):
                    table.update_entity(entity)


def pause(attempt: int) -> None:
    """Back off after a lost optimistic-concurrency race: jittered, growing, at most 0.2 s."""
    time.sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))  # noqa: S311 (jitter, not a secret)
