"""Rows that carry ``expiresAt`` (faceIds, rate-limit windows), deleted once it has passed."""

from __future__ import annotations

import datetime as dt

from azure.data.tables import TableClient

from shared.storage import rows


def purge_expired(table: TableClient, now: dt.datetime | None = None) -> int:
    """Delete every row of ``table`` whose ``expiresAt`` has passed, through the one delete
    path (rows another process deleted meanwhile count as done); returns how many went."""
    expired = table.query_entities(
        "expiresAt le @now",
        parameters={"now": now or dt.datetime.now(dt.UTC)},
        select=["PartitionKey", "RowKey"],
    )
    return rows.delete_rows(table, ((r["PartitionKey"], r["RowKey"]) for r in expired))
