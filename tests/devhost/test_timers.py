"""Timer triggers in process: runOnStartup, and a missed occurrence run as past due."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import azure.functions as func

from shared.storage import clients
from tests.devhost.conftest import wait_until
from tools.devhost.functions import FunctionSpec
from tools.devhost.receipts import HOSTS_CONTAINER
from tools.devhost.timers import TimerRunner


class _Host:
    """What TimerRunner needs from the dev host: invoke() and a tracker."""

    host_id = "timer-tests"

    def __init__(self) -> None:
        self.calls: list[Any] = []
        self.tracker = self

    @contextlib.contextmanager
    def track(self):
        yield

    def invoke(
        self, spec: FunctionSpec, kwargs: dict[str, Any], binding_data: dict, detail: str
    ) -> tuple[bool, None, dict]:
        self.calls.append(kwargs["timer"])
        return True, None, {}


def _spec(name: str, schedule: str, run_on_startup: bool = False, monitor: bool | None = None):
    trigger = {"type": "timerTrigger", "direction": "IN", "name": "timer", "schedule": schedule}
    trigger["runOnStartup"] = run_on_startup
    if monitor is not None:
        trigger["useMonitor"] = monitor
    return FunctionSpec(name, [trigger], lambda timer: None, Path.cwd())


def test_run_on_startup_runs_once_before_the_first_occurrence():
    host = _Host()
    runner = TimerRunner(host, _spec("Yearly", "0 0 0 1 1 *", run_on_startup=True), None)
    runner.start()
    try:
        wait_until(lambda: host.calls, "the startup call")
    finally:
        runner.stop()
    (call,) = host.calls
    assert isinstance(call, func.TimerRequest)
    assert call.past_due is False
    assert call.schedule_status["Next"].startswith(f"{datetime.now(UTC).year + 1}-01-01T00:00:00")


def test_a_missed_occurrence_runs_at_start_as_past_due(azurite):
    service = clients.blob_service()
    with contextlib.suppress(Exception):
        service.create_container(HOSTS_CONTAINER)
    missed = datetime.now(UTC) - timedelta(hours=1)
    status = {"Last": (missed - timedelta(days=1)).isoformat(), "Next": missed.isoformat()}
    blob = service.get_blob_client(
        HOSTS_CONTAINER, "timers/timer-tests/Host.Functions.Daily/status"
    )
    blob.upload_blob(json.dumps(status).encode(), overwrite=True)
    host = _Host()
    runner = TimerRunner(host, _spec("Daily", "0 0 3 * * *"), service)
    assert runner.use_monitor
    runner.start()
    try:
        wait_until(lambda: host.calls, "the past-due call")
    finally:
        runner.stop()
    (call,) = host.calls
    assert call.past_due is True
    saved = wait_until(
        lambda: (s := json.loads(blob.download_blob().readall()))["Next"] != status["Next"] and s,
        "the new schedule status",
    )
    assert datetime.fromisoformat(saved["Next"]) > datetime.now(UTC)


def test_frequent_schedules_are_not_monitored():
    runner = TimerRunner(_Host(), _spec("Often", "*/10 * * * * *"), None)
    assert runner.use_monitor is False
