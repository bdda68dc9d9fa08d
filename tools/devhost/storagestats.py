"""Counts of the storage round trips a dev host makes, and their bytes (for bench/).

``DEVHOST_STORAGE_STATS=<file>`` makes the dev host count every request any Azure SDK
client of its process sends (the app's, the queue trigger's and the Event Grid
emulation's), by method and kind of resource, with the bytes of the request and response
bodies, and rewrite ``<file>`` (JSON) after each one. ``bench.bench_pipeline`` reads it
before and after a batch of uploads: what one upload costs in round trips and bytes, so
the Event Grid path's cost in Azure is measured rather than assumed (docs/accuracy.md,
"Speed"). Off by default: nothing is patched unless the variable is set.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ENV = "DEVHOST_STORAGE_STATS"
log = logging.getLogger("devhost.storagestats")
FLUSH_SECONDS = 0.25  # bench_pipeline waits 2 s before it reads the file

# resource kinds by the first path segment after the account (Azurite puts the account
# in the path; Azure in the host name)
_KINDS = (
    (re.compile(r"^up-[0-9a-f]{32}/."), "upload blob"),
    (re.compile(r"^rs-[0-9a-f]{32}/."), "result blob"),
    (re.compile(r"^(up|rs)-[0-9a-f]{32}$"), "customer container"),
    (re.compile(r"^\$batch$"), "table batch"),
    (re.compile(r"^azure-webjobs-hosts/"), "host state blob"),
)


def kind_of(url: str, account: str | None = None) -> str:
    """A short label of what a request touches (e.g. ``upload blob``, ``audit table``)."""
    path, _, query = url.partition("?")
    parts = path.split("/", 3)[3:]  # after scheme://host/
    rest = parts[0] if parts else ""
    if account and rest.startswith(account + "/"):
        rest = rest[len(account) + 1 :]
    elif account and rest == account:
        rest = ""
    if "comp=list" in query:
        return "list containers" if not rest else "list blobs"
    for pattern, label in _KINDS:
        if pattern.search(rest):
            return label
    queue = re.match(r"^([a-z0-9-]+)/messages", rest)
    if queue:
        return f"queue {queue.group(1)}"
    table = re.match(r"^([A-Za-z][A-Za-z0-9]*)(\(|$)", rest)
    if table and "restype" not in query:
        return f"table {table.group(1)}"
    return rest.split("/")[0] or "account"


class StorageStats:
    """Thread-safe counters of (method, kind) -> requests, bytes sent, bytes received."""

    def __init__(self, path: Path, account: str | None = None) -> None:
        self.path = path
        self.account = account
        self._lock = threading.Lock()
        self._changed = threading.Event()
        self.requests: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()
        self.received: Counter[str] = Counter()
        self.invocations: Counter[str] = Counter()
        self.function_cpu: Counter[str] = Counter()  # seconds

    def add_invocation(self, function: str, cpu_seconds: float) -> None:
        with self._lock:
            self.invocations[function] += 1
            self.function_cpu[function] += cpu_seconds
        self._changed.set()

    def add(self, method: str, url: str, sent: int, received: int) -> None:
        key = f"{method} {kind_of(url, self.account)}"
        with self._lock:
            self.requests[key] += 1
            self.sent[key] += sent
            self.received[key] += received
        self._changed.set()

    def flush(self) -> None:
        """Rewrite the file with the counts so far (atomically: readers never see half)."""
        self._changed.clear()
        with self._lock:
            text = json.dumps(self.snapshot())
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.replace(self.path)

    def flush_forever(self, interval: float = FLUSH_SECONDS) -> None:
        """Flush whenever counts changed, at most once per ``interval`` (a daemon thread)."""
        while True:
            self._changed.wait()
            try:
                self.flush()
            except OSError:
                log.warning("storage stats not written", exc_info=True)
            time.sleep(interval)

    def snapshot(self) -> dict[str, dict[str, dict[str, float]]]:
        """Counts by request kind and by function (callers hold the lock)."""
        return {
            "requests": {
                key: {
                    "requests": self.requests[key],
                    "sent": self.sent[key],
                    "received": self.received[key],
                }
                for key in sorted(self.requests)
            },
            "functions": {
                name: {
                    "invocations": self.invocations[name],
                    "cpu_ms": 1000 * self.function_cpu[name],
                }
                for name in sorted(self.invocations)
            },
        }


def _length(headers: Any, body: Any) -> int:
    value = headers.get("Content-Length") if headers is not None else None
    if value is not None:
        try:
            return int(value)
        except ValueError:
            pass
    return len(body) if isinstance(body, bytes | bytearray | str) else 0


def _received(method: str, response: Any) -> int:
    """Response body bytes: none for HEAD (its Content-Length is the blob's), else the
    Content-Length, else what requests already read (never reads a stream itself)."""
    if method == "HEAD":
        return 0
    raw = getattr(response, "internal_response", None)
    content = getattr(raw, "_content", None)
    read = content if isinstance(content, bytes) else None
    return _length(getattr(response, "headers", None), read)


_installed: StorageStats | None = None


def invocation(function: str, cpu_seconds: float) -> None:
    """Count one invocation of ``function`` and its CPU time (nothing unless installed)."""
    if _installed is not None:
        _installed.add_invocation(function, cpu_seconds)


def install_from_env(account: str | None = None) -> StorageStats | None:
    """Patch the SDKs' HTTP transport to count requests when ``DEVHOST_STORAGE_STATS`` is set."""
    global _installed
    target = os.environ.get(ENV)
    if not target:
        return None
    from azure.core.pipeline.transport import RequestsTransport

    stats = StorageStats(Path(target), account or "devstoreaccount1")
    threading.Thread(target=stats.flush_forever, name="storage-stats", daemon=True).start()
    atexit.register(stats.flush)  # the last counts, when the host stops
    original = RequestsTransport.send

    def send(self: Any, request: Any, **kwargs: Any) -> Any:
        response = original(self, request, **kwargs)
        try:  # counting must never fail a request
            sent = _length(request.headers, getattr(request, "body", None))
            received = _received(request.method, response)
            stats.add(request.method, request.url, sent, received)
        except Exception:
            log.warning("storage request not counted", exc_info=True)
        return response

    RequestsTransport.send = send  # type: ignore[method-assign]
    _installed = stats
    return stats
