"""The dev host's storage request counter (DEVHOST_STORAGE_STATS, read by bench/)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from tools.devhost import storagestats
from tools.devhost.host import DevHost
from tools.devhost.storagestats import StorageStats, kind_of

AZURITE = "http://127.0.0.1:10000/devstoreaccount1"
H = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        (f"{AZURITE}/up-{H}/photos/a.jpg", "upload blob"),
        (f"{AZURITE}/rs-{H}/photos/a.jpg.json", "result blob"),
        (f"{AZURITE}/up-{H}?restype=container&comp=list", "list blobs"),
        (f"{AZURITE}/up-{H}?restype=container", "customer container"),
        (f"{AZURITE}?comp=list&prefix=up-", "list containers"),
        (f"{AZURITE}/uploadevents/messages?numofmessages=1", "queue uploadevents"),
        (f"{AZURITE}/$batch", "table batch"),
        (f"{AZURITE}/customers(PartitionKey='c',RowKey='c')", "table customers"),
        (f"https://acct.blob.core.windows.net/up-{H}/a.jpg", "upload blob"),
    ],
)
def test_requests_are_labelled_by_what_they_touch(url: str, kind: str) -> None:
    assert kind_of(url, "devstoreaccount1") == kind


def _written_when(path: Path, done: Callable[[dict], bool]) -> dict:
    """The file's content once ``done`` holds for it (the flusher writes it soon)."""
    deadline = time.monotonic() + 10
    written: dict = {}
    while time.monotonic() < deadline:
        with contextlib.suppress(FileNotFoundError, ValueError):
            written = json.loads(path.read_text())
        if done(written):
            break
        time.sleep(0.02)
    return written


def test_counts_and_bytes_are_written_by_the_flusher(tmp_path: Path) -> None:
    stats = StorageStats(tmp_path / "stats.json", "devstoreaccount1")
    threading.Thread(target=stats.flush_forever, args=(0.01,), daemon=True).start()
    stats.add("GET", f"{AZURITE}/up-{H}/a.jpg", 0, 70_000)
    stats.add("GET", f"{AZURITE}/up-{H}/b.jpg", 0, 30_000)
    stats.add("PUT", f"{AZURITE}/rs-{H}/a.jpg.json", 3_000, 0)
    stats.add_invocation("process_upload", 0.050)
    stats.add_invocation("process_upload", 0.030)
    written = _written_when(
        tmp_path / "stats.json",
        lambda w: (
            w.get("functions", {}).get("process_upload", {}).get("invocations") == 2
            and "PUT result blob" in w.get("requests", {})
        ),
    )
    assert written["requests"] == {
        "GET upload blob": {"requests": 2, "sent": 0, "received": 100_000},
        "PUT result blob": {"requests": 1, "sent": 3_000, "received": 0},
    }
    row = written["functions"]["process_upload"]
    assert row["invocations"] == 2 and abs(row["cpu_ms"] - 80.0) < 1e-6


def test_the_host_counts_each_invocation_and_its_cpu_time(tmp_path: Path, monkeypatch) -> None:
    stats = StorageStats(tmp_path / "stats.json")
    monkeypatch.setattr(storagestats, "_installed", stats)

    def busy() -> None:  # CPU time of the invoking thread, not wall time
        end = time.thread_time() + 0.02
        while time.thread_time() < end:
            pass

    storagestats.invocation("process_upload", 0.0)
    host = DevHost.__new__(DevHost)  # only run() and its collaborators below are used
    host.invoker = SimpleNamespace(call=lambda spec, kwargs, invocation_id: busy())
    host.config = SimpleNamespace(function_timeout_seconds=None)
    ok, _ = host.run(SimpleNamespace(name="process_upload"), {}, "test")
    assert ok and stats.invocations["process_upload"] == 2
    assert stats.function_cpu["process_upload"] >= 0.02


def test_nothing_is_patched_without_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from azure.core.pipeline.transport import RequestsTransport

    monkeypatch.delenv(storagestats.ENV, raising=False)
    send = RequestsTransport.send
    assert storagestats.install_from_env() is None
    assert RequestsTransport.send is send
