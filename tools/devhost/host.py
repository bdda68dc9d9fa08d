"""The dev host: indexes the app, then serves HTTP and runs blob, queue and timer triggers."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.devhost import blobevents, eventgrid, flex, hostconfig, sdktypes, storage, storagestats
from tools.devhost.blobpath import blob_path, fill
from tools.devhost.blobtrigger import BlobTriggerRunner
from tools.devhost.functions import (
    FunctionSpec,
    Invoker,
    index,
    load_app,
    new_invocation_id,
)
from tools.devhost.httpserver import DevHostServer, response_parts
from tools.devhost.keys import Keys
from tools.devhost.queuetrigger import DEFAULT_LEASE_SECONDS, QueueTriggerRunner
from tools.devhost.receipts import ReceiptStore
from tools.devhost.routing import RouteTable, compile_route
from tools.devhost.runtime import Runtime, Tracker
from tools.devhost.timers import TimerRunner

log = logging.getLogger("devhost")
HOST_STORAGE = "AzureWebJobsStorage"


@dataclass
class Options:
    app: str = "function_app:app"
    host_json: Path = Path("host.json")
    bind: str = "127.0.0.1"
    port: int = 7071
    poll_interval: float = 2.0
    retry_delay: float = 1.0
    lease_seconds: int = 15
    eventgrid_polling: bool = False  # Azure: EventGrid-source triggers see events only
    queue_lease_seconds: float = DEFAULT_LEASE_SECONDS
    queue_poll_interval: float | None = None  # overrides host.json maxPollingInterval
    shutdown_timeout: float = 30.0
    state_dir: Path = Path(".devhost")
    host_id: str | None = None
    blob_events: tuple[blobevents.Subscription, ...] = ()


def default_host_id() -> str:
    """Like the host: ``AzureFunctionsWebHost__hostid``, else derived from the machine name."""
    configured = os.environ.get("AzureFunctionsWebHost__hostid", "").strip()
    raw = configured or f"devhost-{socket.gethostname()}"
    cleaned = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", raw.lower())).strip("-")
    return cleaned[:32].rstrip("-") or "devhost"


def _connection_configured(name: str) -> bool:
    return bool(os.environ.get(name, "").strip()) or any(
        key.startswith(f"{name}__") for key in os.environ
    )


class DevHost:
    """Everything `func start` would run for this app, on one process."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.config = hostconfig.load(options.host_json)
        self.keys = Keys.from_env()
        self.host_id = options.host_id or default_host_id()
        self.invoker = Invoker()
        self.tracker = Tracker()
        self.runtime = Runtime(
            self.config, self.host_id, self.invoke, self.tracker, self.notify_queue
        )
        self.state = "Initializing"
        self.last_activity = time.monotonic()
        self._request_slots = threading.BoundedSemaphore(self.config.max_concurrent_requests)
        self._outstanding = 0
        self._outstanding_lock = threading.Lock()
        started = time.monotonic()
        app = load_app(options.app)
        self.specs, errors = index(app, Path.cwd())
        self.start_seconds = time.monotonic() - started
        flex.check_start(self.start_seconds)
        flex.time_zone_ignored()
        for error in errors:
            log.error("function not loaded: %s", error)
        self.routes: RouteTable[FunctionSpec] = RouteTable()
        self.blob_runners: dict[str, BlobTriggerRunner] = {}
        self.queue_runners: dict[str, QueueTriggerRunner] = {}
        self.timers: list[TimerRunner] = []
        self._receipts: ReceiptStore | None = None
        self._server: DevHostServer | None = None
        for spec in self.specs:
            try:
                self._register(spec)
            except Exception as exc:  # one bad function must not stop the others
                log.error("function %s not started: %s", spec.name, exc)
        self.event_sources = [
            blobevents.BlobEventSource(subscription, options.poll_interval, self.notify_queue)
            for subscription in options.blob_events
        ]

    # -- setup ---------------------------------------------------------------------------
    def _receipt_store(self, trigger_connection: str) -> ReceiptStore:
        if self._receipts is None:
            connection = (
                HOST_STORAGE if _connection_configured(HOST_STORAGE) else trigger_connection
            )
            if connection != HOST_STORAGE:
                log.warning("%s is not set: receipts go to %s", HOST_STORAGE, connection)
            self._receipts = ReceiptStore(
                storage.blob_service(connection), self.host_id, self.options.lease_seconds
            )
        return self._receipts

    def _register(self, spec: FunctionSpec) -> None:
        kind = spec.trigger_type
        if kind == "httpTrigger":
            route = spec.trigger.get("route") or spec.name
            self.routes.add(compile_route(route, spec, spec.trigger.get("methods")))
        elif kind == "blobTrigger":
            connection = spec.trigger.get("connection") or HOST_STORAGE
            spec.trigger["connection"] = connection
            if not _connection_configured(connection):
                raise RuntimeError(f"the storage connection setting {connection!r} is not set")
            source = spec.trigger.get("source") or "LogsAndContainerScan"
            poll = source != "EventGrid" or self.options.eventgrid_polling
            self.blob_runners[spec.name] = BlobTriggerRunner(
                self.runtime,
                spec,
                self._receipt_store(connection),
                self.options.poll_interval,
                self.options.retry_delay,
                poll,
            )
        elif kind == "queueTrigger":
            connection = spec.trigger.get("connection") or HOST_STORAGE
            spec.trigger["connection"] = connection
            if not _connection_configured(connection):
                raise RuntimeError(f"the storage connection setting {connection!r} is not set")
            self.queue_runners[spec.name] = QueueTriggerRunner(
                self.runtime,
                spec,
                self.options.queue_lease_seconds,
                self.options.queue_poll_interval,
            )
        elif kind == "timerTrigger":
            store = (
                storage.blob_service(HOST_STORAGE) if _connection_configured(HOST_STORAGE) else None
            )
            self.timers.append(TimerRunner(self.runtime, spec, store))

    def function_names(self) -> list[str]:
        return sorted(s.name for s in self.specs)

    def function_triggers(self) -> dict[str, str]:
        """Function name -> trigger type, for every function that was started."""
        started = {route.target.name for route in self.routes}
        started |= set(self.blob_runners) | set(self.queue_runners)
        started |= {timer.spec.name for timer in self.timers}
        return {s.name: s.trigger_type for s in self.specs if s.name in started}

    # -- invoking ------------------------------------------------------------------------
    def run(self, spec: FunctionSpec, kwargs: dict[str, Any], detail: str) -> tuple[bool, Any]:
        """Invoke once; log one line (name, status, id, duration); never raise."""
        invocation_id = new_invocation_id()
        started, cpu = time.monotonic(), time.thread_time()
        ok, result = True, None
        try:
            result = self.invoker.call(spec, kwargs, invocation_id)
        except Exception:
            ok = False
            log.exception("Function '%s' failed (Id=%s)", spec.name, invocation_id)
        duration = time.monotonic() - started
        storagestats.invocation(spec.name, time.thread_time() - cpu)  # bench/ only
        log.info(
            "Executed 'Functions.%s' (%s, Id=%s, Duration=%dms) %s",
            spec.name,
            "Succeeded" if ok else "Failed",
            invocation_id,
            duration * 1000,
            detail,
        )
        timeout = self.config.function_timeout_seconds
        if timeout is not None and duration > timeout:
            log.warning("Functions.%s ran longer than functionTimeout (%ss)", spec.name, timeout)
        return ok, result

    def invoke_http(
        self, spec: FunctionSpec, request: Any, traceparent: str | None
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        with self._outstanding_lock:
            if self._outstanding >= self.config.max_outstanding_requests:
                return 429, [], b""
            self._outstanding += 1
        try:
            with self._request_slots, self.tracker.track():
                ok, result = self.invoke(
                    spec,
                    {spec.trigger["name"]: request},
                    dict(request.route_params),
                    f"{request.method} {request.url.split('?')[0]}",
                )
            if not ok:
                body = json.dumps(
                    {"error": {"code": "InternalServerError", "message": "The function failed."}}
                ).encode()
                return 500, [("Content-Type", "application/json; charset=utf-8")], body
            return response_parts(result)
        except Exception:
            log.exception("Functions.%s: the response could not be built", spec.name)
            body = json.dumps(
                {"error": {"code": "InternalServerError", "message": "The function failed."}}
            ).encode()
            return 500, [("Content-Type", "application/json; charset=utf-8")], body
        finally:
            with self._outstanding_lock:
                self._outstanding -= 1

    def invoke(
        self,
        spec: FunctionSpec,
        trigger_kwargs: dict[str, Any],
        binding_data: dict[str, Any],
        detail: str,
    ) -> tuple[bool, Any]:
        """Bind the blob inputs, run the function (any failure: not ok); (ok, return value)."""
        try:
            inputs = self.blob_inputs(spec, binding_data)
        except Exception:
            log.exception("Functions.%s: binding the inputs failed", spec.name)
            return False, None
        return self.run(spec, {**trigger_kwargs, **inputs}, detail)

    def blob_inputs(self, spec: FunctionSpec, binding_data: dict[str, Any]) -> dict[str, Any]:
        """Blob inputs, as SDK clients for the filled-in path (the host reads no byte)."""
        values: dict[str, Any] = {}
        for binding in spec.bindings_of("blob", "IN"):
            container, name = blob_path(fill(binding["path"], binding_data))
            connection = binding.get("connection") or HOST_STORAGE
            values[binding["name"]] = sdktypes.decode(
                "blob", spec.annotation(binding["name"]), connection, container, name
            )
        return values

    def notify_queue(self, connection: str, queue_name: str) -> None:
        """Wake the pollers of ``queue_name`` in that account (the host's SharedQueueWatcher)."""
        url = storage.queue_service(connection).get_queue_client(queue_name).url
        for runner in self.queue_runners.values():
            if runner.queue_url == url:
                runner.notify()

    # -- Event Grid ----------------------------------------------------------------------
    def blob_webhook(self, function_name: str, headers: Any, body: bytes) -> tuple[int, bytes]:
        """``POST /runtime/webhooks/blobs?functionName=Host.Functions.<name>``."""
        name = function_name.removeprefix("Host.Functions.")
        runner = self.blob_runners.get(name)
        if runner is None or runner.source != "EventGrid":
            message = f"no blob trigger function {function_name!r} with source EventGrid"
            return 404, json.dumps({"error": {"code": "NotFound", "message": message}}).encode()
        kind = (headers.get("aeg-event-type") or "").lower()
        try:
            if kind == "subscriptionvalidation":
                log.info("Event Grid subscription validation for %s", function_name)
                return 200, eventgrid.validation_response(body)
            if kind == "unsubscribe":
                return 202, b""
            if kind != "notification":
                raise eventgrid.EventGridError("missing or unknown aeg-event-type header")
            events = eventgrid.blob_created_events(body, runner.blobs.url)
        except (eventgrid.EventGridError, ValueError) as exc:
            return 400, json.dumps({"error": {"code": "BadRequest", "message": str(exc)}}).encode()
        for event in events:
            runner.on_blob_created(event.container, event.blob_name)
        return 202, b""

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        self._server = DevHostServer((self.options.bind, self.options.port), self)
        self.state = "Running"
        threading.Thread(
            target=self._server.serve_forever, name="devhost-http", daemon=True
        ).start()
        for runner in self.blob_runners.values():
            runner.start()
        for queue_runner in self.queue_runners.values():
            queue_runner.start()
        for source in self.event_sources:
            source.start()
        for timer in self.timers:
            timer.start()
        self._write_state()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    def _write_state(self) -> None:
        state_dir = self.options.state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        info = {
            "pid": os.getpid(),
            "url": f"http://{self.options.bind}:{self.port}",
            "hostId": self.host_id,
            "functions": self.function_names(),
            "triggers": self.function_triggers(),
        }
        (state_dir / "devhost.json").write_text(json.dumps(info, indent=2) + "\n")

    def stop(self) -> bool:
        """Stop accepting work, let running functions finish (bounded). True if all did."""
        self.state = "Stopping"
        for timer in self.timers:
            timer.stop()
        for source in self.event_sources:
            source.stop()
        for runner in self.blob_runners.values():
            runner.stop()
        for queue_runner in self.queue_runners.values():
            queue_runner.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        finished = self.tracker.wait_idle(self.options.shutdown_timeout)
        if not finished:
            log.warning(
                "%d invocation(s) still running after %ss; exiting anyway",
                self.tracker.running,
                self.options.shutdown_timeout,
            )
        if self._receipts is not None:
            self._receipts.close()
        self.invoker.close()
        with contextlib.suppress(OSError):
            (self.options.state_dir / "devhost.json").unlink()
        self.state = "Stopped"
        return finished
