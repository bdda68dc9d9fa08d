"""Event Grid's BlobCreated events delivered to a storage queue, emulated over Azurite.

In Azure an Event Grid subscription on the storage account's system topic (event type
``Microsoft.Storage.BlobCreated``, subject filter ``/blobServices/default/containers/<prefix>``,
destination a storage queue) puts one message per created blob on the queue. Azurite
emits no events, so the dev host lists every container whose name starts with the prefix
and sends the same event for each new blob version, base64-encoded JSON in the Event Grid
schema, as Event Grid writes to queues.

Semantics kept from Azure:
- blobs that existed before the subscription was created never get an event (the
  subscription's creation time is kept in the host's storage, so it survives restarts);
- delivery is at least once: after a restart, blobs changed since the last recorded
  scan are announced again (the consumer must be idempotent, as with Event Grid);
- an event carries the version's ETag, but by the time it is handled the blob may have
  a newer version or be gone.

Configured with ``DEVHOST_BLOB_EVENTS="<connection>:<container prefix>:<queue>"``
(several separated by ``;``) or ``--blob-events``.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient

from tools.devhost import storage
from tools.devhost.queuemessage import normalize_queue_name

log = logging.getLogger("devhost.blobevents")
BLOB_CREATED = "Microsoft.Storage.BlobCreated"
STATE_CONTAINER = "azure-webjobs-hosts"
SAFETY = dt.timedelta(seconds=2)  # list/last-modified skew tolerated on restart
IDLE_FACTOR = 8  # an idle container is listed at most every 8 poll intervals


@dataclass(frozen=True)
class Subscription:
    connection: str
    prefix: str
    queue: str

    @classmethod
    def parse(cls, text: str) -> Subscription:
        parts = text.strip().split(":")
        if len(parts) != 3 or not all(parts):
            raise ValueError(
                f"blob events {text!r}: expected <connection>:<container prefix>:<queue>"
            )
        return cls(parts[0], parts[1], normalize_queue_name(parts[2]))

    @property
    def key(self) -> str:
        return hashlib.sha256(f"{self.connection}|{self.prefix}|{self.queue}".encode()).hexdigest()


def parse_all(text: str) -> list[Subscription]:
    return [Subscription.parse(part) for part in text.split(";") if part.strip()]


def marker(account: BlobServiceClient, subscription: Subscription) -> Any:
    """Where the emulated subscription keeps its creation time (in the source account)."""
    return account.get_blob_client(STATE_CONTAINER, f"blobevents/{subscription.key}")


def _write_marker(blob: Any, created: dt.datetime, watermark: dt.datetime) -> None:
    blob.upload_blob(
        b"",
        overwrite=True,
        metadata={"created": created.isoformat(), "watermark": watermark.isoformat()},
    )


def subscribe(account: BlobServiceClient, subscription: Subscription) -> dt.datetime:
    """Create the subscription unless it exists (as infra/ does at deploy); its creation time.

    Blobs created before it never get an event.
    """
    blob = marker(account, subscription)
    try:
        return dt.datetime.fromisoformat(blob.get_blob_properties().metadata["created"])
    except (ResourceNotFoundError, KeyError, ValueError):
        pass
    with contextlib.suppress(ResourceExistsError):
        account.create_container(STATE_CONTAINER)
    created = dt.datetime.now(dt.UTC).replace(microsecond=0)  # Last-Modified has seconds
    _write_marker(blob, created, created)
    log.info("blob events %s*: subscription created; older blobs get no event", subscription.prefix)
    return created


def event(account: BlobServiceClient, container: str, item: Any) -> dict[str, Any]:
    """A BlobCreated event in the Event Grid schema, as the storage system topic sends it."""
    blob = account.get_blob_client(container, item.name)
    settings = item.content_settings
    return {
        "topic": f"/subscriptions/devhost/resourceGroups/devhost/providers/"
        f"Microsoft.Storage/storageAccounts/{account.account_name}",
        "subject": f"/blobServices/default/containers/{container}/blobs/{item.name}",
        "eventType": BLOB_CREATED,
        "id": str(uuid.uuid4()),
        "eventTime": item.last_modified.isoformat().replace("+00:00", "Z"),
        "data": {
            "api": "PutBlob",
            "requestId": str(uuid.uuid4()),
            "eTag": item.etag.strip('"'),
            "contentType": settings.content_type if settings else None,
            "contentLength": item.size,
            "blobType": "BlockBlob",
            "url": blob.url,
            "sequencer": f"{int(item.last_modified.timestamp() * 1e6):032x}",
        },
        "dataVersion": "",
        "metadataVersion": "1",
    }


class BlobEventSource:
    """One emulated subscription: scans its containers and sends events to its queue."""

    def __init__(
        self,
        subscription: Subscription,
        poll_interval: float,
        notify: Callable[[str, str], None],
    ) -> None:
        self.subscription = subscription
        self.account = storage.blob_service(subscription.connection)
        self.queue = storage.queue_service(subscription.connection).get_queue_client(
            subscription.queue
        )
        self.marker = marker(self.account, subscription)
        self.poll_interval = poll_interval
        self.notify = notify
        self._sent: set[tuple[str, str, str]] = set()
        self._saved = 0.0
        self._idle: dict[str, tuple[int, float]] = {}  # container -> (idle scans, next due)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.created, self.watermark = self._load_marker()
        # Blobs older than this were announced before a restart (or predate the
        # subscription); newer ones are announced (again): at least once, as Event Grid.
        margin = SAFETY + dt.timedelta(seconds=poll_interval * IDLE_FACTOR)
        self.floor = max(self.created, self.watermark - margin)

    def _load_marker(self) -> tuple[dt.datetime, dt.datetime]:
        """(subscription created, last recorded scan); the subscription is made on first use."""
        created = subscribe(self.account, self.subscription)
        meta = self.marker.get_blob_properties().metadata
        try:
            watermark = dt.datetime.fromisoformat(meta["watermark"])
        except (KeyError, ValueError):
            watermark = created
        return created, watermark

    def _save_marker(self, created: dt.datetime, watermark: dt.datetime) -> None:
        _write_marker(self.marker, created, watermark)

    def start(self) -> None:
        with contextlib.suppress(ResourceExistsError):
            self.queue.create_queue()
        self._thread = threading.Thread(
            target=self._loop, name=f"blobevents-{self.subscription.queue}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _scan_container(
        self, container: str, since: dt.datetime, seen: set[tuple[str, str, str]]
    ) -> int:
        client = self.account.get_container_client(container)
        try:
            items = list(client.list_blobs())
        except ResourceNotFoundError:
            return 0
        sent = 0
        for item in items:
            key = (container, item.name, item.etag.strip('"'))
            seen.add(key)
            if key in self._sent or item.last_modified < since:
                continue
            body = json.dumps(event(self.account, container, item))
            self.queue.send_message(base64.b64encode(body.encode()).decode())
            self._sent.add(key)
            sent += 1
        return sent

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.scan_once()
            except AzureError as exc:
                log.warning("blob events %s*: scan failed: %s", self.subscription.prefix, exc)
            self._stop.wait(self.poll_interval)

    def scan_once(self) -> int:
        """Send an event for every blob version created since the subscription, not yet sent.

        A container where nothing new turned up is listed less and less often (up to
        ``IDLE_FACTOR`` polls apart), so hundreds of idle customer containers stay cheap.
        """
        started = dt.datetime.now(dt.UTC)
        since = self.floor
        sent = 0
        seen: set[tuple[str, str, str]] = set()
        now = time.monotonic()
        for container in self.account.list_containers(name_starts_with=self.subscription.prefix):
            idle, due = self._idle.get(container.name, (0, 0.0))
            if due > now:
                seen |= {k for k in self._sent if k[0] == container.name}
                continue
            found = self._scan_container(container.name, since, seen)
            sent += found
            idle = 0 if found else min(idle + 1, IDLE_FACTOR)
            self._idle[container.name] = (idle, now + self.poll_interval * idle)
        self._sent &= seen  # forget versions that are gone
        if sent:
            self.notify(self.subscription.connection, self.subscription.queue)
        self.watermark = started
        if sent or time.monotonic() - self._saved > 30:
            self._save_marker(self.created, started)
            self._saved = time.monotonic()
        return sent


def main(argv: list[str] | None = None) -> int:
    """``python -m tools.devhost.blobevents``: the emulation alone, next to ``func start``.

    Core Tools does not emulate Event Grid; this sends the same events the dev host would.
    Settings come from the environment (``make run`` passes local.settings.json's values).
    """
    import argparse
    import os
    import signal

    parser = argparse.ArgumentParser(prog="python -m tools.devhost.blobevents", description=__doc__)
    parser.add_argument("--blob-events", default=os.environ.get("DEVHOST_BLOB_EVENTS", ""))
    parser.add_argument("--poll-interval", type=float, default=2.0)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("azure").setLevel(logging.WARNING)
    subscriptions = parse_all(args.blob_events)
    if not subscriptions:
        parser.error("no subscription: set DEVHOST_BLOB_EVENTS or --blob-events")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    sources = [BlobEventSource(s, args.poll_interval, lambda *_: None) for s in subscriptions]
    for source in sources:
        source.start()
        log.info("Event Grid emulated: BlobCreated in %s* -> queue %s", source.subscription.prefix,
                 source.subscription.queue)  # fmt: skip
    stop.wait()
    for source in sources:
        source.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
