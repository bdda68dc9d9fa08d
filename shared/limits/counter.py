"""Fixed-window counters in an Azure Table, shared by every instance of the app.

One row per (scope, window): PartitionKey = the scope (``{customerId}:requests``,
``{customerId}:verify:{galleryId}``), RowKey = ``{seconds}:{window index}``. Taking a
unit reads the row and writes ``count + 1`` only if the row is unchanged since the read
(If-Match: its ETag); a concurrent writer makes the write fail and the taker reads
again. So no two instances can both take the last unit, however many race for it:
the limit holds exactly across instances, not per process.

Once a window is full, a taker only reads; and since a count never goes down within its
window, an instance that has seen a window full remembers it (``_full``) and refuses
without reading storage until the window ends, so a flood past the limit costs no
storage reads. Rows carry ``expiresAt`` and are purged by a timer.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import random
import threading
import time
from dataclasses import dataclass

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared.errors import ServiceUnavailable
from shared.storage import clients, expiry, names
from shared.storage.faults import storage_unavailable_as_503

# Optimistic-concurrency rounds before giving up (503, nothing counted). A round can only
# be lost to a writer who took a unit, so a full window ends the contention.
MAX_ROUNDS = 200
_BACKOFF_S = 0.004


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Taken:
    allowed: bool
    count: int  # units taken in this window, including this one when allowed
    retry_after: int  # whole seconds until the window ends (when refused)


def _table():
    return clients.table_service().get_table_client(names.RATELIMITS)


# (scope, row key, limit) of windows this process has seen full -> when the window ends
_full: dict[tuple[str, str, int], float] = {}
_full_lock = threading.Lock()
_MAX_FULL = 10_000


def _remember_full(key: tuple[str, str, int], ends: float, moment: float) -> None:
    with _full_lock:
        if len(_full) >= _MAX_FULL:
            for stale in [k for k, end in _full.items() if end <= moment]:
                del _full[stale]
            if len(_full) >= _MAX_FULL:
                _full.clear()
        _full[key] = ends


def take(scope: str, limit: int, window_seconds: int, now: float | None = None) -> Taken:
    """Take one unit of ``limit`` per ``window_seconds`` for ``scope``, if one is left.

    ServiceUnavailable when storage cannot count (fail closed: nothing is let through).
    """
    try:
        return _take(scope, limit, window_seconds, now)
    except ServiceUnavailable:
        log.warning("rate-limit counter unavailable; the request is refused")
        raise


def _take(scope: str, limit: int, window_seconds: int, now: float | None) -> Taken:
    moment = time.time() if now is None else now
    index = int(moment // window_seconds)
    ends = (index + 1) * window_seconds
    retry_after = max(1, math.ceil(ends - moment))
    row_key = f"{window_seconds}:{index}"
    expires = dt.datetime.fromtimestamp(ends, dt.UTC) + dt.timedelta(seconds=60)
    full_key = (scope, row_key, limit)
    if full_key in _full:  # seen full in this window: still full, no need to ask storage
        return Taken(False, limit, retry_after)
    with storage_unavailable_as_503():
        table = _table()
        for _ in range(MAX_ROUNDS):
            try:
                row = table.get_entity(scope, row_key)
            except ResourceNotFoundError:
                try:
                    table.create_entity(
                        {"PartitionKey": scope, "RowKey": row_key, "count": 1, "expiresAt": expires}
                    )
                    return Taken(True, 1, retry_after)
                except ResourceExistsError:
                    continue  # another instance opened the window first: read it
                except ResourceNotFoundError as exc:  # no table: fail closed, count nothing
                    raise ServiceUnavailable("The rate-limit table is missing.") from exc
            count = int(row.get("count", 0))
            if count >= limit:
                _remember_full(full_key, ends, moment)
                return Taken(False, count, retry_after)
            row["count"] = count + 1
            try:
                table.update_entity(
                    row,
                    mode=UpdateMode.MERGE,
                    etag=row.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
                return Taken(True, count + 1, retry_after)
            except ResourceModifiedError:
                time.sleep(random.uniform(0, _BACKOFF_S))  # noqa: S311 (jitter, not a secret)
    raise ServiceUnavailable("The rate limiter is busy; nothing was done. Try again.")


def purge_expired(now: dt.datetime | None = None) -> int:
    """Delete counter rows whose window ended; returns how many went."""
    with storage_unavailable_as_503():
        return expiry.purge_expired(_table(), now)
