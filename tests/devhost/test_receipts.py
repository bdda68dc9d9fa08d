"""Receipts survive a kill -9: every blob version runs exactly once across restarts."""

from __future__ import annotations

from shared.storage import clients
from tests.devhost.conftest import wait_until

ITEMS = [f"item-{i:02d}.txt" for i in range(10)] + ["item-05-hang.txt"]


def _batch_records(name: str) -> list[str]:
    """Record blobs ``batch/{name}@{etag}/{uuid}``: one per completed call."""
    container = clients.blob_service().get_container_client("devhost-records")
    return [b.name for b in container.list_blobs(name_starts_with=f"batch/{name}@")]


def _etag(value: str) -> str:
    return value.strip('"')


def test_kill_mid_batch_restart_and_reupload(start_devhost):
    service = clients.blob_service()
    etags = {
        name: service.get_blob_client("devhost-batch", name).upload_blob(name.encode())["etag"]
        for name in ITEMS
    }
    app = "tests.devhost.batch_app:app"
    first = start_devhost(app, "host-serial.json")  # one blob at a time: a known kill point
    marker = service.get_blob_client("devhost-records", "markers/item-05-hang.txt")
    wait_until(marker.exists, "the hanging call to start")
    first.kill()
    done_before = [n for n in ITEMS if _batch_records(n)]
    assert "item-05-hang.txt" not in done_before
    assert len(done_before) < len(ITEMS)

    second = start_devhost(app, "host-serial.json")
    # the hanging blob's receipt lease must expire first (15 s), so allow for it
    wait_until(lambda: all(_batch_records(n) for n in ITEMS), "every blob to be processed", 120)
    for name in ITEMS:
        (only,) = _batch_records(name)  # exactly once, across the kill and the restart
        assert only.startswith(f"batch/{name}@{_etag(etags[name])}/")

    new_etag = service.get_blob_client("devhost-batch", "item-03.txt").upload_blob(
        b"v2", overwrite=True
    )["etag"]
    wait_until(lambda: len(_batch_records("item-03.txt")) == 2, "the new version to run")
    assert any(
        r.startswith(f"batch/item-03.txt@{_etag(new_etag)}/") for r in _batch_records("item-03.txt")
    )
    assert second.stop() == 0
