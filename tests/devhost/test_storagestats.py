"""The dev host's storage request counter (DEVHOST_STORAGE_STATS, read by bench/)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from pathlib import Path

import pytest

from tools.devhost import storagestats
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


def test_counts_and_bytes_are_written_by_the_flusher(tmp_path: Path) -> None:
    stats = StorageStats(tmp_path / "stats.json", "devstoreaccount1")
    threading.Thread(target=stats.flush_forever, args=(0.01,), daemon=True).start()
    stats.add("GET", f"{AZURITE}/up-{H}/a.jpg", 0, 70_000)
    stats.add("GET", f"{AZURITE}/up-{H}/b.jpg", 0, 30_000)
    stats.add("PUT", f"{AZURITE}/rs-{H}/a.jpg.json", 3_000, 0)
    deadline = time.monotonic() + 10
    written: dict = {}
    while time.monotonic() < deadline:
        with contextlib.suppress(FileNotFoundError, ValueError):
            written = json.loads((tmp_path / "stats.json").read_text())
        if written.get("PUT result blob"):
            break
        time.sleep(0.02)
    assert written == {
        "GET upload blob": {"requests": 2, "sent": 0, "received": 100_000},
        "PUT result blob": {"requests": 1, "sent": 3_000, "received": 0},
    }


def test_nothing_is_patched_without_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from azure.core.pipeline.transport import RequestsTransport

    monkeypatch.delenv(storagestats.ENV, raising=False)
    send = RequestsTransport.send
    assert storagestats.install_from_env() is None
    assert RequestsTransport.send is send
