"""Queue-triggered functions: polling, message leases, retries and the poison queue.

As in the storage extension's QueueListener/QueueProcessor:

- each function polls its queue in the account of its ``connection``; an empty
  queue (or one that does not exist yet) is polled with a randomized exponential
  back-off from 100 ms up to ``maxPollingInterval``; a message written by this
  host (an output binding, a poison move) wakes the poller at once;
- up to ``batchSize`` messages are received at a time, each made invisible for
  the lease (10 minutes in the host, renewed at half time while the function
  runs), and a new batch is fetched once no more than ``newBatchThreshold`` are
  still running (so at most ``batchSize + newBatchThreshold`` run at once, on
  this function's own threads: a slow queue never stalls HTTP or other functions);
- success deletes the message; a failure makes it visible again after
  ``visibilityTimeout`` (default 0), and a failure on try ``maxDequeueCount``
  (default 5) moves the message text to ``<queue>-poison``; a message already
  dequeued more often (the host died during its last try) or not valid base64
  is moved there without running; a queue with no poison queue (it ends in
  ``-poison``) keeps a failed message invisible until its lease expires;
- a host killed mid-function loses nothing: the message reappears after the lease.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)

from tools.devhost import storage
from tools.devhost.blobpath import resolve_settings
from tools.devhost.functions import FunctionSpec
from tools.devhost.hostconfig import MIN_QUEUE_POLLING_INTERVAL
from tools.devhost.queuemessage import (
    MessageDecodeError,
    decode_body,
    normalize_queue_name,
    poison_queue_name,
    trigger_value,
)
from tools.devhost.queuemessage import binding_data as message_binding_data
from tools.devhost.runtime import Runtime

if TYPE_CHECKING:
    from azure.storage.queue import QueueClient

log = logging.getLogger("devhost.queues")

DEFAULT_LEASE_SECONDS = 600  # the host receives messages invisible for 10 minutes
DEV_POLLING_INTERVAL = 2.0  # `func start` (Development) when host.json sets no maxPollingInterval


class Backoff:
    """RandomizedExponentialBackoffStrategy: 100 ms after a hit, doubling (+-20 %) to the max."""

    def __init__(self, maximum: float, minimum: float = MIN_QUEUE_POLLING_INTERVAL) -> None:
        self.minimum = min(minimum, maximum)
        self.maximum = maximum
        self._misses = 0

    def next(self, found: bool) -> float:
        if found:
            self._misses = 0
            return self.minimum
        self._misses += 1
        base = self.minimum * (2 ** min(self._misses, 30))
        return min(self.maximum, base * random.uniform(0.8, 1.2))  # noqa: S311 jitter


class _LeaseRenewer:
    """Keeps a running message invisible: renews its visibility at half the lease."""

    def __init__(self, queue: QueueClient, message: Any, lease: float) -> None:
        self._queue = queue
        self.message_id = message.id
        self.pop_receipt = message.pop_receipt
        self._lease = lease
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="queue-lease", daemon=True)

    def __enter__(self) -> _LeaseRenewer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self._lease / 2):
            try:
                updated = self._queue.update_message(
                    self.message_id, self.pop_receipt, visibility_timeout=int(self._lease)
                )
                self.pop_receipt = updated.pop_receipt
            except AzureError as exc:
                log.warning("could not renew the lease of message %s: %s", self.message_id, exc)


class QueueTriggerRunner:
    """Runs one queue-triggered function."""

    def __init__(
        self,
        runtime: Runtime,
        spec: FunctionSpec,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        max_polling_interval: float | None = None,
    ) -> None:
        config = runtime.config
        self.runtime = runtime
        self.spec = spec
        self.connection = spec.trigger["connection"]
        self.queue_name = normalize_queue_name(resolve_settings(spec.trigger["queueName"]))
        self.poison_name = poison_queue_name(self.queue_name)
        service = storage.queue_service(self.connection)
        self.queue = service.get_queue_client(self.queue_name)
        self.poison = service.get_queue_client(self.poison_name) if self.poison_name else None
        self.lease = max(1.0, float(lease_seconds))
        self.max_polling_interval = (
            max_polling_interval or config.queue_max_polling_interval or DEV_POLLING_INTERVAL
        )
        self.encoding = config.queue_message_encoding
        self.batch_size = config.queue_batch_size
        self.new_batch_threshold = config.queue_new_batch_threshold
        self.max_dequeue_count = config.queue_max_dequeue_count
        self.retry_visibility = config.queue_visibility_timeout
        self._pool = ThreadPoolExecutor(
            max_workers=self.batch_size + self.new_batch_threshold,
            thread_name_prefix=f"queue-{spec.name}",
        )
        self._running = 0
        self._capacity = threading.Condition()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._poller: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        self._poller = threading.Thread(
            target=self._poll_loop, name=f"poll-{self.spec.name}", daemon=True
        )
        self._poller.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        with self._capacity:
            self._capacity.notify_all()
        self._pool.shutdown(wait=False)

    def notify(self) -> None:
        """A message was just written to our queue by this host: poll now."""
        self._wake.set()

    @property
    def queue_url(self) -> str:
        return self.queue.url

    # -- polling -------------------------------------------------------------------------
    def _wait(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def _wait_for_capacity(self) -> None:
        """Fetch again only when no more than newBatchThreshold messages are still running."""
        with self._capacity:
            self._capacity.wait_for(
                lambda: self._running <= self.new_batch_threshold or self._stop.is_set()
            )

    def _poll_loop(self) -> None:
        backoff = Backoff(self.max_polling_interval)
        exists = False
        missing_logged = False
        while not self._stop.is_set():
            try:
                if not exists:
                    exists = self._exists()
                    if not exists:
                        if not missing_logged:
                            log.info(
                                "%s: queue '%s' does not exist (yet); polling until it does",
                                self.spec.name,
                                self.queue_name,
                            )
                            missing_logged = True
                        self._wait(backoff.next(False))
                        continue
                self._wait_for_capacity()
                if self._stop.is_set():
                    break
                messages = list(
                    self.queue.receive_messages(
                        messages_per_page=self.batch_size,
                        max_messages=self.batch_size,
                        visibility_timeout=int(self.lease),
                    )
                )
            except ResourceNotFoundError:
                exists = False
                self._wait(backoff.next(False))
                continue
            except AzureError as exc:
                log.warning("%s: polling '%s' failed: %s", self.spec.name, self.queue_name, exc)
                self._wait(backoff.next(False))
                continue
            for message in messages:
                self._submit(message)
            if messages:
                backoff.next(True)
            else:
                self._wait(backoff.next(False))

    def _exists(self) -> bool:
        try:
            self.queue.get_queue_properties()
        except ResourceNotFoundError:
            return False
        return True

    def _submit(self, message: Any) -> None:
        with self._capacity:
            self._running += 1
        try:
            self._pool.submit(self._process, message)
        except RuntimeError:  # shutting down: the message reappears after its lease
            self._done()

    def _done(self) -> None:
        with self._capacity:
            self._running -= 1
            self._capacity.notify_all()

    # -- one message ---------------------------------------------------------------------
    def _process(self, message: Any) -> None:
        try:
            with self.runtime.tracker.track():
                self._handle(message)
        except AzureError as exc:
            log.warning(
                "%s: storage error on message %s: %s (it reappears after its lease)",
                self.spec.name,
                message.id,
                exc,
            )
        except Exception:
            log.exception("%s: dev host error on message %s", self.spec.name, message.id)
        finally:
            self._done()

    def _handle(self, message: Any) -> None:
        text = message.content or ""
        if self._stop.is_set():  # received, but the host is stopping: give it back now
            self._release(message.id, message.pop_receipt, 0)
            return
        try:
            body = decode_body(text, self.encoding)
        except MessageDecodeError:
            reason = "is not valid base64 (host.json messageEncoding is base64)"
            self._move_to_poison(message.id, message.pop_receipt, text, reason)
            return
        if message.dequeue_count > self.max_dequeue_count:  # its last try never finished
            reason = f"was dequeued {message.dequeue_count} times (its last try never finished)"
            self._move_to_poison(message.id, message.pop_receipt, text, reason)
            return
        with _LeaseRenewer(self.queue, message, self.lease) as lease:
            ok = self._invoke(message, body)
        if ok:
            self._delete(lease.message_id, lease.pop_receipt)
        elif self.poison is None:
            log.warning(
                "%s: message %s failed (try %d); queue '%s' has no poison queue, so it "
                "stays invisible until its lease (%ds) expires",
                self.spec.name,
                message.id,
                message.dequeue_count,
                self.queue_name,
                self.lease,
            )
        elif message.dequeue_count >= self.max_dequeue_count:
            reason = f"has reached MaxDequeueCount of {self.max_dequeue_count}"
            self._move_to_poison(lease.message_id, lease.pop_receipt, text, reason)
        else:
            self._release(lease.message_id, lease.pop_receipt, self.retry_visibility)

    def _invoke(self, message: Any, body: bytes) -> bool:
        spec = self.spec
        trigger_name = spec.trigger["name"]
        value = trigger_value(message, body, spec.annotation(trigger_name))
        detail = (
            f"queue={self.queue_name} id={message.id} "
            f"try={message.dequeue_count}/{self.max_dequeue_count}"
        )
        ok, _result = self.runtime.invoke(
            spec, {trigger_name: value}, message_binding_data(message, body), detail
        )
        return ok

    def _delete(self, message_id: str, pop_receipt: str) -> None:
        try:
            self.queue.delete_message(message_id, pop_receipt)
        except ResourceNotFoundError:
            log.debug("message %s was already deleted", message_id)
        except HttpResponseError as exc:
            if exc.status_code != 400:  # 400: pop receipt mismatch, someone else has it now
                raise

    def _release(self, message_id: str, pop_receipt: str, visibility: float) -> None:
        """Make a failed message visible again after ``visibility`` seconds."""
        try:
            self.queue.update_message(message_id, pop_receipt, visibility_timeout=round(visibility))
        except ResourceNotFoundError:
            pass
        except HttpResponseError as exc:
            if exc.status_code != 400:
                raise

    def _move_to_poison(self, message_id: str, pop_receipt: str, text: str, reason: str) -> None:
        """Copy the message text to ``<queue>-poison`` (creating it) and delete the message."""
        if self.poison is None:
            log.warning(
                "%s: message %s %s; queue '%s' has no poison queue, so it is not run and "
                "stays in the queue until it expires",
                self.spec.name,
                message_id,
                reason,
                self.queue_name,
            )
            return
        log.error(
            "%s: message %s on queue '%s' %s; moving it to queue '%s'",
            self.spec.name,
            message_id,
            self.queue_name,
            reason,
            self.poison_name,
        )
        with contextlib.suppress(ResourceExistsError):
            self.poison.create_queue()
        self.poison.send_message(text)
        self._delete(message_id, pop_receipt)
        self.runtime.notify_queue(self.connection, self.poison_name or "")
