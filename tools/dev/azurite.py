"""Start and stop the Azurite storage emulator from node_modules.

Used by `make run` (default ports, data kept in .azurite/) and by the tests
(free loopback ports, in memory). Azurite 3.35 is pinned in package.json; it
needs --skipApiVersionCheck because the current SDKs speak newer API versions.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AZURITE_BIN = ROOT / "node_modules" / ".bin" / "azurite"
ACCOUNT = "devstoreaccount1"
# The emulator's well-known development key (public, documented by Microsoft).
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
DEFAULT_PORTS = (10000, 10001, 10002)


def free_ports(count: int) -> tuple[int, ...]:
    """Ports the OS says are free on 127.0.0.1 right now."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return tuple(s.getsockname()[1] for s in sockets)
    finally:
        for sock in sockets:
            sock.close()


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def stop_process_group(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM a child started with start_new_session=True (and its children); SIGKILL if it
    has not exited after ``timeout`` seconds."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


KEEP_ALIVE_SECONDS = 240


@dataclass
class Azurite:
    """One Azurite process serving blob, queue and table on three ports."""

    blob_port: int = DEFAULT_PORTS[0]
    queue_port: int = DEFAULT_PORTS[1]
    table_port: int = DEFAULT_PORTS[2]
    location: Path | None = None  # None: in memory
    log_path: Path | None = None
    process: subprocess.Popen | None = None

    @classmethod
    def on_free_ports(cls, location: Path | None = None) -> Azurite:
        blob, queue, table = free_ports(3)
        return cls(blob, queue, table, location)

    @property
    def ports(self) -> tuple[int, int, int]:
        return (self.blob_port, self.queue_port, self.table_port)

    @property
    def connection_string(self) -> str:
        base = "http://127.0.0.1"
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={base}:{self.blob_port}/{ACCOUNT};"
            f"QueueEndpoint={base}:{self.queue_port}/{ACCOUNT};"
            f"TableEndpoint={base}:{self.table_port}/{ACCOUNT};"
        )

    def command(self) -> list[str]:
        if not AZURITE_BIN.exists():
            raise FileNotFoundError(f"{AZURITE_BIN} is missing: run `npm ci` (make setup)")
        cmd = [
            str(AZURITE_BIN),
            "--silent",
            "--skipApiVersionCheck",
            "--loose",
            "--disableTelemetry",
            "--blobHost", "127.0.0.1", "--blobPort", str(self.blob_port),
            "--queueHost", "127.0.0.1", "--queuePort", str(self.queue_port),
            "--tableHost", "127.0.0.1", "--tablePort", str(self.table_port),
            # Azurite closes idle keep-alive connections after 5 s; a client reusing one as it
            # closes gets a connection reset, which the SDKs do not retry for a POST (an audit
            # row, an enrolment): a spurious 503. Azure keeps idle connections for minutes.
            "--blobKeepAliveTimeout", str(KEEP_ALIVE_SECONDS),
            "--queueKeepAliveTimeout", str(KEEP_ALIVE_SECONDS),
            "--tableKeepAliveTimeout", str(KEEP_ALIVE_SECONDS),
        ]  # fmt: skip
        if self.location is None:
            cmd.append("--inMemoryPersistence")
        else:
            self.location.mkdir(parents=True, exist_ok=True)
            cmd += ["--location", str(self.location)]
        return cmd

    def start(self, timeout: float = 20.0) -> Azurite:
        busy = [p for p in self.ports if port_open(p)]
        if busy:
            raise RuntimeError(f"ports {busy} are already in use; is another Azurite running?")
        command = self.command()
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() takes node's children too
        )
        if log is not subprocess.DEVNULL:
            log.close()  # the child keeps its own copy of the descriptor
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"azurite exited with {self.process.returncode}")
            if all(port_open(p) for p in self.ports):
                return self
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"azurite did not open {self.ports} within {timeout}s")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None:
            return
        stop_process_group(self.process, timeout)
        # wait until the ports are really free so a restart can bind them
        deadline = time.monotonic() + timeout
        while any(port_open(p) for p in self.ports) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.process = None

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def storage_of_this_process(connection_string: str) -> Iterator[None]:
    """Point this process's storage clients at ``connection_string`` while the block runs.

    Sets FACEGATE_STORAGE and the host's AzureWebJobsStorage, forgets cached clients,
    provisioning and registry lookups, provisions the account, and restores it all after.
    For tests, benchmarks and tools that run the app's code in-process.
    """
    from shared.policy import registry
    from shared.storage import clients, provision

    keys = ("FACEGATE_STORAGE", "AzureWebJobsStorage")
    saved = {key: os.environ.get(key) for key in keys}

    def use(values: dict[str, str | None]) -> None:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        clients.reset()
        provision.reset()
        registry.reset_caches()

    use(dict.fromkeys(keys, connection_string))
    try:
        provision.ensure_storage()
        yield
    finally:
        use(saved)
