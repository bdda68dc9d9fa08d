"""Timer-triggered functions on their NCRONTAB schedule.

One thread per timer; an invocation never overlaps the previous one of the same
function (the host waits too). ``runOnStartup`` runs it once at start. With
``useMonitor`` (default on, off for schedules more frequent than a minute, as in
the host) the last and next occurrences are kept in
``azure-webjobs-hosts/timers/{hostId}/{functionId}/status`` so a missed
occurrence runs at start with ``past_due=True``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.functions import meta

from tools.devhost import ncrontab
from tools.devhost.blobpath import resolve_settings
from tools.devhost.functions import FunctionSpec
from tools.devhost.receipts import HOSTS_CONTAINER
from tools.devhost.runtime import Runtime

if TYPE_CHECKING:
    from azure.storage.blob import BlobServiceClient

log = logging.getLogger("devhost.timers")


def _zone() -> Any:
    """UTC: Flex Consumption has no WEBSITE_TIME_ZONE (tools/devhost/flex.py warns once)."""
    return UTC


class TimerRunner:
    def __init__(
        self, runtime: Runtime, spec: FunctionSpec, status_store: BlobServiceClient | None
    ):
        self.runtime = runtime
        self.spec = spec
        trigger = spec.trigger
        self.expression = resolve_settings(trigger["schedule"])
        self.schedule = ncrontab.parse(self.expression)
        self.run_on_startup = bool(trigger.get("runOnStartup", False))
        now = datetime.now(_zone())
        first = self.schedule.next_after(now)
        frequent = self.schedule.next_after(first) - first < timedelta(minutes=1)
        use_monitor = trigger.get("useMonitor")
        self.use_monitor = (not frequent) if use_monitor is None else bool(use_monitor)
        self._store = status_store if self.use_monitor else None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"timer-{spec.name}", daemon=True)

    # -- schedule status (past-due detection) --------------------------------------------
    def _status_blob(self) -> Any:
        assert self._store is not None
        container = self._store.get_container_client(HOSTS_CONTAINER)
        with contextlib.suppress(ResourceExistsError):
            container.create_container()
        return container.get_blob_client(
            f"timers/{self.runtime.host_id}/{self.spec.function_id}/status"
        )

    def _read_status(self) -> dict[str, str] | None:
        if self._store is None:
            return None
        try:
            return json.loads(self._status_blob().download_blob().readall())
        except (ResourceNotFoundError, ValueError):
            return None
        except AzureError as exc:
            log.warning("%s: cannot read the schedule status: %s", self.spec.name, exc)
            return None

    def _write_status(self, last: datetime, next_: datetime) -> None:
        if self._store is None:
            return
        status = {
            "Last": last.isoformat(),
            "Next": next_.isoformat(),
            "LastUpdated": datetime.now(_zone()).isoformat(),
        }
        try:
            self._status_blob().upload_blob(json.dumps(status).encode(), overwrite=True)
        except AzureError as exc:
            log.warning("%s: cannot write the schedule status: %s", self.spec.name, exc)

    # -- running -------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _fire(self, past_due: bool, last: datetime | None, next_: datetime) -> None:
        info = {
            "Schedule": {"AdjustForDST": True},
            "ScheduleStatus": {
                "Last": last.isoformat() if last else None,
                "Next": next_.isoformat(),
                "LastUpdated": datetime.now(_zone()).isoformat(),
            },
            "IsPastDue": past_due,
        }
        converter = meta.get_binding_registry().get("timerTrigger")
        request = converter.decode(meta.Datum(json.dumps(info), "json"), trigger_metadata=None)
        with self.runtime.tracker.track():
            self.runtime.invoke(
                self.spec, {self.spec.trigger["name"]: request}, {}, f"schedule={self.expression}"
            )

    def _loop(self) -> None:
        zone = _zone()
        now = datetime.now(zone)
        status = self._read_status()
        last = datetime.fromisoformat(status["Last"]) if status and status.get("Last") else None
        scheduled_next = (
            datetime.fromisoformat(status["Next"]) if status and status.get("Next") else None
        )
        upcoming = self.schedule.next_after(now)
        if scheduled_next is not None and scheduled_next < now:
            log.info(
                "%s: the occurrence at %s was missed; running now", self.spec.name, scheduled_next
            )
            self._fire(True, last, upcoming)
            last = now
            self._write_status(last, upcoming)
        elif self.run_on_startup:
            self._fire(False, last, upcoming)
            last = now
        self._write_status(last or now, upcoming)
        while not self._stop.is_set():
            delay = (upcoming - datetime.now(zone)).total_seconds()
            if delay > 0 and self._stop.wait(delay):
                break
            occurrence = upcoming
            upcoming = self.schedule.next_after(max(occurrence, datetime.now(zone)))
            past_due = (datetime.now(zone) - occurrence).total_seconds() > 1
            self._fire(past_due, last, upcoming)
            last = occurrence
            self._write_status(last, upcoming)
