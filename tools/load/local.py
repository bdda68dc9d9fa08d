"""A private FaceGate stack for a load run: Azurite on free ports and the dev host.

Nothing is shared with `make run` (own ports, in-memory storage, own state folder),
so a load run never touches a developer's data. Customers are seeded in this
process through the registry, exactly as the admin CLI does.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tools.dev.azurite import ROOT, Azurite
from tools.dev.seed import BLOB_EVENTS

ALL_ACTIONS = ("detect", "age", "gender", "emotion", "verify", "identify", "enroll")


@dataclass
class Stack:
    url: str
    keys: dict[str, str]  # role -> key: "ok", "police", "quiet", "unlimited", "noisy"
    customers: dict[str, str]  # role -> customer id
    log_path: Path
    work: Path  # Azurite and dev host logs and state; removed by the caller on success


def _wait_for(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the dev host exited with {process.returncode}")
        try:
            health = f"{url}/api/health"  # http on loopback, built here
            with urllib.request.urlopen(health, timeout=5) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError("the dev host did not become healthy")


def _seed(run: str) -> tuple[dict[str, str], dict[str, str]]:
    from tools.dev.seed import seed_customer

    # the mixed run measures robustness, not rate limits: its customers get room to spare
    room = {"rate_limit": "100000/1", "verify_limit": "100000/1"}
    ok = seed_customer(f"load-{run}", actions=ALL_ACTIONS, purposes=("load-test",), **room)
    police = seed_customer(
        f"load-pd-{run}", sector="law_enforcement", country="US", actions=ALL_ACTIONS, **room
    )
    # the noisy-neighbour run: a quiet customer, and the same flood from a customer without a
    # limit worth the name and from one held to 1 request per 5 seconds
    quiet = seed_customer(f"load-quiet-{run}", actions=ALL_ACTIONS, **room)
    unlimited = seed_customer(f"load-flood-{run}", actions=ALL_ACTIONS, **room)
    noisy = seed_customer(f"load-noisy-{run}", actions=ALL_ACTIONS, rate_limit="1/5")
    seeded = {
        "ok": ok, "police": police, "quiet": quiet, "unlimited": unlimited, "noisy": noisy,
    }  # fmt: skip
    return (
        {role: s["key"] for role, s in seeded.items()},
        {role: s["customerId"] for role, s in seeded.items()},
    )


@contextlib.contextmanager
def local_stack() -> Iterator[Stack]:
    """Start Azurite and the dev host, seed two customers; stop both afterwards."""
    work = Path(tempfile.mkdtemp(prefix="facegate-load-"))
    azurite = Azurite.on_free_ports()
    azurite.log_path = work / "azurite.log"
    azurite.start()
    process: subprocess.Popen | None = None
    try:
        os.environ["FACEGATE_STORAGE"] = azurite.connection_string
        os.environ["AzureWebJobsStorage"] = azurite.connection_string
        keys, customers = _seed(str(int(time.time())))
        env = {
            **os.environ,
            "DEVHOST_BLOB_EVENTS": BLOB_EVENTS,
            "PYTHONUNBUFFERED": "1",
        }
        state = work / "state"
        log_path = work / "devhost.log"
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "tools.devhost", "--port", "0", "--settings", "",
                 "--state", str(state)],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        info = state / "devhost.json"
        deadline = time.monotonic() + 120
        while not info.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the dev host did not start; see {log_path}")
            time.sleep(0.1)
        url = json.loads(info.read_text())["url"].rstrip("/")
        _wait_for(url, process)
        yield Stack(url, keys, customers, log_path, work)
    finally:
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        azurite.stop()
