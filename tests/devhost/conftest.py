"""Start the dev host as a real subprocess on a free port, against the session Azurite."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.core.exceptions import ResourceExistsError

from shared.storage import clients
from tests.support.apphost import wait_until
from tools.dev.azurite import ROOT

HERE = Path(__file__).parent
FUNCTION_KEY = "test-function-key"
MASTER_KEY = "test-master-key"
BODY_LIMIT = 1_000_000
CONTAINERS = (
    "devhost-in",
    "devhost-out",
    "devhost-records",
    "devhost-picky",
    "devhost-events",
    "devhost-batch",
    "devhost-slow",
)


def records(kind: str, name: str) -> list[str]:
    """Names of the record blobs the sample functions wrote for ``kind/name``."""
    container = clients.blob_service().get_container_client("devhost-records")
    return [b.name for b in container.list_blobs(name_starts_with=f"{kind}/{name}/")]


def record_details(kind: str, name: str) -> list[dict]:
    """The JSON the sample functions recorded for ``kind/name``, one dict per call."""
    container = clients.blob_service().get_container_client("devhost-records")
    return [
        json.loads(container.get_blob_client(blob).download_blob().readall())
        for blob in records(kind, name)
    ]


@dataclass
class RunningHost:
    process: subprocess.Popen
    url: str
    log_path: Path
    args: list[str] = field(default_factory=list)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def get(self, path: str, **kw: Any) -> requests.Response:
        return requests.get(self.url + path, timeout=30, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return requests.post(self.url + path, timeout=30, **kw)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
                raise
        return self.process.returncode

    def kill(self) -> None:
        """kill -9 the host (its own process group holds only the host)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@pytest.fixture(scope="session")
def devhost_containers(azurite) -> None:
    service = clients.blob_service()
    for name in CONTAINERS:
        with contextlib.suppress(ResourceExistsError):
            service.create_container(name)


@pytest.fixture(scope="session")
def start_devhost(
    azurite, devhost_containers, tmp_path_factory
) -> Iterator[Callable[..., RunningHost]]:
    """Factory: start a dev host subprocess; every host still running is stopped at the end."""
    started: list[RunningHost] = []

    def start(app: str, host_json: str = "host.json", *extra: str) -> RunningHost:
        workdir = tmp_path_factory.mktemp("devhost")
        state = workdir / "state"
        log_path = workdir / "devhost.log"
        env = {
            **os.environ,
            "DEVHOST_FUNCTION_KEY": FUNCTION_KEY,
            "DEVHOST_MASTER_KEY": MASTER_KEY,
            "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": str(BODY_LIMIT),
            "PYTHONUNBUFFERED": "1",
        }
        args = [
            sys.executable, "-m", "tools.devhost", "--port", "0", "--app", app,
            "--host-json", str(HERE / host_json), "--state", str(state),  # absolute stays
            "--poll-interval", "0.3", "--retry-delay", "0.1", "--queue-poll-interval", "0.3",
            "--settings", "", *extra,
        ]  # fmt: skip
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        info = state / "devhost.json"

        def ready() -> str | None:
            if process.poll() is not None:
                raise AssertionError(f"the dev host exited early:\n{log_path.read_text()}")
            if not info.exists():
                return None
            try:
                return json.loads(info.read_text())["url"]
            except ValueError:
                return None

        url = wait_until(ready, "the dev host to start")
        host = RunningHost(process, url, log_path, args)
        started.append(host)
        return host

    yield start
    for host in started:
        if host.process.poll() is None:
            host.kill()


@pytest.fixture(scope="module")
def sample_host(start_devhost) -> Iterator[RunningHost]:
    """The sample app; EventGrid-source triggers run from webhook events only, as in Azure.

    Queue messages are leased for 2 s (instead of the host's 10 minutes) so lease renewal
    is exercised by a function that runs longer than that.
    """
    host = start_devhost(
        "tests.devhost.sample_app:app",
        "host.json",
        "--no-eventgrid-polling",
        "--queue-lease-seconds",
        "2",
    )
    yield host
    assert host.stop() == 0
