"""Storage the fault tests may break: Azurite whole or one service at a time.

The session's Azurite (tests/conftest.py) must keep running for every other test,
so a fault test starts its own, on free ports, with its data on disk (``location``)
so that it survives a stop and start. ``SplitAzurite`` runs blob, queue and table as
three processes, so one service can fail while the others keep working.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tools.dev.azurite import (
    ACCOUNT,
    ACCOUNT_KEY,
    ROOT,
    free_ports,
    port_open,
    stop_process_group,
)

BIN = ROOT / "node_modules" / ".bin"


def wait_persisted(
    location: Path, since: float, kinds: tuple[str, ...] = ("table",), timeout: float = 20
) -> None:
    """Wait until Azurite has saved the databases of ``kinds`` in ``location`` after
    ``since`` (a time.time()). It saves every 5 s, not on SIGTERM, so a stop right after
    a write would lose it (in Azure, stored data does not vanish with an outage)."""
    deadline = time.monotonic() + timeout
    databases = [location / f"__azurite_db_{kind}__.json" for kind in kinds]
    while time.monotonic() < deadline:
        if all(db.exists() and db.stat().st_mtime > since for db in databases):
            return
        time.sleep(0.2)
    raise TimeoutError(f"Azurite did not save its data in {location}")


@dataclass
class Service:
    """One Azurite service (azurite-blob, -queue or -table) in its own process."""

    kind: str
    port: int
    location: Path
    log_path: Path
    process: subprocess.Popen | None = None

    def start(self, timeout: float = 20) -> None:
        self.location.mkdir(parents=True, exist_ok=True)
        command = [
            str(BIN / f"azurite-{self.kind}"), "--silent", "--skipApiVersionCheck", "--loose",
            "--disableTelemetry", f"--{self.kind}Host", "127.0.0.1",
            f"--{self.kind}Port", str(self.port), "--location", str(self.location),
        ]  # fmt: skip
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"azurite-{self.kind} did not start; see {self.log_path}")
            time.sleep(0.05)

    def stop(self, timeout: float = 10) -> None:
        if self.process is None:
            return
        stop_process_group(self.process, timeout)  # SIGTERM first: it writes its data out
        deadline = time.monotonic() + timeout
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.process = None


@dataclass
class SplitAzurite:
    """Blob, queue and table as separate processes with their data in ``root``."""

    root: Path
    services: dict[str, Service] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for kind, port in zip(("blob", "queue", "table"), free_ports(3), strict=True):
            self.services[kind] = Service(
                kind, port, self.root / kind, self.root / f"azurite-{kind}.log"
            )

    @property
    def connection_string(self) -> str:
        base = "http://127.0.0.1"
        ports = {k: s.port for k, s in self.services.items()}
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={base}:{ports['blob']}/{ACCOUNT};"
            f"QueueEndpoint={base}:{ports['queue']}/{ACCOUNT};"
            f"TableEndpoint={base}:{ports['table']}/{ACCOUNT};"
        )

    def start(self) -> SplitAzurite:
        for service in self.services.values():
            service.start()
        return self

    def stop(self) -> None:
        for service in self.services.values():
            service.stop()
