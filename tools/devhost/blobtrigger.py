"""Blob-triggered functions: container polling, receipts, retries and poison messages.

Each blob trigger function gets its own scanner thread and its own pool of
``maxDegreeOfParallelism`` workers (host.json ``extensions.blobs``), so a slow
or failing function never stalls HTTP or another function. A blob version (its
ETag) runs once: a leased receipt guards each try, a try is counted before the
function runs (so a host killed mid-call counts it, like a dequeue), and after
``poisonBlobThreshold`` failed tries a message goes to the
``webjobs-blobtrigger-poison`` queue of the blob's storage account.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.functions import meta

from tools.devhost import sdktypes, storage
from tools.devhost.blobpath import BlobPathPattern
from tools.devhost.functions import FunctionSpec
from tools.devhost.queuemessage import encode_body
from tools.devhost.receipts import Receipt, ReceiptStore
from tools.devhost.runtime import Runtime

POISON_QUEUE = "webjobs-blobtrigger-poison"
log = logging.getLogger("devhost.blobs")

BlobKey = tuple[str, str, str]  # (container, blob name, etag)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def blob_properties(props: Any) -> dict[str, Any]:
    """The SDK's BlobProperties with the .NET names the host passes as ``Properties``."""
    settings = props.content_settings
    md5 = settings.content_md5
    return {
        "BlobType": str(
            props.blob_type.value if hasattr(props.blob_type, "value") else props.blob_type
        ),
        "ContentLength": props.size,
        "ContentType": settings.content_type,
        "ContentEncoding": settings.content_encoding,
        "ContentLanguage": settings.content_language,
        "ContentDisposition": settings.content_disposition,
        "CacheControl": settings.cache_control,
        "ContentHash": base64.b64encode(bytes(md5)).decode() if md5 else None,
        "ETag": props.etag,
        "LastModified": _iso(props.last_modified),
        "CreatedOn": _iso(props.creation_time),
    }


class BlobTriggerRunner:
    """Runs one blob-triggered function."""

    def __init__(
        self,
        runtime: Runtime,
        spec: FunctionSpec,
        receipts: ReceiptStore,
        poll_interval: float,
        retry_delay: float,
        poll: bool,
    ) -> None:
        self.runtime = runtime
        self.spec = spec
        self.pattern = BlobPathPattern.parse(spec.trigger["path"])
        self.connection = spec.trigger["connection"]
        self.source = spec.trigger.get("source") or "LogsAndContainerScan"
        self.blobs = storage.blob_service(self.connection)
        self.receipts = receipts
        self.poll_interval = poll_interval
        self.retry_delay = retry_delay
        self.poll = poll
        self.threshold = runtime.config.poison_blob_threshold
        self._pool = ThreadPoolExecutor(
            max_workers=runtime.config.blob_parallelism, thread_name_prefix=f"blob-{spec.name}"
        )
        self._lock = threading.Lock()
        self._done: set[BlobKey] = set()
        self._busy: set[BlobKey] = set()
        self._not_before: dict[BlobKey, float] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._scanner: threading.Thread | None = None
        self._missing_container_logged = False

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        if not self.poll:
            return
        self._scanner = threading.Thread(
            target=self._scan_loop, name=f"scan-{self.spec.name}", daemon=True
        )
        self._scanner.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _scan_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.scan_once()
            except AzureError as exc:
                log.warning(
                    "%s: scanning %s failed: %s", self.spec.name, self.pattern.container, exc
                )
            self._wake.wait(self.poll_interval)
            self._wake.clear()

    # -- discovery -----------------------------------------------------------------------
    def scan_once(self) -> int:
        """List the container and queue every matching blob version not yet processed."""
        container = self.blobs.get_container_client(self.pattern.container)
        queued = 0
        try:
            for item in container.list_blobs(name_starts_with=self.pattern.literal_prefix or None):
                if self._stop.is_set():
                    break
                if self.pattern.match(self.pattern.container, item.name) is None:
                    continue
                if self.submit((self.pattern.container, item.name, item.etag)):
                    queued += 1
        except ResourceNotFoundError:
            if not self._missing_container_logged:
                log.warning(
                    "%s: container %r does not exist (yet)",
                    self.spec.name,
                    container.container_name,
                )
                self._missing_container_logged = True
        return queued

    def submit(self, key: BlobKey) -> bool:
        container, name, etag = key
        key = (container, name, etag.strip('"'))  # listings and headers quote ETags differently
        with self._lock:
            if key in self._done or key in self._busy or self._stop.is_set():
                return False
            if self._not_before.get(key, 0.0) > time.monotonic():
                return False
            self._busy.add(key)
        try:
            self._pool.submit(self._process, key)
        except RuntimeError:  # the pool is shut down
            with self._lock:
                self._busy.discard(key)
            return False
        return True

    def on_blob_created(self, container: str, blob_name: str) -> bool:
        """An Event Grid BlobCreated delivery: run the function on the blob as it is now.

        As in Azure, the Event Grid path keeps no receipts: every delivery (a re-delivery
        too) runs the function, which may see a newer version than the event announced.
        Failed runs are retried up to ``poisonBlobThreshold`` times, then poisoned.
        """
        if self.pattern.match(container, blob_name) is None:
            return False
        try:
            self._pool.submit(self._run_event, self.pattern.container, blob_name, 1)
        except RuntimeError:  # the pool is shut down
            return False
        return True

    def _run_event(self, container: str, name: str, attempt: int) -> None:
        if self._stop.is_set():
            return
        with self.runtime.tracker.track():
            client = self.blobs.get_blob_client(container, name)
            deferred = self.spec.is_deferred(self.spec.trigger["name"])
            try:
                if deferred:
                    data, props = None, client.get_blob_properties()
                else:
                    download = client.download_blob()
                    data, props = download.readall(), download.properties
            except ResourceNotFoundError:
                log.info(
                    "%s: event for %s/%s, which no longer exists", self.spec.name, container, name
                )
                return
            except AzureError as exc:
                log.warning("%s: storage error on %s/%s: %s", self.spec.name, container, name, exc)
                data, props = None, None
            ok = props is not None and self._invoke(
                container, name, client.url, data, props, attempt
            )
        if ok:
            return
        if attempt >= self.threshold:
            etag = props.etag.strip('"') if props is not None else ""
            self._poison((container, name, etag), attempt)
            return
        timer = threading.Timer(
            self.retry_delay, self._resubmit_event, args=(container, name, attempt + 1)
        )
        timer.daemon = True
        timer.start()

    def _resubmit_event(self, container: str, name: str, attempt: int) -> None:
        with contextlib.suppress(RuntimeError):
            self._pool.submit(self._run_event, container, name, attempt)

    # -- one blob version ----------------------------------------------------------------
    def _retry_later(self, key: BlobKey, delay: float) -> None:
        """Try again after ``delay`` (without waiting for a scan: webhook-only triggers too)."""
        with self._lock:
            self._not_before[key] = time.monotonic() + delay
        timer = threading.Timer(delay, self._resubmit, args=(key,))
        timer.daemon = True
        timer.start()

    def _resubmit(self, key: BlobKey) -> None:
        with self._lock:
            self._not_before.pop(key, None)
        self.submit(key)

    def _finish(self, key: BlobKey) -> None:
        with self._lock:
            self._done.add(key)
            self._not_before.pop(key, None)

    def _process(self, key: BlobKey) -> None:
        container, name, _etag = key
        if self._stop.is_set():
            with self._lock:
                self._busy.discard(key)
            return
        try:
            with self.runtime.tracker.track():
                self._process_claimed(key)
        except AzureError as exc:
            log.warning("%s: storage error on %s/%s: %s", self.spec.name, container, name, exc)
            self._retry_later(key, max(self.retry_delay, 1.0))
        except Exception:
            log.exception("%s: dev host error on %s/%s", self.spec.name, container, name)
            self._retry_later(key, max(self.retry_delay, 1.0))
        finally:
            with self._lock:
                self._busy.discard(key)

    def _process_claimed(self, key: BlobKey) -> None:
        container, name, etag = key
        fid = self.spec.function_id
        known = self.receipts.read(fid, container, name, etag)  # one call for done blobs
        if known is not None and known.completed:
            self._finish(key)
            return
        claim = self.receipts.claim(fid, container, name, etag)
        if claim is None:  # another host instance (or our dead predecessor's lease) holds it
            self._retry_later(key, self.retry_delay)
            return
        try:
            receipt = claim.receipt
            if receipt.completed:
                self._finish(key)
                return
            if receipt.attempts >= self.threshold:
                self._poison(key, receipt.attempts)
                self.receipts.update(claim, Receipt(True, receipt.attempts, True))
                self._finish(key)
                return
            client = self.blobs.get_blob_client(container, name)
            deferred = self.spec.is_deferred(self.spec.trigger["name"])
            try:
                if deferred:  # SDK type: the host reads no byte, only checks the version
                    data, props = None, client.get_blob_properties()
                    if props.etag.strip('"') != etag:
                        raise ResourceModifiedError("a newer version replaced this one")
                else:
                    download = client.download_blob(
                        etag=f'"{etag}"', match_condition=MatchConditions.IfNotModified
                    )
                    data, props = download.readall(), download.properties
            except (ResourceNotFoundError, ResourceModifiedError):
                # deleted or overwritten since the scan: the new version gets its own turn
                self._finish(key)
                return
            attempt = receipt.attempts + 1
            self.receipts.update(claim, Receipt(False, attempt, False))
            ok = self._invoke(container, name, client.url, data, props, attempt)
            if ok:
                self.receipts.update(claim, Receipt(True, attempt, False))
                self._finish(key)
            elif attempt >= self.threshold:
                self._poison(key, attempt)
                self.receipts.update(claim, Receipt(True, attempt, True))
                self._finish(key)
            else:
                self._retry_later(key, self.retry_delay)
        finally:
            self.receipts.release(claim)

    def _invoke(
        self, container: str, name: str, url: str, data: bytes | None, props: Any, attempt: int
    ) -> bool:
        spec = self.spec
        properties = blob_properties(props)
        metadata = dict(props.metadata or {})
        binding_data: dict[str, Any] = {
            **(self.pattern.match(container, name) or {}),
            "BlobTrigger": f"{container}/{name}",
            "Uri": url,
        }
        trigger_metadata = {
            "BlobTrigger": meta.Datum(f"{container}/{name}", "string"),
            "Uri": meta.Datum(url, "string"),
            "Properties": meta.Datum(json.dumps(properties), "json"),
            "Metadata": meta.Datum(json.dumps(metadata), "json"),
        }
        trigger_name = spec.trigger["name"]
        if data is None:  # an SDK type: a client for this blob, built by the extension
            blob = sdktypes.decode(
                "blobTrigger", spec.annotation(trigger_name), self.connection, container, name
            )
        else:
            converter = meta.get_binding_registry().get("blobTrigger")
            blob = as_annotated(
                converter.decode(meta.Datum(data, "bytes"), trigger_metadata=trigger_metadata),
                spec.annotation(trigger_name),
            )
        detail = f"blob={container}/{name} try={attempt}/{self.threshold}"
        ok, _result = self.runtime.invoke(spec, {trigger_name: blob}, binding_data, detail)
        return ok

    def _poison(self, key: BlobKey, attempts: int) -> None:
        container, name, etag = key
        queue = storage.queue_service(self.connection).get_queue_client(POISON_QUEUE)
        with contextlib.suppress(ResourceExistsError):
            queue.create_queue()
        message = json.dumps(
            {
                "Type": "BlobTrigger",
                "FunctionId": self.spec.function_id,
                "BlobType": "BlockBlob",
                "ContainerName": container,
                "BlobName": name,
                "ETag": f'"{etag}"',  # quoted, as the host writes it
            }
        )
        queue.send_message(encode_body(message, self.runtime.config.queue_message_encoding))
        self.runtime.notify_queue(self.connection, POISON_QUEUE)
        log.error(
            "%s: blob '%s/%s' (ETag %s) failed %d times; a message was put on queue '%s' "
            "and the blob will not be tried again",
            self.spec.name,
            container,
            name,
            etag,
            attempts,
            POISON_QUEUE,
        )


def as_annotated(stream: Any, annotation: Any) -> Any:
    """InputStream by default; bytes or str when the parameter asks for them."""
    if annotation is bytes:
        return stream.read()
    if annotation is str:
        return stream.read().decode("utf-8")
    return stream
