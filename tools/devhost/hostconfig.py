"""host.json and the host-level environment settings the dev host honours."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_BODY_LIMIT = 100 * 1024 * 1024  # the Functions host's default request-body limit
BODY_LIMIT_SETTING = "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"
MIN_QUEUE_POLLING_INTERVAL = 0.1  # QueuePollingIntervals.Minimum
MAX_QUEUE_BATCH_SIZE = 32  # a storage queue returns at most 32 messages per request


@dataclass(frozen=True)
class HostConfig:
    """The host.json values the dev host uses (defaults are the real host's)."""

    route_prefix: str = "api"
    max_concurrent_requests: int = 100  # real default: unbounded; bounded here
    max_outstanding_requests: int = 200  # real default: unbounded; bounded here
    blob_parallelism: int = 8 * (os.cpu_count() or 1)
    poison_blob_threshold: int = 5
    queue_message_encoding: str = "base64"
    queue_batch_size: int = 16
    queue_new_batch_threshold: int = 8 * (os.cpu_count() or 1)  # batchSize/2 * processors
    queue_max_polling_interval: float | None = None  # None: not set in host.json
    queue_visibility_timeout: float = 0.0  # the delay before a failed message is tried again
    queue_max_dequeue_count: int = 5
    function_timeout_seconds: float | None = 300.0
    body_limit: int = DEFAULT_BODY_LIMIT


def _timespan_seconds(value: str | None, what: str = "functionTimeout") -> float | None:
    """``hh:mm:ss`` (or ``d.hh:mm:ss``; ``-1`` = unbounded) -> seconds."""
    if value is None or str(value).strip() == "-1":
        return None
    match = re.fullmatch(r"(?:(\d+)\.)?(\d+):(\d+):(\d+(?:\.\d+)?)", str(value).strip())
    if not match:
        raise ValueError(f"{what} {value!r} is not a TimeSpan (hh:mm:ss)")
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _positive(section: dict[str, Any], key: str, default: int) -> int:
    value = section.get(key, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default


def _interval(section: dict[str, Any], key: str) -> float | None:
    """A host.json interval: a TimeSpan string, or a number of milliseconds (1.x style)."""
    value = section.get(key)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) / 1000
    return _timespan_seconds(str(value), f"extensions.queues.{key}")


def _queue_settings(queues: dict[str, Any]) -> dict[str, Any]:
    """``extensions.queues``, checked like QueuesOptions does (the host refuses to start)."""
    batch = int(queues.get("batchSize", 16))
    if not 1 <= batch <= MAX_QUEUE_BATCH_SIZE:
        raise ValueError(f"extensions.queues.batchSize must be 1-{MAX_QUEUE_BATCH_SIZE}")
    threshold = int(queues.get("newBatchThreshold", (batch // 2) * (os.cpu_count() or 1)))
    if threshold < 0:
        raise ValueError("extensions.queues.newBatchThreshold must not be negative")
    dequeues = int(queues.get("maxDequeueCount", 5))
    if dequeues < 1:
        raise ValueError("extensions.queues.maxDequeueCount must be at least 1")
    polling = _interval(queues, "maxPollingInterval")
    if polling is not None and polling < MIN_QUEUE_POLLING_INTERVAL:
        raise ValueError("extensions.queues.maxPollingInterval must be at least 00:00:00.1")
    visibility = _interval(queues, "visibilityTimeout") or 0.0
    encoding = str(queues.get("messageEncoding", "base64")).lower()
    return {
        "queue_message_encoding": "none" if encoding == "none" else "base64",
        "queue_batch_size": batch,
        "queue_new_batch_threshold": threshold,
        "queue_max_polling_interval": polling,
        "queue_visibility_timeout": visibility,
        "queue_max_dequeue_count": dequeues,
    }


def body_limit(env: dict[str, str] | None = None) -> int:
    source = os.environ if env is None else env
    raw = source.get(BODY_LIMIT_SETTING, "").strip()
    if not raw:
        return DEFAULT_BODY_LIMIT
    limit = int(raw)
    if limit <= 0:
        raise ValueError(f"{BODY_LIMIT_SETTING} must be a positive number of bytes")
    return limit


def load(path: Path) -> HostConfig:
    """Read host.json (a missing file means every default)."""
    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    extensions = data.get("extensions", {})
    http = extensions.get("http", {})
    blobs = extensions.get("blobs", {})
    queues = extensions.get("queues", {})
    defaults = HostConfig()
    prefix = http.get("routePrefix", defaults.route_prefix)
    return HostConfig(
        route_prefix=str(prefix).strip("/"),
        max_concurrent_requests=_positive(
            http, "maxConcurrentRequests", defaults.max_concurrent_requests
        ),
        max_outstanding_requests=_positive(
            http, "maxOutstandingRequests", defaults.max_outstanding_requests
        ),
        blob_parallelism=_positive(blobs, "maxDegreeOfParallelism", defaults.blob_parallelism),
        poison_blob_threshold=_positive(
            blobs, "poisonBlobThreshold", defaults.poison_blob_threshold
        ),
        **_queue_settings(queues),
        function_timeout_seconds=_timespan_seconds(data.get("functionTimeout", "00:05:00")),
        body_limit=body_limit(),
    )
