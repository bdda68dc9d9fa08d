"""Rows that carry ``expiresAt`` (faceIds, rate-limit windows), deleted once it has passed."""

from __future__ import annotations

import datetime as dt

from azure.data.tables import TableClient

_BATCH = 100  # the Table service's transaction limit


def purge_expired(table: TableClient, now: dt.datetime | None = None) -> int:
    """Delete every row of ``table`` whose ``expiresAt`` has passed, in transactions of at
    most 100 rows of one partition; returns how many went."""
    rows = table.query_entities(
        "expiresAt le @now",
        parameters={"now": now or dt.datetime.now(dt.UTC)},
        select=["PartitionKey", "RowKey"],
    )
    purged = 0
    by_partition: dict[str, list[tuple[str, dict]]] = {}
    for row in rows:
        batch = by_partition.setdefault(row["PartitionKey"], [])
        batch.append(("delete", {"PartitionKey": row["PartitionKey"], "RowKey": row["RowKey"]}))
        if len(batch) == _BATCH:
            table.submit_transaction(batch)
            purged += len(batch)
            batch.clear()
    for batch in by_partition.values():
        if batch:
            table.submit_transaction(batch)
            purged += len(batch)
    return purged
