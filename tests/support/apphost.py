"""Run the real FaceGate app in the dev host on a free port, for end-to-end tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tools.dev.azurite import ROOT
from tools.dev.seed import BLOB_EVENTS


def wait_until(check: Callable[[], Any], what: str, timeout: float = 90.0) -> Any:
    """Poll ``check`` until it returns something truthy (a bound, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass
class AppHost:
    """One dev-host process serving function_app.app."""

    workdir: Path
    env: dict[str, str]
    extra_args: tuple[str, ...] = ()
    process: subprocess.Popen | None = None
    url: str = ""

    @property
    def log_path(self) -> Path:
        return self.workdir / "devhost.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> AppHost:
        state = self.workdir / "state"
        info = state / "devhost.json"
        info.unlink(missing_ok=True)
        args = [
            sys.executable, "-m", "tools.devhost", "--port", "0", "--settings", "",
            "--state", str(state), "--poll-interval", "0.3", "--retry-delay", "0.2",
            "--queue-poll-interval", "0.5", "--queue-lease-seconds", "10", *self.extra_args,
        ]  # fmt: skip
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

        def ready() -> str | None:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"the dev host exited early:\n{self.log()[-4000:]}")
            try:
                return json.loads(info.read_text())["url"]
            except (OSError, ValueError, KeyError):
                return None

        self.url = wait_until(ready, "the dev host to start").rstrip("/")
        wait_until(lambda: self._healthy(), "GET /api/health")
        return self

    def _healthy(self) -> bool:
        try:
            return requests.get(f"{self.url}/api/health", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """kill -9: the host gets no chance to finish anything."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def app_env(connection_string: str, **overrides: str) -> dict[str, str]:
    return {
        **os.environ,
        "FACEGATE_STORAGE": connection_string,
        "AzureWebJobsStorage": connection_string,
        "DEVHOST_BLOB_EVENTS": BLOB_EVENTS,
        "FACEGATE_REGISTRY_CACHE_SECONDS": "2",
        # tests that are not about rate limits must not meet one: they set their own per customer
        "FACEGATE_RATE_LIMIT": "100000/1",
        "FACEGATE_VERIFY_LIMIT": "100000/1",
        "PYTHONUNBUFFERED": "1",
        **overrides,
    }
